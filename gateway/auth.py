"""Who is calling: the bearer token, and the player the player service says it is."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.state import BackendsDep
from hiddenwars.player.v1 import player_pb2

_bearer = HTTPBearer(
    auto_error=False, description="The token returned by POST /v1/sessions."
)


async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The token of an `Authorization: Bearer` header; 401 when there is none."""
    if credentials is None:
        raise HTTPException(
            401,
            "Send the session token as 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return credentials.credentials


Token = Annotated[str, Depends(bearer_token)]


async def authenticated_player(token: Token, backends: BackendsDep) -> str:
    """The caller's player id; an unknown, expired or revoked token gives 401."""
    request = player_pb2.AuthenticateRequest(token=token)
    reply = await backends.player.Authenticate(request)
    return reply.player_id


PlayerId = Annotated[str, Depends(authenticated_player)]
