"""What the nodes service hands around: plain, immutable records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class Node:
    id: UUID
    kind: str
    level: int
    hp: int
    max_hp: int
    state: str
    income: int
    created_at: datetime


@dataclass(frozen=True)
class NodePage:
    nodes: list[Node]
    next_cursor: tuple[datetime, UUID] | None
    total: int


@dataclass(frozen=True)
class Build:
    id: UUID
    player_id: UUID
    kind: str
    state: str
    upgrade_node_id: UUID | None
    cost: int
    build_seconds: int
    ordered_at: datetime
    finishes_at: datetime | None
    node_id: UUID | None
    payment_attempts: int


@dataclass(frozen=True)
class Completion:
    """One build completed by `complete_due_builds`."""

    build_id: UUID
    player_id: UUID
    lateness_ms: int


@dataclass(frozen=True)
class CompletionBatch:
    completions: list[Completion]
    next_due_at: datetime | None


@dataclass(frozen=True)
class PaymentBatch:
    settled: int
    cancelled: int
    failed: int
    next_due_at: datetime | None
