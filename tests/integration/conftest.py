"""Fixtures for integration tests: real services on port 0, real stubs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from hiddenwars.player.v1 import player_pb2_grpc
from services.common.clients import open_channel
from services.common.process import ServiceProcess
from tests.fixtures_db import (
    ThrowawayDatabase,
    create_test_database,
    drop_test_database,
)
from tests.servers import player_settings, start_player


@pytest.fixture(scope="session")
async def player_process(
    database: ThrowawayDatabase, redis_prefix: str
) -> AsyncIterator[ServiceProcess]:
    process = await start_player(player_settings(database, redis_prefix))
    yield process
    await process.stop(0)


@pytest.fixture(scope="session")
async def player_channel(
    player_process: ServiceProcess,
) -> AsyncIterator[grpc.aio.Channel]:
    channel = open_channel(player_process.server.address, timeout=5.0)
    yield channel
    await channel.close()


@pytest.fixture(scope="session")
def player_stub(player_channel: grpc.aio.Channel) -> player_pb2_grpc.PlayerServiceStub:
    return player_pb2_grpc.PlayerServiceStub(player_channel)


@pytest.fixture
async def fresh_database() -> AsyncIterator[ThrowawayDatabase]:
    """A database of the test's own, for tests that need empty tables."""
    created = await create_test_database()
    yield created
    await drop_test_database(created)


@pytest.fixture
async def fresh_player_stub(
    fresh_database: ThrowawayDatabase, redis_prefix: str
) -> AsyncIterator[player_pb2_grpc.PlayerServiceStub]:
    """A player service on its own database."""
    process = await start_player(player_settings(fresh_database, redis_prefix))
    channel = open_channel(process.server.address, timeout=5.0)
    yield player_pb2_grpc.PlayerServiceStub(channel)
    await channel.close()
    await process.stop(0)
