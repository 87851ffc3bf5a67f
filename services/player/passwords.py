"""Password hashing with argon2id, off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from services.player.errors import PasswordHashingBusy

T = TypeVar("T")

# OWASP's floor for argon2id; settings may raise the cost, never lower it.
MIN_MEMORY_KIB = 19_456
MIN_TIME_COST = 2


class Passwords:
    """Hashes and checks passwords in worker threads, a bounded number at once.

    `max_pending` caps the hashes running or waiting for a thread: one more is
    refused with `PasswordHashingBusy` at once, so a burst of logins cannot
    queue work (and memory) without end, nor keep threads hashing for callers
    whose deadlines have long passed.
    """

    def __init__(
        self, memory_kib: int, time_cost: int, parallelism: int, max_pending: int = 32
    ) -> None:
        if memory_kib < MIN_MEMORY_KIB or time_cost < MIN_TIME_COST:
            raise ValueError("argon2 cost is below OWASP's minimum (19 MiB, t=2)")
        self._hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=Type.ID,
        )
        # Verified against when the username is unknown, so that a miss costs
        # as much time as a wrong password.
        self._decoy = self._hasher.hash("decoy password, never matches")
        self.max_pending = max_pending
        self._pending = 0

    async def hash(self, password: str) -> str:
        return await self._in_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        target = password_hash or self._decoy
        try:
            await self._in_thread(self._hasher.verify, target, password)
        except (VerificationError, InvalidHashError):
            return False
        return password_hash is not None

    async def _in_thread(self, work: Callable[..., T], *args: Any) -> T:
        if self._pending >= self.max_pending:
            raise PasswordHashingBusy(
                "too many sign-ups and logins at once; try again in a moment"
            )
        self._pending += 1
        try:
            return await asyncio.to_thread(work, *args)
        finally:
            self._pending -= 1
