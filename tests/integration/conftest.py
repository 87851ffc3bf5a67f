"""Fixtures for integration tests: real services on port 0, real stubs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import httpx2
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.config import GatewaySettings
from hiddenwars.nodes.v1 import nodes_pb2_grpc
from hiddenwars.player.v1 import player_pb2, player_pb2_grpc
from services.common.clients import open_channel
from services.common.process import ServiceProcess
from services.scheduler.config import SchedulerSettings
from tests.fixtures_db import (
    ThrowawayDatabase,
    create_test_database,
    drop_test_database,
)
from tests.servers import (
    player_settings,
    scheduler_settings,
    start_pair,
    start_player,
)


@dataclass
class Stack:
    """A player and a nodes service on one database, with stubs to both."""

    database: ThrowawayDatabase
    # Keys, locks and wake-up channels of this stack's processes start with it.
    redis_prefix: str
    player_process: ServiceProcess
    nodes_process: ServiceProcess
    player: player_pb2_grpc.PlayerServiceAsyncStub
    nodes: nodes_pb2_grpc.NodesServiceAsyncStub
    channels: list[grpc.aio.Channel]

    async def register(self, username: str) -> player_pb2.Player:
        reply = await self.player.Register(
            player_pb2.RegisterRequest(username=username, password="p" * 12)
        )
        return reply.player

    def scheduler_settings(self, **overrides: Any) -> SchedulerSettings:
        """Settings for a scheduler that drains this stack's queues."""
        return scheduler_settings(
            self.database,
            self.redis_prefix,
            player_address=self.player_process.server.address,
            nodes_address=self.nodes_process.server.address,
            **overrides,
        )

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()
        await self.nodes_process.stop(0)
        await self.player_process.stop(0)


async def open_stack(
    database: ThrowawayDatabase, redis_prefix: str, **overrides: object
) -> Stack:
    """Start a pair; `overrides` apply to both services' settings."""
    player, nodes = await start_pair(database, redis_prefix, **overrides)
    player_channel = open_channel(player.server.address, timeout=5.0)
    nodes_channel = open_channel(nodes.server.address, timeout=5.0)
    return Stack(
        database=database,
        redis_prefix=redis_prefix,
        player_process=player,
        nodes_process=nodes,
        player=player_pb2_grpc.PlayerServiceStub(player_channel),
        nodes=nodes_pb2_grpc.NodesServiceStub(nodes_channel),
        channels=[player_channel, nodes_channel],
    )


@pytest.fixture(scope="session")
async def stack(database: ThrowawayDatabase, redis_prefix: str) -> AsyncIterator[Stack]:
    """The services every test may share: player and nodes on the run's database."""
    opened = await open_stack(database, redis_prefix)
    yield opened
    await opened.close()


@pytest.fixture(scope="session")
def player_process(stack: Stack) -> ServiceProcess:
    return stack.player_process


@pytest.fixture(scope="session")
def player_stub(stack: Stack) -> player_pb2_grpc.PlayerServiceAsyncStub:
    return stack.player


@pytest.fixture(scope="session")
def nodes_stub(stack: Stack) -> nodes_pb2_grpc.NodesServiceAsyncStub:
    return stack.nodes


@pytest.fixture
async def fresh_database() -> AsyncIterator[ThrowawayDatabase]:
    """A database of the test's own, for tests that need empty tables."""
    created = await create_test_database()
    yield created
    await drop_test_database(created)


@pytest.fixture
async def fresh_stack(
    fresh_database: ThrowawayDatabase, redis_prefix: str
) -> AsyncIterator[Stack]:
    """Player and nodes services on a database of the test's own, with a Redis
    prefix of their own: a scheduler started for them shares no lock or
    wake-up channel with one draining another database."""
    opened = await open_stack(fresh_database, f"{redis_prefix}{fresh_database.name}:")
    yield opened
    await opened.close()


@pytest.fixture
def fresh_player_stub(fresh_stack: Stack) -> player_pb2_grpc.PlayerServiceAsyncStub:
    return fresh_stack.player


@dataclass
class PlayerUnderTest:
    process: ServiceProcess
    stub: player_pb2_grpc.PlayerServiceAsyncStub


StartPlayer = Callable[..., Awaitable[PlayerUnderTest]]


@pytest.fixture
async def player_with(
    database: ThrowawayDatabase, redis_prefix: str
) -> AsyncIterator[StartPlayer]:
    """Starts player services with settings overridden by the test, on the
    run's database; they and their channels are closed after the test."""
    opened: list[tuple[ServiceProcess, grpc.aio.Channel]] = []

    async def start(**overrides: Any) -> PlayerUnderTest:
        process = await start_player(
            player_settings(database, redis_prefix, **overrides)
        )
        channel = open_channel(process.server.address, timeout=5.0)
        opened.append((process, channel))
        return PlayerUnderTest(process, player_pb2_grpc.PlayerServiceStub(channel))

    yield start
    for process, channel in opened:
        await channel.close()
        await process.stop(0)


@asynccontextmanager
async def serving_app(
    app: FastAPI, client_address: str = "127.0.0.1"
) -> AsyncIterator[httpx2.AsyncClient]:
    """The gateway app in this process with its lifespan running, and a client
    calling it as if from `client_address`."""
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app, client=(client_address, 50000))
        async with httpx2.AsyncClient(
            transport=transport, base_url="http://test"
        ) as client:
            yield client


def serving(
    settings: GatewaySettings, client_address: str = "127.0.0.1"
) -> AbstractAsyncContextManager[httpx2.AsyncClient]:
    """A gateway built from `settings`, served as `serving_app` does."""
    return serving_app(create_app(settings), client_address)
