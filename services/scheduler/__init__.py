"""The scheduler: drains the domain services' due-work queues and runs tickers."""
