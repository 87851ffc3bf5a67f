"""With Redis gone the dashboard is slower, never wrong, and refills on return."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from hiddenwars.nodes.v1 import nodes_pb2 as pb
from scripts.localservers import redis_server_command
from tests.integration.conftest import Stack, open_stack
from tests.servers import free_port


class ThrowawayRedis:
    """A redis-server of the test's own, which the test may stop and restart."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            redis_server_command(self.port), stdout=subprocess.DEVNULL
        )

    async def wait_ready(self) -> None:
        client = aioredis.Redis.from_url(self.url)
        try:
            async with asyncio.timeout(10):
                while True:
                    try:
                        await client.ping()
                        return
                    except (OSError, aioredis.ConnectionError):
                        await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@pytest.fixture
def throwaway_redis() -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def outage_stack(
    fresh_database, throwaway_redis: ThrowawayRedis
) -> AsyncIterator[Stack]:
    await throwaway_redis.wait_ready()
    opened = await open_stack(
        fresh_database, "hwt:outage:", redis_url=throwaway_redis.url
    )
    yield opened
    await opened.close()


async def dashboard_keys(url: str) -> list[bytes]:
    client = aioredis.Redis.from_url(url)
    try:
        return [key async for key in client.scan_iter(match="hwt:outage:nodes:*")]
    finally:
        await client.aclose()


async def test_the_dashboard_stays_correct_while_redis_is_down_and_refills_after(
    outage_stack: Stack, throwaway_redis: ThrowawayRedis, caplog
):
    stack = outage_stack
    player_id = str(uuid.uuid4())

    async def total() -> int:
        reply = await stack.nodes.ListNodes(pb.ListNodesRequest(player_id=player_id))
        return reply.total_nodes

    assert await total() == 0
    assert await dashboard_keys(throwaway_redis.url) != []

    throwaway_redis.stop()
    with caplog.at_level(logging.INFO, logger="services.common.cache"):
        totals_during = [await total() for _ in range(20)]
        await stack.nodes.GrantStarterNodes(
            pb.GrantStarterNodesRequest(player_id=player_id, idempotency_key="o:1")
        )
        totals_after_write = [await total() for _ in range(20)]

        throwaway_redis.start()
        await throwaway_redis.wait_ready()
        await asyncio.sleep(1.2)  # past the guard's probe interval
        assert await total() == 3
        refilled = await dashboard_keys(throwaway_redis.url)

    assert totals_during == [0] * 20
    assert totals_after_write == [3] * 20
    messages = [record.getMessage() for record in caplog.records]
    assert messages.count("redis unavailable; serving from PostgreSQL") == 1
    assert messages.count("redis available again") == 1
    assert refilled != []
