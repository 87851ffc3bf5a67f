"""Wiring of the hacks service."""

from __future__ import annotations

from hiddenwars.hacks.v1 import hacks_pb2, hacks_pb2_grpc
from services.common.db import open_pool
from services.common.grpcserver import GrpcServer
from services.common.process import ServiceProcess
from services.hacks.config import HacksSettings
from services.hacks.handlers import HacksHandlers

SERVICE_NAME = hacks_pb2.DESCRIPTOR.services_by_name["HacksService"].full_name


async def build(settings: HacksSettings) -> ServiceProcess:
    pool = await open_pool(settings)
    server = GrpcServer.from_settings(
        settings,
        SERVICE_NAME,
        lambda grpc_server: hacks_pb2_grpc.add_HacksServiceServicer_to_server(
            HacksHandlers(pool), grpc_server
        ),
        pool,
    )
    return ServiceProcess(server=server, closers=[pool.close])
