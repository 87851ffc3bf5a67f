"""Draining one due-work queue: claim the lock, call the service until nothing
is due, sleep until the next item is due (or a wake-up comes), repeat."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from services.common.errors import ServiceError
from services.scheduler.locks import QueueLocks

logger = logging.getLogger(__name__)

# How many recent lateness figures a queue keeps for its summary.
LATENESS_WINDOW = 1000


@dataclass(frozen=True)
class StepResult:
    """What one call to a domain service did."""

    processed: int
    next_due_at: float | None  # Unix seconds; None when nothing is queued
    lateness_ms: Sequence[int] = ()


Step = Callable[[int], Awaitable[StepResult]]


@dataclass
class QueueStats:
    processed: int = 0
    lock_held: bool = False
    next_due_at: float | None = None

    def __post_init__(self) -> None:
        self.lateness_ms: deque[int] = deque(maxlen=LATENESS_WINDOW)

    def summary(self) -> tuple[float, float]:
        """Median and maximum lateness of the recent completions, in ms."""
        if not self.lateness_ms:
            return 0.0, 0.0
        return float(statistics.median(self.lateness_ms)), float(max(self.lateness_ms))


class QueueDrainer:
    def __init__(
        self,
        name: str,
        step: Step,
        locks: QueueLocks,
        *,
        batch_size: int,
        poll_interval: float,
    ) -> None:
        self.name = name
        self.step = step
        self.locks = locks
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.stats = QueueStats()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look at the queue now: something sooner than planned was queued."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            # Cleared before the drain, not after: a wake-up that arrives while
            # draining must cut the following sleep short, not be lost.
            self._wake.clear()
            try:
                next_due = await self.drain()
            except ServiceError as exc:
                logger.warning(
                    "queue step failed",
                    extra={"queue": self.name, "error": exc.message},
                )
                next_due = None
            await self._sleep_until(next_due)

    async def drain(self) -> float | None:
        """Drain while holding the queue's lock; returns when the next item is due.

        Without the lock (another replica drains) it returns None, so this
        replica looks again after the poll interval and takes over if the
        holder died or stalled past the lock's TTL.
        """
        lease = await self.locks.acquire(self.name)
        if lease is None:
            return None
        self.stats.lock_held = True
        completed = 0
        lateness: list[int] = []
        try:
            while True:
                result = await self.step(self.batch_size)
                completed += result.processed
                lateness.extend(result.lateness_ms)
                self.stats.next_due_at = result.next_due_at
                if result.processed < self.batch_size or not await lease.renew():
                    break
        finally:
            self.stats.lock_held = False
            await lease.release()
            self._record(completed, lateness)
        return self.stats.next_due_at

    def _record(self, completed: int, lateness: list[int]) -> None:
        if not completed:
            return
        self.stats.processed += completed
        self.stats.lateness_ms.extend(lateness)
        extra: dict[str, object] = {"queue": self.name, "completed": completed}
        if lateness:
            extra["lateness_p50_ms"] = statistics.median(lateness)
            extra["lateness_max_ms"] = max(lateness)
        logger.info("queue drained", extra=extra)

    async def _sleep_until(self, due_at: float | None) -> None:
        delay = self.poll_interval
        if due_at is not None:
            delay = min(max(0.0, due_at - time.time()), self.poll_interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)
