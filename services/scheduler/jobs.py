"""The calls the scheduler makes to the domain services, one per queue."""

from __future__ import annotations

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from hiddenwars.nodes.v1 import nodes_pb2, nodes_pb2_grpc
from hiddenwars.player.v1 import player_pb2, player_pb2_grpc
from services.common.protoutil import error_from_rpc
from services.scheduler.queues import StepResult


def _seconds(message: Timestamp, present: bool) -> float | None:
    return message.ToNanoseconds() / 1e9 if present else None


class Jobs:
    def __init__(self, player: grpc.aio.Channel, nodes: grpc.aio.Channel) -> None:
        self.player = player_pb2_grpc.PlayerServiceStub(player)
        self.nodes = nodes_pb2_grpc.NodesServiceStub(nodes)

    async def complete_due_builds(self, limit: int) -> StepResult:
        try:
            reply = await self.nodes.CompleteDueBuilds(
                nodes_pb2.CompleteDueBuildsRequest(limit=limit)
            )
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc, "nodes") from exc
        return StepResult(
            processed=reply.completed,
            next_due_at=_seconds(reply.next_due_at, reply.HasField("next_due_at")),
            lateness_ms=list(reply.lateness_ms),
        )

    async def settle_due_payments(self, limit: int) -> StepResult:
        try:
            reply = await self.nodes.SettleDuePayments(
                nodes_pb2.SettleDuePaymentsRequest(limit=min(limit, 100))
            )
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc, "nodes") from exc
        return StepResult(
            processed=reply.settled + reply.cancelled + reply.failed,
            next_due_at=_seconds(reply.next_due_at, reply.HasField("next_due_at")),
        )

    async def deliver_due_grants(self, limit: int) -> StepResult:
        try:
            reply = await self.player.DeliverDueGrants(
                player_pb2.DeliverDueGrantsRequest(limit=min(limit, 100))
            )
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc, "player") from exc
        return StepResult(
            processed=reply.delivered + reply.failed,
            next_due_at=_seconds(reply.next_due_at, reply.HasField("next_due_at")),
        )

    async def apply_heat_decay(self, window: int) -> int:
        try:
            reply = await self.player.ApplyHeatDecay(
                player_pb2.ApplyHeatDecayRequest(window=window)
            )
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc, "player") from exc
        return reply.windows_applied
