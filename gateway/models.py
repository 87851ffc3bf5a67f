"""The JSON bodies the gateway reads and writes, and their protobuf conversions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hiddenwars.nodes.v1 import nodes_pb2
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


NODE_STATES = {
    nodes_pb2.NODE_STATE_HEALTHY: "healthy",
    nodes_pb2.NODE_STATE_DEGRADED: "degraded",
    nodes_pb2.NODE_STATE_CORRUPTED: "corrupted",
    nodes_pb2.NODE_STATE_OFFLINE: "offline",
}
BUILD_STATES = {
    nodes_pb2.BUILD_STATE_AWAITING_PAYMENT: "awaiting_payment",
    nodes_pb2.BUILD_STATE_IN_PROGRESS: "in_progress",
    nodes_pb2.BUILD_STATE_COMPLETED: "completed",
}


class Node(BaseModel):
    id: str = Field(description="A UUID.")
    kind: str
    level: int
    hp: int
    max_hp: int
    state: Literal["healthy", "degraded", "corrupted", "offline"]
    income: int = Field(description="Credits per income window.")
    created_at: datetime

    @classmethod
    def from_proto(cls, node: nodes_pb2.Node) -> Node:
        return cls(
            id=node.id,
            kind=node.kind,
            level=node.level,
            hp=node.hp,
            max_hp=node.max_hp,
            state=NODE_STATES[node.state],  # type: ignore[arg-type]
            income=node.income,
            created_at=node.created_at.ToDatetime(tzinfo=UTC),
        )


class NodePage(BaseModel):
    nodes: list[Node]
    next_page_token: str = Field(description="Empty on the last page.")
    total_nodes: int

    @classmethod
    def from_proto(cls, reply: nodes_pb2.ListNodesResponse) -> NodePage:
        return cls(
            nodes=[Node.from_proto(node) for node in reply.nodes],
            next_page_token=reply.next_page_token,
            total_nodes=reply.total_nodes,
        )


class BuildOrder(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    kind: str = Field(default="", max_length=40, description="A node kind.")
    upgrade_node_id: str | None = Field(
        default=None, max_length=36, description="A node of yours to upgrade."
    )


class Build(BaseModel):
    id: str
    kind: str
    state: Literal["awaiting_payment", "in_progress", "completed"]
    cost: int
    upgrade_node_id: str | None
    ordered_at: datetime
    finishes_at: datetime | None
    node_id: str | None

    @classmethod
    def from_proto(cls, build: nodes_pb2.Build) -> Build:
        return cls(
            id=build.id,
            kind=build.kind,
            state=BUILD_STATES[build.state],  # type: ignore[arg-type]
            cost=build.cost,
            upgrade_node_id=build.upgrade_node_id or None,
            ordered_at=build.ordered_at.ToDatetime(tzinfo=UTC),
            finishes_at=(
                build.finishes_at.ToDatetime(tzinfo=UTC)
                if build.HasField("finishes_at")
                else None
            ),
            node_id=build.node_id or None,
        )


class BuildList(BaseModel):
    builds: list[Build]
