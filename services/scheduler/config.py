"""Scheduler settings (HW_* environment variables)."""

from __future__ import annotations

from pydantic import Field

from services.common.config import BaseServiceSettings


class SchedulerSettings(BaseServiceSettings):
    player_address: str = "127.0.0.1:50051"
    nodes_address: str = "127.0.0.1:50052"
    # Longest sleep between two looks at a queue, in seconds.
    poll_interval: float = Field(default=5.0, gt=0)
    # How long a queue's Redis lock lives unless renewed, in seconds.
    lock_ttl: float = Field(default=15.0, gt=0)
    build_batch_size: int = Field(default=100, ge=1, le=500)
    # Length of one heat-decay window, in seconds.
    heat_window_seconds: int = Field(default=3600, ge=1)
