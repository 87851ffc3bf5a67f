"""The nodes service's view of the player service: paying for builds."""

from __future__ import annotations

from uuid import UUID

import grpc

from hiddenwars.player.v1 import player_pb2, player_pb2_grpc
from services.common.protoutil import error_from_rpc


class PlayerPayments:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = player_pb2_grpc.PlayerServiceStub(channel)

    async def spend(self, player_id: UUID, amount: int, key: str, reason: str) -> None:
        request = player_pb2.SpendCreditsRequest(
            player_id=str(player_id), amount=amount, idempotency_key=key, reason=reason
        )
        try:
            await self._stub.SpendCredits(request)
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc, "player") from exc
