"""gRPC handlers of PlayerService: parse, call one service method, reply."""

from __future__ import annotations

import grpc

from hiddenwars.player.v1 import player_pb2, player_pb2_grpc
from services.common.protoutil import parse_uuid, timestamp
from services.player.models import Player
from services.player.service import PlayerService

Context = grpc.aio.ServicerContext[object, object]


def _player(player: Player) -> player_pb2.Player:
    return player_pb2.Player(
        id=str(player.id),
        username=player.username,
        credits=player.credits,
        heat=player.heat,
        created_at=timestamp(player.created_at),
    )


class PlayerHandlers(player_pb2_grpc.PlayerServiceServicer):
    def __init__(self, service: PlayerService) -> None:
        self.service = service

    async def Register(
        self, request: player_pb2.RegisterRequest, context: Context
    ) -> player_pb2.RegisterResponse:
        player = await self.service.register(
            request.username, request.password, request.client_address
        )
        return player_pb2.RegisterResponse(player=_player(player))

    async def Login(
        self, request: player_pb2.LoginRequest, context: Context
    ) -> player_pb2.LoginResponse:
        session = await self.service.login(
            request.username, request.password, request.client_address
        )
        return player_pb2.LoginResponse(
            token=session.token,
            expires_at=timestamp(session.expires_at),
            player=_player(session.player),
        )

    async def Logout(
        self, request: player_pb2.LogoutRequest, context: Context
    ) -> player_pb2.LogoutResponse:
        await self.service.logout(request.token)
        return player_pb2.LogoutResponse()

    async def Authenticate(
        self, request: player_pb2.AuthenticateRequest, context: Context
    ) -> player_pb2.AuthenticateResponse:
        player_id = await self.service.authenticate(request.token)
        return player_pb2.AuthenticateResponse(player_id=str(player_id))

    async def GetPlayer(
        self, request: player_pb2.GetPlayerRequest, context: Context
    ) -> player_pb2.GetPlayerResponse:
        player_id = parse_uuid(request.player_id, "player_id")
        player = await self.service.get_player(player_id)
        return player_pb2.GetPlayerResponse(player=_player(player))

    async def SpendCredits(
        self, request: player_pb2.SpendCreditsRequest, context: Context
    ) -> player_pb2.SpendCreditsResponse:
        player_id = parse_uuid(request.player_id, "player_id")
        spend = await self.service.spend_credits(
            player_id, request.amount, request.idempotency_key, request.reason
        )
        return player_pb2.SpendCreditsResponse(
            balance_after=spend.balance_after, replayed=spend.replayed
        )

    async def ApplyHeatDecay(
        self, request: player_pb2.ApplyHeatDecayRequest, context: Context
    ) -> player_pb2.ApplyHeatDecayResponse:
        decay = await self.service.apply_heat_decay(request.window)
        return player_pb2.ApplyHeatDecayResponse(
            windows_applied=decay.windows_applied,
            players_cooled=decay.players_cooled,
        )

    async def DeliverDueGrants(
        self, request: player_pb2.DeliverDueGrantsRequest, context: Context
    ) -> player_pb2.DeliverDueGrantsResponse:
        result = await self.service.deliver_due_grants(request.limit)
        reply = player_pb2.DeliverDueGrantsResponse(
            delivered=result.delivered, failed=result.failed
        )
        if result.next_due_at is not None:
            reply.next_due_at.CopyFrom(timestamp(result.next_due_at))
        return reply
