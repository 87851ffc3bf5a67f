"""Reads that start alongside the token's check, and what happens when it fails."""

from __future__ import annotations

import asyncio
import gc

import grpc
import pytest

from gateway.auth import KnownOwners, PlayerReads

TOKEN = "token-of-alice"


def refused() -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(),
        details="the session token is not valid",
    )


class Calls:
    """An authenticator and a read that record what ran, for whom, in what order."""

    def __init__(self, owner: str | Exception) -> None:
        self.owner = owner
        self.log: list[str] = []
        self.auth_may_answer = asyncio.Event()
        self.read_started = asyncio.Event()
        self.reads_finished: list[str] = []
        self.reads_cancelled: list[str] = []

    async def authenticate(self, token: str) -> str:
        self.log.append("authenticate")
        await self.auth_may_answer.wait()
        if isinstance(self.owner, Exception):
            raise self.owner
        return self.owner

    async def read(self, player_id: str) -> str:
        self.log.append(f"read {player_id}")
        self.read_started.set()
        try:
            await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            self.reads_cancelled.append(player_id)
            raise
        self.reads_finished.append(player_id)
        return f"page of {player_id}"


async def test_an_unknown_token_is_checked_before_its_read_starts():
    owners = KnownOwners(capacity=10)
    calls = Calls("alice")
    calls.auth_may_answer.set()

    page = await PlayerReads(TOKEN, calls.authenticate, owners).read(calls.read)

    assert page == "page of alice"
    assert calls.log == ["authenticate", "read alice"]
    assert owners.get(owners.key(TOKEN)) == "alice"


async def test_a_known_token_starts_its_read_while_the_check_runs():
    owners = KnownOwners(capacity=10)
    owners.remember(owners.key(TOKEN), "alice")
    calls = Calls("alice")

    reading = asyncio.ensure_future(
        PlayerReads(TOKEN, calls.authenticate, owners).read(calls.read)
    )
    # The check has not answered, and the read is already under way.
    await asyncio.wait_for(calls.read_started.wait(), timeout=1.0)
    assert not reading.done()
    calls.auth_may_answer.set()

    assert await reading == "page of alice"
    assert sorted(calls.log) == ["authenticate", "read alice"]


async def test_a_revoked_token_gets_the_refusal_never_the_read():
    owners = KnownOwners(capacity=10)
    owners.remember(owners.key(TOKEN), "alice")
    calls = Calls(refused())
    reads = PlayerReads(TOKEN, calls.authenticate, owners)

    reading = asyncio.ensure_future(reads.read(calls.read))
    await asyncio.wait_for(calls.read_started.wait(), timeout=1.0)
    calls.auth_may_answer.set()

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await reading
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    await asyncio.sleep(0.02)
    assert calls.reads_cancelled == ["alice"]
    assert calls.reads_finished == []
    # Forgotten: the next request with this token waits for its check.
    assert owners.get(owners.key(TOKEN)) is None


async def test_an_owner_other_than_the_remembered_one_reads_again_for_the_right_one():
    owners = KnownOwners(capacity=10)
    owners.remember(owners.key(TOKEN), "mallory")
    calls = Calls("alice")
    calls.auth_may_answer.set()

    page = await PlayerReads(TOKEN, calls.authenticate, owners).read(calls.read)

    assert page == "page of alice"
    assert "mallory" not in calls.reads_finished
    assert owners.get(owners.key(TOKEN)) == "alice"


async def test_a_failed_early_read_after_a_refusal_is_not_reported_as_unretrieved(
    caplog,
):
    owners = KnownOwners(capacity=10)
    owners.remember(owners.key(TOKEN), "alice")

    async def authenticate(token: str) -> str:
        await asyncio.sleep(0.01)
        raise refused()

    async def failing_read(player_id: str) -> str:
        raise RuntimeError("nodes service unavailable")

    with pytest.raises(grpc.aio.AioRpcError):
        await PlayerReads(TOKEN, authenticate, owners).read(failing_read)
    await asyncio.sleep(0)
    gc.collect()  # asyncio reports an unretrieved error when the task is freed

    assert "never retrieved" not in caplog.text


def test_known_owners_drop_the_least_recently_used_past_capacity():
    owners = KnownOwners(capacity=2)
    first, second, third = (owners.key(name) for name in ("t1", "t2", "t3"))
    owners.remember(first, "a")
    owners.remember(second, "b")
    assert owners.get(first) == "a"  # now the most recently used

    owners.remember(third, "c")

    assert len(owners) == 2
    assert owners.get(second) is None
    assert owners.get(first) == "a"
    assert owners.get(third) == "c"


def test_known_owners_hold_digests_not_tokens():
    owners = KnownOwners(capacity=2)
    key = owners.key(TOKEN)

    assert TOKEN.encode() not in key
    assert len(key) == 32
