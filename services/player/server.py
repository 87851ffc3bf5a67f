"""Wiring of the player service: the one place its pieces are built."""

from __future__ import annotations

from hiddenwars.player.v1 import player_pb2, player_pb2_grpc
from services.common.cache import RedisGuard, ScopedCache, create_redis
from services.common.clients import open_channel
from services.common.db import open_pool
from services.common.grpcserver import GrpcServer
from services.common.process import ServiceProcess
from services.player.config import PlayerSettings
from services.player.handlers import PlayerHandlers
from services.player.nodes_client import NodesStarterGrants
from services.player.passwords import Passwords
from services.player.service import PlayerService

SERVICE_NAME = player_pb2.DESCRIPTOR.services_by_name["PlayerService"].full_name


async def build(settings: PlayerSettings) -> ServiceProcess:
    pool = await open_pool(settings)
    redis = create_redis(settings.redis_url)
    nodes_channel = open_channel(settings.nodes_address, timeout=settings.rpc_timeout)
    service = PlayerService(
        pool=pool,
        settings=settings,
        passwords=Passwords(
            settings.argon2_memory_kib,
            settings.argon2_time_cost,
            settings.argon2_parallelism,
            max_pending=settings.max_pending_hashes,
        ),
        sessions_cache=ScopedCache(
            RedisGuard(redis),
            prefix=settings.redis_prefix,
            namespace="player:session",
            ttl_seconds=settings.session_cache_seconds,
        ),
        starter_grants=NodesStarterGrants(nodes_channel),
    )
    server = GrpcServer.from_settings(
        settings,
        SERVICE_NAME,
        lambda grpc_server: player_pb2_grpc.add_PlayerServiceServicer_to_server(
            PlayerHandlers(service), grpc_server
        ),
        pool,
    )
    return ServiceProcess(
        server=server,
        closers=[nodes_channel.close, redis.aclose, pool.close],
    )
