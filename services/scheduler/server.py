"""Wiring of the scheduler: the one place its pieces are built."""

from __future__ import annotations

import redis.asyncio as aioredis

from hiddenwars.scheduler.v1 import scheduler_pb2, scheduler_pb2_grpc
from services.common.cache import RedisGuard, create_redis
from services.common.clients import open_channel
from services.common.db import create_pool
from services.common.grpcserver import GrpcServer
from services.common.process import ServiceProcess
from services.scheduler.config import SchedulerSettings
from services.scheduler.handlers import SchedulerHandlers
from services.scheduler.jobs import Jobs
from services.scheduler.locks import QueueLocks
from services.scheduler.queues import QueueDrainer
from services.scheduler.service import Scheduler
from services.scheduler.tickers import WindowTicker

SERVICE_NAME = scheduler_pb2.DESCRIPTOR.services_by_name["SchedulerService"].full_name


async def build(settings: SchedulerSettings) -> ServiceProcess:
    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    redis = create_redis(settings.redis_url)
    # Pub/sub blocks on reads, so it gets a client without a read timeout.
    wake_client = aioredis.Redis.from_url(settings.redis_url, socket_connect_timeout=1)
    locks = QueueLocks(RedisGuard(redis), settings.redis_prefix, settings.lock_ttl)
    player = open_channel(settings.player_address, timeout=settings.rpc_timeout)
    nodes = open_channel(settings.nodes_address, timeout=settings.rpc_timeout)
    jobs = Jobs(player, nodes)

    def drainer(name: str, step: object, batch_size: int) -> QueueDrainer:
        return QueueDrainer(
            name,
            step,  # type: ignore[arg-type]
            locks,
            batch_size=batch_size,
            poll_interval=settings.poll_interval,
        )

    scheduler = Scheduler(
        drainers=[
            drainer("builds", jobs.complete_due_builds, settings.build_batch_size),
            drainer("build-payments", jobs.settle_due_payments, 50),
            drainer("starter-grants", jobs.deliver_due_grants, 50),
        ],
        tickers=[
            WindowTicker(
                "heat_decay",
                jobs.apply_heat_decay,
                locks,
                window_seconds=settings.heat_window_seconds,
                retry_seconds=min(settings.poll_interval, settings.lock_ttl),
            )
        ],
        wake_client=wake_client,
        wake_prefix=f"{settings.redis_prefix}scheduler:wake:",
    )
    server = GrpcServer.from_settings(
        settings,
        SERVICE_NAME,
        lambda grpc_server: scheduler_pb2_grpc.add_SchedulerServiceServicer_to_server(
            SchedulerHandlers(scheduler), grpc_server
        ),
        pool,
    )
    return ServiceProcess(
        server=server,
        closers=[
            player.close,
            nodes.close,
            wake_client.aclose,
            redis.aclose,
            pool.close,
        ],
        starters=[scheduler.start],
    )
