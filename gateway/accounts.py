"""Routes for accounts and sessions: register, log in, log out, who am I."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gateway.auth import KnownOwnersDep, Reads, Token
from gateway.errors import responses
from gateway.models import Credentials, Player, Session
from gateway.state import BackendsDep
from hiddenwars.player.v1 import player_pb2

router = APIRouter(prefix="/v1", tags=["accounts"])

# What any route that calls a service may answer besides its own errors.
_BACKEND_FAILURES = (500, 503, 504)


def _client_address(request: Request) -> str:
    # The TCP peer; behind an ingress, uvicorn's forwarded_allow_ips makes it
    # the player's address rather than the proxy's.
    return request.client.host if request.client else "unknown"


@router.post(
    "/accounts",
    status_code=201,
    responses=responses(400, 409, 413, 422, 429, *_BACKEND_FAILURES),
)
async def register(
    body: Credentials, request: Request, backends: BackendsDep
) -> Player:
    """Create an account with the starting credits; a few per address a minute."""
    reply = await backends.player.Register(
        player_pb2.RegisterRequest(
            username=body.username,
            password=body.password,
            client_address=_client_address(request),
        )
    )
    return Player.from_proto(reply.player)


@router.post(
    "/sessions",
    status_code=201,
    responses=responses(401, 413, 422, 429, *_BACKEND_FAILURES),
)
async def login(
    body: Credentials,
    request: Request,
    backends: BackendsDep,
    owners: KnownOwnersDep,
) -> Session:
    """Open a session; repeated failures are refused for a minute (429)."""
    # The player service limits failed logins per client address too.
    reply = await backends.player.Login(
        player_pb2.LoginRequest(
            username=body.username,
            password=body.password,
            client_address=_client_address(request),
        )
    )
    owners.remember(owners.key(reply.token), reply.player.id)
    return Session.from_proto(reply)


@router.delete(
    "/sessions/current",
    status_code=204,
    response_class=Response,
    responses=responses(401, *_BACKEND_FAILURES),
)
async def logout(token: Token, backends: BackendsDep, owners: KnownOwnersDep) -> None:
    """Revoke the token this request carries."""
    owners.forget(owners.key(token))
    await backends.player.Logout(player_pb2.LogoutRequest(token=token))


@router.get("/me", responses=responses(401, *_BACKEND_FAILURES))
async def me(reads: Reads, backends: BackendsDep) -> Player:
    """The calling player's public state."""

    async def read(player_id: str) -> player_pb2.GetPlayerResponse:
        return await backends.player.GetPlayer(
            player_pb2.GetPlayerRequest(player_id=player_id)
        )

    reply = await reads.read(read)
    return Player.from_proto(reply.player)
