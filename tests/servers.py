"""Start the real services in the test process, each on a free port."""

from __future__ import annotations

from services.common.process import ServiceProcess
from services.player.config import PlayerSettings
from services.player.server import build as build_player
from tests.fixtures_db import REDIS_URL, ThrowawayDatabase


def player_settings(
    database: ThrowawayDatabase, redis_prefix: str, **overrides: object
) -> PlayerSettings:
    values: dict[str, object] = {
        "database_url": database.url("player"),
        "redis_url": REDIS_URL,
        "redis_prefix": redis_prefix,
        "grpc_port": 0,
        # Nothing listens here unless a test starts the nodes service.
        "nodes_address": "127.0.0.1:9",
        "rpc_timeout": 2.0,
        "shutdown_grace": 1.0,
    }
    values.update(overrides)
    return PlayerSettings(**values)  # type: ignore[arg-type]


async def start_player(settings: PlayerSettings) -> ServiceProcess:
    process = await build_player(settings)
    await process.start()
    return process
