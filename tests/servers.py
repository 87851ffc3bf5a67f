"""Start the real services in the test process, each on a free port."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scripts.stack import MODULES, StackConfig
from services.common.process import ServiceProcess
from services.nodes.config import NodeKind, NodesSettings
from services.nodes.server import build as build_nodes
from services.nodes.service import Payments
from services.player.config import PlayerSettings
from services.player.server import build as build_player
from services.scheduler.config import SchedulerSettings
from services.scheduler.server import build as build_scheduler
from tests.fixtures_db import REDIS_URL, ThrowawayDatabase

# Kinds the tests build: one that is due at once, one that never is in a test.
TEST_KINDS = {
    "relay": NodeKind(cost=150, build_seconds=10, hp=100, income=2),
    "proxy": NodeKind(cost=300, build_seconds=30, hp=150, income=5),
    "instant": NodeKind(cost=100, build_seconds=0, hp=50, income=1),
    "slow": NodeKind(cost=100, build_seconds=3600, hp=50, income=1),
    "blink": NodeKind(cost=10, build_seconds=1, hp=50, income=1),
    "flash": NodeKind(cost=10, build_seconds=3, hp=50, income=1),
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def stack_config(
    database: ThrowawayDatabase,
    redis_prefix: str,
    log_dir: Path,
    extra_env: Mapping[str, str] | None = None,
) -> StackConfig:
    """Every process of the game on free ports, over a throwaway database."""
    return StackConfig(
        admin_url=database.admin_url,
        redis_url=REDIS_URL,
        database=database.name,
        role_prefix=database.role_prefix,
        redis_prefix=redis_prefix,
        ports={name: free_port() for name in MODULES},
        extra_env=dict(extra_env or {}),
        log_dir=log_dir,
    )


def player_settings(
    database: ThrowawayDatabase, redis_prefix: str, **overrides: Any
) -> PlayerSettings:
    values: dict[str, Any] = {
        "database_url": database.url("player"),
        "redis_url": REDIS_URL,
        "redis_prefix": redis_prefix,
        "grpc_port": 0,
        # Nothing listens here unless a test starts the nodes service on it.
        "nodes_address": "127.0.0.1:9",
        # Every test registers from 127.0.0.1; one test lowers this to see it.
        "registrations_per_address_per_minute": 100_000,
        "rpc_timeout": 2.0,
        "shutdown_grace": 1.0,
    }
    values.update(overrides)
    return PlayerSettings(**values)


def nodes_settings(
    database: ThrowawayDatabase, redis_prefix: str, **overrides: Any
) -> NodesSettings:
    values: dict[str, Any] = {
        "database_url": database.url("nodes"),
        "redis_url": REDIS_URL,
        "redis_prefix": redis_prefix,
        "grpc_port": 0,
        "player_address": "127.0.0.1:9",
        "node_kinds": TEST_KINDS,
        "rpc_timeout": 2.0,
        "shutdown_grace": 1.0,
    }
    values.update(overrides)
    return NodesSettings(**values)


def scheduler_settings(
    database: ThrowawayDatabase, redis_prefix: str, **overrides: Any
) -> SchedulerSettings:
    values: dict[str, Any] = {
        "database_url": database.url("scheduler"),
        "redis_url": REDIS_URL,
        "redis_prefix": redis_prefix,
        "grpc_port": 0,
        "poll_interval": 0.5,
        "lock_ttl": 1.5,
        "heat_window_seconds": 1,
        "rpc_timeout": 2.0,
        "shutdown_grace": 1.0,
    }
    values.update(overrides)
    return SchedulerSettings(**values)


async def start_scheduler(settings: SchedulerSettings) -> ServiceProcess:
    process = await build_scheduler(settings)
    await process.start()
    return process


async def start_player(settings: PlayerSettings) -> ServiceProcess:
    process = await build_player(settings)
    await process.start()
    return process


async def start_nodes(
    settings: NodesSettings, payments: Payments | None = None
) -> ServiceProcess:
    process = await build_nodes(settings, payments)
    await process.start()
    return process


async def start_pair(
    database: ThrowawayDatabase, redis_prefix: str, **overrides: Any
) -> tuple[ServiceProcess, ServiceProcess]:
    """A player and a nodes service that know each other's address.

    `overrides` go to both settings where both have the field, else to the
    nodes service's."""
    nodes_port = free_port()
    shared = {k: v for k, v in overrides.items() if k in PlayerSettings.model_fields}
    player = await start_player(
        player_settings(
            database, redis_prefix, nodes_address=f"127.0.0.1:{nodes_port}", **shared
        )
    )
    nodes = await start_nodes(
        nodes_settings(
            database,
            redis_prefix,
            grpc_port=nodes_port,
            player_address=player.server.address,
            **overrides,
        )
    )
    return player, nodes
