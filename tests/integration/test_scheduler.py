"""The scheduler drains due builds on time and ticks heat decay once per window."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, cast

import redis.asyncio as aioredis

from hiddenwars.nodes.v1 import nodes_pb2 as pb
from hiddenwars.scheduler.v1 import scheduler_pb2, scheduler_pb2_grpc
from services.common.clients import open_channel
from services.scheduler.service import Scheduler
from tests.fixtures_db import REDIS_URL, query
from tests.integration.conftest import Stack
from tests.servers import start_scheduler


async def wait_for_completed(stack: Stack, count: int, seconds: float) -> float:
    started = time.monotonic()
    async with asyncio.timeout(seconds):
        while True:
            rows = await query(
                stack.database,
                "SELECT count(*) AS n FROM nodes.builds WHERE state = 'completed'",
            )
            if rows[0]["n"] >= count:
                return time.monotonic() - started
            await asyncio.sleep(0.05)


async def test_a_build_is_completed_on_time_woken_early_despite_a_long_poll(
    fresh_stack: Stack,
):
    scheduler = await start_scheduler(
        fresh_stack.scheduler_settings(poll_interval=30.0)
    )
    try:
        await asyncio.sleep(0.3)  # the scheduler has looked once and gone to sleep
        player = await fresh_stack.register("timely")
        build = await fresh_stack.nodes.OrderBuild(
            pb.OrderBuildRequest(player_id=player.id, kind="blink", idempotency_key="b")
        )

        waited = await wait_for_completed(fresh_stack, 1, seconds=10)
        page = await fresh_stack.nodes.ListNodes(
            pb.ListNodesRequest(player_id=player.id)
        )
        rows = await query(
            fresh_stack.database,
            "SELECT lateness_ms FROM nodes.builds WHERE id = $1::uuid",
            build.build.id,
        )
        channel = open_channel(scheduler.server.address, timeout=2)
        status = await scheduler_pb2_grpc.SchedulerServiceStub(channel).GetQueueStatus(
            scheduler_pb2.GetQueueStatusRequest()
        )
        await channel.close()
    finally:
        await scheduler.stop(0)

    assert waited < 5  # a 30 s poll could not have done it
    assert page.total_nodes == 4
    assert 0 <= rows[0]["lateness_ms"] < 2000
    builds = next(queue for queue in status.queues if queue.queue == "builds")
    assert builds.completed == 1


async def test_heat_decays_once_per_elapsed_window(
    fresh_stack: Stack,
):
    player = await fresh_stack.register("smoking")
    await query(
        fresh_stack.database,
        "UPDATE player.players SET heat = 100 WHERE id = $1::uuid",
        player.id,
    )
    scheduler = await start_scheduler(fresh_stack.scheduler_settings())
    try:
        await asyncio.sleep(3.2)
    finally:
        await scheduler.stop(0)

    windows = await query(
        fresh_stack.database,
        "SELECT window_number FROM player.ticker_windows ORDER BY window_number",
    )
    numbers = [row["window_number"] for row in windows]
    heat = await query(
        fresh_stack.database,
        "SELECT heat FROM player.players WHERE id = $1::uuid",
        player.id,
    )
    assert 3 <= len(numbers) <= 5
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert heat[0]["heat"] == 100 - len(numbers)


class CountingDrainer:
    """Stands in for a queue's drainer: counts the wake-ups it is given."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.wakes = 0
        self.woken = asyncio.Event()

    def wake(self) -> None:
        self.wakes += 1
        self.woken.set()


async def test_queues_are_looked_at_again_once_the_wakeup_subscription_is_confirmed(
    redis_prefix: str,
):
    # Wake-ups published before the scheduler subscribed are lost by Redis;
    # the look after the confirmation is what finds the work they announced.
    drainer = CountingDrainer("builds")
    client = aioredis.Redis.from_url(REDIS_URL)
    prefix = f"{redis_prefix}wake-test:"
    scheduler = Scheduler([cast(Any, drainer)], [], client, prefix)
    listener = asyncio.create_task(scheduler.listen_for_wakeups())
    try:
        await asyncio.wait_for(drainer.woken.wait(), timeout=5.0)
        assert drainer.wakes == 1  # nothing was published: the subscription did it
        drainer.woken.clear()

        await client.publish(f"{prefix}builds", "due sooner")
        await client.publish(f"{prefix}other-queue", "not ours")
        await asyncio.wait_for(drainer.woken.wait(), timeout=5.0)
        await asyncio.sleep(0.1)
        assert drainer.wakes == 2
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        await client.aclose()
