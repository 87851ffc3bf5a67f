"""The drain loop's timing rules, with Redis out of reach (locks skipped)."""

from __future__ import annotations

import asyncio
import time

from services.common.cache import RedisGuard, create_redis
from services.scheduler.locks import QueueLocks
from services.scheduler.queues import QueueDrainer, StepResult
from tests.servers import free_port


def unreachable_locks() -> QueueLocks:
    """Locks over a Redis nobody listens on: every acquire goes ahead unlocked."""
    client = create_redis(f"redis://127.0.0.1:{free_port()}/0")
    return QueueLocks(RedisGuard(client), "hwt:unit:", ttl_seconds=5)


async def run_until(drainer: QueueDrainer, done: asyncio.Event, seconds: float) -> None:
    task = asyncio.create_task(drainer.run())
    try:
        async with asyncio.timeout(seconds):
            await done.wait()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_wake_up_during_a_drain_is_not_lost():
    calls: list[float] = []
    second_call = asyncio.Event()
    drainer: QueueDrainer

    async def step(limit: int) -> StepResult:
        calls.append(time.monotonic())
        if len(calls) == 1:
            drainer.wake()  # an order arrives while this batch is running
        else:
            second_call.set()
        return StepResult(processed=0, next_due_at=None)

    drainer = QueueDrainer(
        "builds", step, unreachable_locks(), batch_size=10, poll_interval=30.0
    )
    await run_until(drainer, second_call, seconds=5)

    assert calls[1] - calls[0] < 1.0


async def test_full_batches_are_drained_back_to_back():
    sizes = [10, 10, 3]
    calls: list[int] = []
    finished = asyncio.Event()

    async def step(limit: int) -> StepResult:
        calls.append(limit)
        processed = sizes.pop(0) if sizes else 0
        if not sizes:
            finished.set()
        return StepResult(processed=processed, next_due_at=None, lateness_ms=[5])

    drainer = QueueDrainer(
        "builds", step, unreachable_locks(), batch_size=10, poll_interval=30.0
    )
    await run_until(drainer, finished, seconds=5)

    assert calls == [10, 10, 10]
    assert drainer.stats.processed == 23
    assert drainer.stats.summary() == (5.0, 5.0)


async def test_the_sleep_ends_when_the_next_item_is_due():
    calls: list[float] = []
    second_call = asyncio.Event()

    async def step(limit: int) -> StepResult:
        calls.append(time.monotonic())
        if len(calls) == 2:
            second_call.set()
        return StepResult(processed=0, next_due_at=time.time() + 0.3)

    drainer = QueueDrainer(
        "builds", step, unreachable_locks(), batch_size=10, poll_interval=30.0
    )
    await run_until(drainer, second_call, seconds=5)

    assert 0.25 <= calls[1] - calls[0] < 2.0
