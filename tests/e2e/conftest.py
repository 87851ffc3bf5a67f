"""The whole game as real processes on free ports, on a throwaway database."""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from scripts.stack import GameStack, StackConfig
from tests.fixtures_db import (
    ThrowawayDatabase,
    create_test_database,
    drop_test_database,
)
from tests.servers import stack_config

# Builds finish in a second so a test can watch one complete.
QUICK_KINDS = {
    "relay": {"cost": 150, "build_seconds": 1, "hp": 100, "income": 2},
    "proxy": {"cost": 300, "build_seconds": 2, "hp": 150, "income": 5},
}


@pytest.fixture(scope="session")
async def game_database() -> AsyncIterator[ThrowawayDatabase]:
    """A database of the game's own: its scheduler lives for the whole run and
    would otherwise complete the integration tests' builds with its kinds."""
    created = await create_test_database()
    yield created
    await drop_test_database(created)


@pytest.fixture(scope="session")
async def game(
    game_database: ThrowawayDatabase, redis_prefix: str
) -> AsyncIterator[StackConfig]:
    logs = Path(tempfile.mkdtemp(prefix="hw-e2e-"))
    config = stack_config(
        game_database,
        # Nor does it share locks or wake-up channels with other schedulers.
        f"{redis_prefix}e2e:",
        logs,
        extra_env={
            "HW_NODE_KINDS": json.dumps(QUICK_KINDS),
            "HW_POLL_INTERVAL": "1",
            "HW_REGISTRATIONS_PER_ADDRESS_PER_MINUTE": "1000",
            "HW_LOG_LEVEL": "WARNING",
        },
    )
    stack = GameStack(config)
    await stack.start()
    yield config
    await stack.stop()


@pytest.fixture
async def http(game: StackConfig) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=game.gateway_url, timeout=5.0) as client:
        yield client
