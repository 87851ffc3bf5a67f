"""gRPC handlers of NodesService: parse, call one service method, reply."""

from __future__ import annotations

import grpc

from hiddenwars.nodes.v1 import nodes_pb2, nodes_pb2_grpc
from services.common.protoutil import parse_uuid, timestamp
from services.nodes.models import Build, Node
from services.nodes.pages import encode_cursor
from services.nodes.service import NodesService

Context = grpc.aio.ServicerContext[object, object]

NODE_STATES = {
    "healthy": nodes_pb2.NODE_STATE_HEALTHY,
    "degraded": nodes_pb2.NODE_STATE_DEGRADED,
    "corrupted": nodes_pb2.NODE_STATE_CORRUPTED,
    "offline": nodes_pb2.NODE_STATE_OFFLINE,
}
BUILD_STATES = {
    "awaiting_payment": nodes_pb2.BUILD_STATE_AWAITING_PAYMENT,
    "in_progress": nodes_pb2.BUILD_STATE_IN_PROGRESS,
    "completed": nodes_pb2.BUILD_STATE_COMPLETED,
}


def _node(node: Node) -> nodes_pb2.Node:
    return nodes_pb2.Node(
        id=str(node.id),
        kind=node.kind,
        level=node.level,
        hp=node.hp,
        max_hp=node.max_hp,
        state=NODE_STATES[node.state],
        income=node.income,
        created_at=timestamp(node.created_at),
    )


def _build(build: Build) -> nodes_pb2.Build:
    message = nodes_pb2.Build(
        id=str(build.id),
        kind=build.kind,
        state=BUILD_STATES[build.state],
        upgrade_node_id=str(build.upgrade_node_id or ""),
        cost=build.cost,
        ordered_at=timestamp(build.ordered_at),
        node_id=str(build.node_id or ""),
    )
    if build.finishes_at is not None:
        message.finishes_at.CopyFrom(timestamp(build.finishes_at))
    return message


class NodesHandlers(nodes_pb2_grpc.NodesServiceServicer):
    def __init__(self, service: NodesService) -> None:
        self.service = service

    async def GrantStarterNodes(
        self, request: nodes_pb2.GrantStarterNodesRequest, context: Context
    ) -> nodes_pb2.GrantStarterNodesResponse:
        player_id = parse_uuid(request.player_id, "player_id")
        granted, replayed = await self.service.grant_starter_nodes(
            player_id, request.idempotency_key
        )
        return nodes_pb2.GrantStarterNodesResponse(granted=granted, replayed=replayed)

    async def ListNodes(
        self, request: nodes_pb2.ListNodesRequest, context: Context
    ) -> nodes_pb2.ListNodesResponse:
        player_id = parse_uuid(request.player_id, "player_id")
        page = await self.service.list_nodes(
            player_id, request.page_size, request.page_token
        )
        return nodes_pb2.ListNodesResponse(
            nodes=[_node(node) for node in page.nodes],
            next_page_token=encode_cursor(page.next_cursor),
            total_nodes=page.total,
        )

    async def OrderBuild(
        self, request: nodes_pb2.OrderBuildRequest, context: Context
    ) -> nodes_pb2.OrderBuildResponse:
        player_id = parse_uuid(request.player_id, "player_id")
        upgrade = (
            parse_uuid(request.upgrade_node_id, "upgrade_node_id")
            if request.upgrade_node_id
            else None
        )
        build = await self.service.order_build(
            player_id, request.kind, request.idempotency_key, upgrade
        )
        return nodes_pb2.OrderBuildResponse(build=_build(build))

    async def ListBuilds(
        self, request: nodes_pb2.ListBuildsRequest, context: Context
    ) -> nodes_pb2.ListBuildsResponse:
        player_id = parse_uuid(request.player_id, "player_id")
        builds = await self.service.list_builds(player_id)
        return nodes_pb2.ListBuildsResponse(builds=[_build(build) for build in builds])

    async def CompleteDueBuilds(
        self, request: nodes_pb2.CompleteDueBuildsRequest, context: Context
    ) -> nodes_pb2.CompleteDueBuildsResponse:
        batch = await self.service.complete_due_builds(request.limit)
        reply = nodes_pb2.CompleteDueBuildsResponse(
            completed=len(batch.completions),
            lateness_ms=[completion.lateness_ms for completion in batch.completions],
        )
        if batch.next_due_at is not None:
            reply.next_due_at.CopyFrom(timestamp(batch.next_due_at))
        return reply

    async def SettleDuePayments(
        self, request: nodes_pb2.SettleDuePaymentsRequest, context: Context
    ) -> nodes_pb2.SettleDuePaymentsResponse:
        batch = await self.service.settle_due_payments(request.limit)
        reply = nodes_pb2.SettleDuePaymentsResponse(
            settled=batch.settled, cancelled=batch.cancelled, failed=batch.failed
        )
        if batch.next_due_at is not None:
            reply.next_due_at.CopyFrom(timestamp(batch.next_due_at))
        return reply
