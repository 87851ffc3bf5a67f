"""Wiring of the hacks service."""

from __future__ import annotations

from hiddenwars.hacks.v1 import hacks_pb2, hacks_pb2_grpc
from services.common.db import create_pool
from services.common.grpcserver import GrpcServer
from services.common.process import ServiceProcess
from services.hacks.config import HacksSettings
from services.hacks.handlers import HacksHandlers

SERVICE_NAME = hacks_pb2.DESCRIPTOR.services_by_name["HacksService"].full_name


async def build(settings: HacksSettings) -> ServiceProcess:
    pool = await create_pool(
        settings.database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
    )
    server = GrpcServer(
        service_names=[SERVICE_NAME],
        add_servicers=lambda grpc_server: (
            hacks_pb2_grpc.add_HacksServiceServicer_to_server(
                HacksHandlers(pool), grpc_server
            )
        ),
        pool=pool,
        host=settings.grpc_host,
        port=settings.grpc_port,
        shutdown_grace=settings.shutdown_grace,
    )
    return ServiceProcess(server=server, closers=[pool.close])
