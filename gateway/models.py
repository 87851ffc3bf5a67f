"""The JSON bodies the gateway reads and writes, and their protobuf conversions."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from hiddenwars.player.v1 import player_pb2


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    # Checked by the player service, which names the rule a value breaks.
    username: str = Field(description="3 to 24 letters, digits, '_' or '-'.")
    password: str = Field(description="At least 10 characters.")


class Player(BaseModel):
    id: str = Field(description="A UUID.")
    username: str
    credits: int
    heat: int
    created_at: datetime

    @classmethod
    def from_proto(cls, player: player_pb2.Player) -> Player:
        return cls(
            id=player.id,
            username=player.username,
            credits=player.credits,
            heat=player.heat,
            created_at=player.created_at.ToDatetime(tzinfo=UTC),
        )


class Session(BaseModel):
    token: str = Field(description="Send it as 'Authorization: Bearer <token>'.")
    expires_at: datetime
    player: Player

    @classmethod
    def from_proto(cls, reply: player_pb2.LoginResponse) -> Session:
        return cls(
            token=reply.token,
            expires_at=reply.expires_at.ToDatetime(tzinfo=UTC),
            player=Player.from_proto(reply.player),
        )
