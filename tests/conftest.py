"""Fixtures shared by every tier: the throwaway database and Redis prefix."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.fixtures_db import (
    REDIS_URL,
    ThrowawayDatabase,
    create_test_database,
    drop_test_database,
)


@pytest.fixture(scope="session")
async def database() -> AsyncIterator[ThrowawayDatabase]:
    """One migrated database for the run, dropped with its roles afterwards."""
    created = await create_test_database()
    yield created
    await drop_test_database(created)


@pytest.fixture(scope="session")
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this run's own; its keys are deleted afterwards."""
    prefix = f"hwt:{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def unique() -> str:
    """A short random string for names that must not collide across tests."""
    return uuid.uuid4().hex[:8]


@pytest.fixture
def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
