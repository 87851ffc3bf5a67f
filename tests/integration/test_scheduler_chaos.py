"""Three scheduler processes, one killed and one paused: still exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import pytest

from hiddenwars.nodes.v1 import nodes_pb2 as pb
from tests.fixtures_db import REDIS_URL, query
from tests.integration.conftest import Stack

LOCK_TTL = 1.5


async def spawn_scheduler(
    stack: Stack, redis_prefix: str
) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "HW_DATABASE_URL": stack.database.url("scheduler"),
        "HW_REDIS_URL": REDIS_URL,
        "HW_REDIS_PREFIX": redis_prefix,
        "HW_GRPC_PORT": "0",
        "HW_PLAYER_ADDRESS": stack.player_process.server.address,
        "HW_NODES_ADDRESS": stack.nodes_process.server.address,
        "HW_POLL_INTERVAL": "0.3",
        "HW_LOCK_TTL": str(LOCK_TTL),
        "HW_HEAT_WINDOW_SECONDS": "1",
        "HW_BUILD_BATCH_SIZE": "5",
        "HW_SHUTDOWN_GRACE": "1",
        "HW_LOG_LEVEL": "WARNING",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.scheduler",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


@pytest.mark.slow
async def test_builds_and_windows_apply_exactly_once_through_kill_and_pause(
    fresh_stack: Stack,
):
    stack = fresh_stack
    prefix = f"{fresh_stack.redis_prefix}chaos:"
    players = [await stack.register(f"chaos{n}") for n in range(12)]
    await query(stack.database, "UPDATE player.players SET heat = 1000")
    schedulers = [await spawn_scheduler(stack, prefix) for _ in range(3)]
    killed, paused, _steady = schedulers
    started = time.time()
    try:
        kinds = ["instant", "blink", "flash"]
        for wave in range(3):
            for player in players:
                await stack.nodes.OrderBuild(
                    pb.OrderBuildRequest(
                        player_id=player.id,
                        kind=kinds[wave],
                        idempotency_key=f"w{wave}",
                    )
                )
            if wave == 0:
                await asyncio.sleep(1.0)
                killed.send_signal(signal.SIGKILL)
            elif wave == 1:
                await asyncio.sleep(0.5)
                paused.send_signal(signal.SIGSTOP)
        await asyncio.sleep(LOCK_TTL * 2)
        paused.send_signal(signal.SIGCONT)

        async with asyncio.timeout(20):
            while True:
                open_builds = await query(
                    stack.database,
                    "SELECT count(*) AS n FROM nodes.builds WHERE state <> 'completed'",
                )
                if open_builds[0]["n"] == 0:
                    break
                await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # let at least one more window close and apply
    finally:
        for process in schedulers:
            if process.returncode is None:
                process.send_signal(signal.SIGCONT)
                process.terminate()
        for process in schedulers:
            await process.wait()
    elapsed = time.time() - started

    builds = await query(
        stack.database,
        "SELECT count(*) AS n, count(DISTINCT node_id) AS nodes FROM nodes.builds",
    )
    new_nodes = await query(
        stack.database,
        "SELECT count(*) AS n FROM nodes.nodes "
        "WHERE kind IN ('instant', 'blink', 'flash')",
    )
    assert builds[0]["n"] == 36
    assert builds[0]["nodes"] == 36
    assert new_nodes[0]["n"] == 36

    windows = [
        row["window_number"]
        for row in await query(
            stack.database, "SELECT window_number FROM player.ticker_windows ORDER BY 1"
        )
    ]
    assert windows == list(range(windows[0], windows[0] + len(windows)))
    # Each tick applies the window that has just closed, so the first applied
    # is the one that ended as the first scheduler came up: the windows can
    # span one more second than the run did, and the boundaries round up one.
    assert elapsed - 3 <= len(windows) <= elapsed + 2
    heats = {
        row["heat"]
        for row in await query(stack.database, "SELECT heat FROM player.players")
    }
    assert heats == {1000 - len(windows)}
    assert killed.returncode == -signal.SIGKILL
