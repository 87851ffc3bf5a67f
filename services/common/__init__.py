"""Runtime pieces every service shares: settings, PostgreSQL, Redis, telemetry, gRPC.

Nothing here knows about a game rule; a service imports from here, never from
another service.
"""
