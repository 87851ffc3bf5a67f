"""Periodic tickers: one call per window to a service that records the window.

The service makes a window apply once whatever this side does (a unique row
per window in its own transaction); the Redis lock only spares the other
replicas the call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from services.common.errors import ServiceError
from services.scheduler.locks import QueueLocks

logger = logging.getLogger(__name__)


class WindowTicker:
    def __init__(
        self,
        name: str,
        apply: Callable[[int], Awaitable[int]],
        locks: QueueLocks,
        *,
        window_seconds: int,
        retry_seconds: float,
    ) -> None:
        self.name = name
        self.apply = apply
        self.locks = locks
        self.window_seconds = window_seconds
        self.retry_seconds = retry_seconds
        self.last_applied = -1

    def closed_window(self, now: float) -> int:
        """The newest window that has ended by `now`."""
        return int(now // self.window_seconds) - 1

    async def run(self) -> None:
        while True:
            window = self.closed_window(time.time())
            if window > self.last_applied and not await self.tick(window):
                await asyncio.sleep(self.retry_seconds)
                continue
            next_boundary = (window + 2) * self.window_seconds
            await asyncio.sleep(max(0.0, next_boundary - time.time()) + 0.01)

    async def tick(self, window: int) -> bool:
        """Apply `window` (and any missed before it); False to try again soon."""
        lease = await self.locks.acquire(f"ticker:{self.name}")
        if lease is None:
            return False
        try:
            applied = await self.apply(window)
        except ServiceError as exc:
            logger.warning(
                "ticker failed", extra={"ticker": self.name, "error": exc.message}
            )
            return False
        finally:
            await lease.release()
        self.last_applied = window
        if applied:
            logger.info(
                "ticker applied",
                extra={"ticker": self.name, "window": window, "windows": applied},
            )
        return True
