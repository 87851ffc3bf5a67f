"""Wiring of the nodes service: the one place its pieces are built."""

from __future__ import annotations

from hiddenwars.nodes.v1 import nodes_pb2, nodes_pb2_grpc
from services.common.cache import RedisGuard, ScopedCache, create_redis
from services.common.clients import open_channel
from services.common.db import open_pool
from services.common.grpcserver import GrpcServer
from services.common.process import ServiceProcess
from services.nodes.config import NodesSettings
from services.nodes.handlers import NodesHandlers
from services.nodes.player_client import PlayerPayments
from services.nodes.service import NodesService, Payments

SERVICE_NAME = nodes_pb2.DESCRIPTOR.services_by_name["NodesService"].full_name


async def build(
    settings: NodesSettings, payments: Payments | None = None
) -> ServiceProcess:
    """Build the process; `payments` replaces the player client in fault tests."""
    unknown = set(settings.starter_kinds) - set(settings.node_kinds)
    if unknown:
        raise ValueError(f"HW_STARTER_KINDS names unknown kinds: {sorted(unknown)}")
    pool = await open_pool(settings)
    redis = create_redis(settings.redis_url)
    guard = RedisGuard(redis)
    player_channel = open_channel(settings.player_address, timeout=settings.rpc_timeout)
    service = NodesService(
        pool=pool,
        settings=settings,
        payments=payments or PlayerPayments(player_channel),
        dashboard=ScopedCache(
            guard,
            prefix=settings.redis_prefix,
            namespace="nodes:dashboard",
            ttl_seconds=settings.dashboard_cache_seconds,
        ),
        redis=guard,
    )
    server = GrpcServer.from_settings(
        settings,
        SERVICE_NAME,
        lambda grpc_server: nodes_pb2_grpc.add_NodesServiceServicer_to_server(
            NodesHandlers(service), grpc_server
        ),
        pool,
    )
    return ServiceProcess(
        server=server, closers=[player_channel.close, redis.aclose, pool.close]
    )
