"""gRPC handlers of SchedulerService."""

from __future__ import annotations

import grpc

from hiddenwars.scheduler.v1 import scheduler_pb2, scheduler_pb2_grpc
from services.scheduler.service import Scheduler

Context = grpc.aio.ServicerContext[object, object]


class SchedulerHandlers(scheduler_pb2_grpc.SchedulerServiceServicer):
    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    async def GetQueueStatus(
        self, request: scheduler_pb2.GetQueueStatusRequest, context: Context
    ) -> scheduler_pb2.GetQueueStatusResponse:
        reply = scheduler_pb2.GetQueueStatusResponse()
        for name, drainer in self.scheduler.drainers.items():
            p50, worst = drainer.stats.summary()
            status = reply.queues.add(
                queue=name,
                lock_held=drainer.stats.lock_held,
                completed=drainer.stats.processed,
                lateness_p50_ms=p50,
                lateness_max_ms=worst,
            )
            if drainer.stats.next_due_at is not None:
                status.next_due_at.FromNanoseconds(int(drainer.stats.next_due_at * 1e9))
        return reply
