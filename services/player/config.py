"""Player service settings (HW_* environment variables)."""

from __future__ import annotations

from pydantic import Field

from services.common.config import BaseServiceSettings


class PlayerSettings(BaseServiceSettings):
    starting_credits: int = 1000
    session_ttl_seconds: int = 7 * 24 * 3600
    # Live sessions a player may hold; a login past it ends the oldest.
    max_sessions_per_player: int = Field(default=10, ge=1)
    # Seconds a cached token lookup may live in Redis (logout drops it at once).
    session_cache_seconds: int = 300
    login_failures_per_user_per_minute: int = 5
    login_failures_per_address_per_minute: int = 30
    registrations_per_address_per_minute: int = 5
    heat_decay_amount: int = 1
    # Where the nodes service listens, for the starter-node grant.
    nodes_address: str = "127.0.0.1:50052"
    # Argon2id cost; the defaults are OWASP's minimum (19 MiB, 2 passes, 1 lane).
    argon2_memory_kib: int = 19_456
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1
    # Hashes running or waiting for a thread; past this a register or login
    # is refused at once (UNAVAILABLE) rather than queued behind the others.
    max_pending_hashes: int = 32
