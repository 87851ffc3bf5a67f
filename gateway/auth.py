"""Who is calling: the bearer token, and the player the player service says it is.

Every request that carries a token asks the player service whether the token
is live: a logout refuses the token at once, on every gateway replica. A read
does not have to wait for that answer before it starts, though. A token never
changes owner (only whether it is live does), so `KnownOwners` remembers, per
gateway process, whose tokens it has seen authenticated, and `PlayerReads`
starts a read for that owner while `Authenticate` runs. The read's result is
returned only when `Authenticate` names the same player; on any other answer it
is cancelled and thrown away. A page then costs the slower of the two calls
instead of their sum. Writes never start early: they wait for `Authenticate`.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import grpc
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.state import BackendsDep
from hiddenwars.player.v1 import player_pb2

T = TypeVar("T")

_bearer = HTTPBearer(
    auto_error=False, description="The token returned by POST /v1/sessions."
)


class KnownOwners:
    """The owners of tokens seen authenticated lately, least recently used out.

    Keys are SHA-256 digests, so the process holds no token it could leak. An
    entry only says whom a read may start for; it never lets a request through.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._owners: OrderedDict[bytes, str] = OrderedDict()

    @staticmethod
    def key(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def get(self, key: bytes) -> str | None:
        owner = self._owners.get(key)
        if owner is not None:
            self._owners.move_to_end(key)
        return owner

    def remember(self, key: bytes, player_id: str) -> None:
        self._owners[key] = player_id
        self._owners.move_to_end(key)
        while len(self._owners) > self.capacity:
            self._owners.popitem(last=False)

    def forget(self, key: bytes) -> None:
        self._owners.pop(key, None)

    def __len__(self) -> int:
        return len(self._owners)


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


async def _known_owners(request: Request) -> KnownOwners:
    owners: KnownOwners = request.app.state.known_owners
    return owners


KnownOwnersDep = Annotated[KnownOwners, Depends(_known_owners)]


class PlayerReads:
    """Runs a read for the caller, started alongside the token's check."""

    def __init__(
        self,
        token: str,
        authenticate: Callable[[str], Awaitable[str]],
        owners: KnownOwners,
    ) -> None:
        self._token = token
        self._key = owners.key(token)
        self._authenticate = authenticate
        self._owners = owners

    async def player_id(self) -> str:
        """The caller's player id; an unknown, expired or revoked token gives 401."""
        try:
            player_id = await self._authenticate(self._token)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                self._owners.forget(self._key)
            raise
        self._owners.remember(self._key, player_id)
        return player_id

    async def read(self, read: Callable[[str], Awaitable[T]]) -> T:
        """`read(player_id)` for the caller, started early when the owner is known.

        `read` must not change anything: it may run for a token that turns
        out to be revoked, and its result is then discarded.
        """
        known = self._owners.get(self._key)
        if known is None:
            return await read(await self.player_id())

        early = asyncio.ensure_future(read(known))
        try:
            player_id = await self.player_id()
            if player_id == known:
                return await early
        finally:
            # Stops an abandoned read; on one already done it also marks its
            # error as seen, so asyncio does not log it as never retrieved.
            early.cancel()
        return await read(player_id)


async def _authenticator(backends: BackendsDep) -> Callable[[str], Awaitable[str]]:
    async def authenticate(token: str) -> str:
        request = player_pb2.AuthenticateRequest(token=token)
        reply = await backends.player.Authenticate(request)
        return reply.player_id

    return authenticate


async def player_reads(
    token: Token,
    owners: KnownOwnersDep,
    authenticate: Annotated[Callable[[str], Awaitable[str]], Depends(_authenticator)],
) -> PlayerReads:
    return PlayerReads(token, authenticate, owners)


Reads = Annotated[PlayerReads, Depends(player_reads)]


async def authenticated_player(reads: Reads) -> str:
    """The caller's player id, once the player service has said the token is live."""
    return await reads.player_id()


PlayerId = Annotated[str, Depends(authenticated_player)]
