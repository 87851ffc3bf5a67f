"""gRPC handlers of HacksService. Launching and resolving hacks come later."""

from __future__ import annotations

from typing import Any

import grpc

from hiddenwars.hacks.v1 import hacks_pb2, hacks_pb2_grpc
from services.common.db import transaction
from services.common.protoutil import parse_uuid, timestamp
from services.hacks import repository

Context = grpc.aio.ServicerContext[object, object]


class HacksHandlers(hacks_pb2_grpc.HacksServiceServicer):
    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def ListHacks(
        self, request: hacks_pb2.ListHacksRequest, context: Context
    ) -> hacks_pb2.ListHacksResponse:
        player_id = parse_uuid(request.player_id, "player_id")
        async with transaction(self.pool) as connection:
            hacks = await repository.list_running_hacks(connection, player_id)
        return hacks_pb2.ListHacksResponse(
            hacks=[
                hacks_pb2.Hack(
                    id=str(hack.id),
                    attacker_id=str(hack.attacker_id),
                    target_id=str(hack.target_id),
                    finishes_at=timestamp(hack.finishes_at),
                )
                for hack in hacks
            ]
        )
