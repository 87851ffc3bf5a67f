"""The scheduler's loops: one drainer per queue, the tickers, the wake-ups."""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.scheduler.queues import QueueDrainer
from services.scheduler.tickers import WindowTicker

logger = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        drainers: list[QueueDrainer],
        tickers: list[WindowTicker],
        wake_client: aioredis.Redis,
        wake_prefix: str,
    ) -> None:
        self.drainers = {drainer.name: drainer for drainer in drainers}
        self.tickers = tickers
        self.wake_client = wake_client
        self.wake_prefix = wake_prefix

    def start(self) -> list[asyncio.Task[None]]:
        tasks = [
            asyncio.create_task(drainer.run()) for drainer in self.drainers.values()
        ]
        tasks += [asyncio.create_task(ticker.run()) for ticker in self.tickers]
        tasks.append(asyncio.create_task(self.listen_for_wakeups()))
        return tasks

    async def listen_for_wakeups(self) -> None:
        """Wake a queue's drainer when a service announces sooner work.

        Wake-ups are a shortcut: without Redis, the poll interval bounds how
        late work is noticed, so this loop only reconnects quietly.

        Redis keeps no message for a subscriber that is not there yet, so
        every queue is looked at again once Redis has confirmed the
        subscription (at start-up and after each reconnect): work ordered
        before that moment is found by the look, work ordered after it
        announces itself.
        """
        channels = [f"{self.wake_prefix}{name}" for name in self.drainers]
        while True:
            try:
                async with self.wake_client.pubsub() as pubsub:
                    await pubsub.subscribe(*channels)
                    confirmed = 0
                    while True:
                        message = await pubsub.get_message(timeout=1.0)
                        if message is None:
                            continue
                        if message["type"] == "subscribe":
                            confirmed += 1
                            if confirmed == len(channels):
                                self._wake_all()
                        elif message["type"] == "message":
                            self._wake(message["channel"].decode())
            except (RedisError, OSError):
                await asyncio.sleep(1.0)

    def _wake(self, channel: str) -> None:
        drainer = self.drainers.get(channel.removeprefix(self.wake_prefix))
        if drainer is not None:
            drainer.wake()

    def _wake_all(self) -> None:
        for drainer in self.drainers.values():
            drainer.wake()
