"""Gateway settings (HW_* environment variables), read once at start-up."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

BackendName = Literal["player", "nodes", "hacks"]


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HW_", frozen=True, extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = 8080
    player_address: str = "127.0.0.1:50051"
    nodes_address: str = "127.0.0.1:50052"
    hacks_address: str = "127.0.0.1:50053"
    # Deadline in seconds of every call to a service, unless the call sets its own.
    backend_timeout: float = 2.0
    # The backends /v1/healthz asks; any of them not serving makes it answer 503.
    # From the environment as JSON: HW_REQUIRED_BACKENDS='["player"]'.
    required_backends: tuple[BackendName, ...] = ("player", "nodes")
    # Deadline in seconds of one health check; the checks run side by side.
    health_timeout: float = 1.0
    max_body_bytes: int = 16_384
    # Owners of session tokens remembered per process so that reads start
    # alongside the token's check (see gateway/auth.py); the oldest go first.
    known_sessions: int = Field(default=50_000, ge=0)
    # Seconds open requests get to finish after SIGTERM.
    shutdown_grace: int = 10
    log_level: str = "INFO"

    def address_of(self, backend: BackendName) -> str:
        addresses: dict[BackendName, str] = {
            "player": self.player_address,
            "nodes": self.nodes_address,
            "hacks": self.hacks_address,
        }
        return addresses[backend]
