"""Routes for a player's botnet: the dashboard page and the build queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query

from gateway.auth import PlayerId, Reads
from gateway.errors import responses
from gateway.models import Build, BuildList, BuildOrder, NodePage
from gateway.state import BackendsDep
from hiddenwars.nodes.v1 import nodes_pb2

router = APIRouter(prefix="/v1", tags=["botnet"])

_BACKEND_FAILURES = (500, 503, 504)


@router.get("/nodes", responses=responses(400, 401, 422, *_BACKEND_FAILURES))
async def list_nodes(
    reads: Reads,
    backends: BackendsDep,
    page_size: Annotated[int, Query(ge=1, le=100)] = 25,
    page_token: Annotated[str, Query(max_length=200)] = "",
) -> NodePage:
    """One page of the caller's nodes, oldest first."""

    async def read(player_id: str) -> nodes_pb2.ListNodesResponse:
        return await backends.nodes.ListNodes(
            nodes_pb2.ListNodesRequest(
                player_id=player_id, page_size=page_size, page_token=page_token
            )
        )

    return NodePage.from_proto(await reads.read(read))


@router.post(
    "/builds",
    status_code=202,
    responses=responses(400, 401, 404, 409, 413, 422, 429, *_BACKEND_FAILURES),
)
async def order_build(
    body: BuildOrder,
    player_id: PlayerId,
    backends: BackendsDep,
    idempotency_key: Annotated[
        str,
        Header(
            max_length=200,
            pattern=r"^[\x21-\x7e]*$",
            description="Retrying with the same key returns the first build.",
        ),
    ] = "",
) -> Build:
    """Pay for a build; it completes at `finishes_at`."""
    reply = await backends.nodes.OrderBuild(
        nodes_pb2.OrderBuildRequest(
            player_id=player_id,
            kind=body.kind,
            idempotency_key=idempotency_key,
            upgrade_node_id=body.upgrade_node_id or "",
        )
    )
    return Build.from_proto(reply.build)


@router.get("/builds", responses=responses(401, *_BACKEND_FAILURES))
async def list_builds(reads: Reads, backends: BackendsDep) -> BuildList:
    """The caller's builds that have not completed yet."""

    async def read(player_id: str) -> nodes_pb2.ListBuildsResponse:
        return await backends.nodes.ListBuilds(
            nodes_pb2.ListBuildsRequest(player_id=player_id)
        )

    reply = await reads.read(read)
    return BuildList(builds=[Build.from_proto(build) for build in reply.builds])
