"""What the player service hands around: plain, immutable records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class Player:
    id: UUID
    username: str
    credits: int
    heat: int
    created_at: datetime


@dataclass(frozen=True)
class Account:
    """A player with the password hash, for the login check only."""

    player: Player
    password_hash: str


@dataclass(frozen=True)
class Session:
    token: str
    expires_at: datetime
    player: Player


@dataclass(frozen=True)
class SessionOwner:
    player_id: UUID
    expires_at: datetime


@dataclass(frozen=True)
class Spend:
    player_id: UUID
    amount: int
    balance_after: int
    replayed: bool


@dataclass(frozen=True)
class HeatDecay:
    windows_applied: int
    players_cooled: int


@dataclass(frozen=True)
class GrantDelivery:
    delivered: int
    failed: int
    next_due_at: datetime | None
