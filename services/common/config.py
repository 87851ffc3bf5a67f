"""Settings shared by every process, read once from the environment."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(Exception):
    """Raised at start-up when an environment variable is missing or malformed."""


class BaseServiceSettings(BaseSettings):
    """What every gRPC service reads: where it listens and what it talks to."""

    model_config = SettingsConfigDict(env_prefix="HW_", frozen=True, extra="ignore")

    grpc_host: str = "127.0.0.1"
    grpc_port: int = 0
    database_url: str
    db_pool_min: int = 1
    db_pool_max: int = 10
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Every Redis key this process writes starts with this prefix.
    redis_prefix: str = "hw:"
    # Seconds in-flight calls get to finish after SIGTERM.
    shutdown_grace: float = 10.0
    # Deadline in seconds for calls this service makes to another service.
    rpc_timeout: float = 3.0
    log_level: str = "INFO"


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load_settings(cls: type[SettingsT], **overrides: Any) -> SettingsT:
    """Build settings from the environment, naming the variable that is wrong."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix", ""))
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            problems.append(f"{prefix}{field.upper()}: {error['msg']}")
        raise ConfigError("bad environment: " + "; ".join(problems)) from None
