"""Nodes service settings (HW_* environment variables)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from services.common.config import BaseServiceSettings


class NodeKind(BaseModel, frozen=True):
    """One kind of node: what it costs, how long it takes and what it gives."""

    cost: int = Field(gt=0)
    build_seconds: int = Field(ge=0)
    hp: int = Field(gt=0)
    income: int = Field(ge=0)


DEFAULT_KINDS = {
    "relay": NodeKind(cost=150, build_seconds=10, hp=100, income=2),
    "proxy": NodeKind(cost=300, build_seconds=30, hp=150, income=5),
    "miner": NodeKind(cost=500, build_seconds=60, hp=80, income=12),
}


class NodesSettings(BaseServiceSettings):
    player_address: str = "127.0.0.1:50051"
    # JSON, e.g. {"relay": {"cost": 150, "build_seconds": 10, "hp": 100, "income": 2}}
    node_kinds: dict[str, NodeKind] = Field(default_factory=lambda: dict(DEFAULT_KINDS))
    starter_kinds: list[str] = Field(
        default_factory=lambda: ["relay", "relay", "proxy"]
    )
    max_builds_in_progress: int = Field(default=3, ge=1)
    # Seconds a cached dashboard page may live in Redis; writes drop it at once.
    dashboard_cache_seconds: int = 300
    # Seconds before an unconfirmed build payment is retried by the scheduler.
    payment_retry_seconds: float = 15.0
