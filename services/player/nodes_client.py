"""The player service's view of the nodes service: the starter grant only."""

from __future__ import annotations

from uuid import UUID

import grpc

from hiddenwars.nodes.v1 import nodes_pb2, nodes_pb2_grpc
from services.common.protoutil import error_from_rpc


class NodesStarterGrants:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = nodes_pb2_grpc.NodesServiceStub(channel)

    async def grant(self, player_id: UUID) -> None:
        """Ask for the starter nodes; the key makes repeats harmless."""
        request = nodes_pb2.GrantStarterNodesRequest(
            player_id=str(player_id), idempotency_key=f"starter:{player_id}"
        )
        try:
            await self._stub.GrantStarterNodes(request)
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc, "nodes") from exc
