"""The player service: accounts, sessions, credits and heat."""
