"""Registration, login, sessions and logout through the real player service."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import asyncpg
import grpc
import pytest

from hiddenwars.player.v1 import player_pb2 as pb
from tests.fixtures_db import ThrowawayDatabase, query
from tests.integration.conftest import StartPlayer
from tests.servers import free_port

if TYPE_CHECKING:
    from hiddenwars.player.v1.player_pb2_grpc import PlayerServiceAsyncStub

PASSWORD = "correct horse battery"


async def register(stub: PlayerServiceAsyncStub, username: str) -> pb.Player:
    reply = await stub.Register(
        pb.RegisterRequest(username=username, password=PASSWORD)
    )
    return reply.player


async def login(
    stub: PlayerServiceAsyncStub,
    username: str,
    password: str = PASSWORD,
    address: str = "",
) -> pb.LoginResponse:
    return await stub.Login(
        pb.LoginRequest(username=username, password=password, client_address=address)
    )


async def test_new_player_starts_with_starting_credits_and_no_heat(player_stub, unique):
    player = await register(player_stub, f"neo_{unique}")

    assert player.username == f"neo_{unique}"
    assert player.credits == 1000
    assert player.heat == 0
    assert player.created_at.seconds > 0


async def test_username_is_unique_regardless_of_case(player_stub, unique):
    await register(player_stub, f"Trinity_{unique}")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await register(player_stub, f"tRINITY_{unique}")

    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "taken" in caught.value.details()


@pytest.mark.parametrize("username", ["ab", "x" * 25, "has space", "semi;colon", ""])
async def test_malformed_username_is_refused_naming_the_field(player_stub, username):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await register(player_stub, username)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("username:")


async def test_password_shorter_than_ten_characters_is_refused(player_stub, unique):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await player_stub.Register(
            pb.RegisterRequest(username=f"short_{unique}", password="123456789")
        )

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("password:")


async def test_password_is_stored_as_argon2id_at_owasp_minimum_or_above(
    player_stub, unique, database: ThrowawayDatabase
):
    player = await register(player_stub, f"hash_{unique}")

    connection = await asyncpg.connect(database.superuser_url)
    try:
        stored = await connection.fetchval(
            "SELECT password_hash FROM player.players WHERE id = $1::uuid", player.id
        )
    finally:
        await connection.close()

    assert stored.startswith("$argon2id$v=19$")
    params = dict(part.split("=") for part in stored.split("$")[3].split(","))
    assert int(params["m"]) >= 19456
    assert int(params["t"]) >= 2
    assert PASSWORD not in stored


async def test_login_returns_a_token_of_which_only_the_hash_is_stored(
    player_stub, unique, database: ThrowawayDatabase
):
    player = await register(player_stub, f"morpheus_{unique}")

    reply = await login(player_stub, f"MORPHEUS_{unique}")

    assert reply.player.id == player.id
    assert len(reply.token) >= 40
    assert reply.expires_at.seconds > reply.player.created_at.seconds
    connection = await asyncpg.connect(database.superuser_url)
    try:
        rows = await connection.fetch(
            "SELECT token_hash FROM player.sessions WHERE player_id = $1::uuid",
            player.id,
        )
    finally:
        await connection.close()
    assert [row["token_hash"] for row in rows] == [
        hashlib.sha256(reply.token.encode()).digest()
    ]


async def test_failed_login_says_the_same_for_unknown_user_and_wrong_password(
    player_stub, unique
):
    await register(player_stub, f"cypher_{unique}")

    with pytest.raises(grpc.aio.AioRpcError) as wrong_password:
        await login(player_stub, f"cypher_{unique}", "not the password")
    with pytest.raises(grpc.aio.AioRpcError) as unknown_user:
        await login(player_stub, f"nobody_{unique}", "not the password")

    assert wrong_password.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert unknown_user.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert wrong_password.value.details() == unknown_user.value.details()


async def test_repeated_failures_for_one_username_are_slowed_down(player_stub, unique):
    await register(player_stub, f"tank_{unique}")
    for attempt in range(5):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await login(
                player_stub, f"tank_{unique}", "wrong", address=f"10.0.0.{attempt}"
            )
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED

    # Even the right password is refused until the minute is over.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await login(player_stub, f"tank_{unique}", address="10.0.1.1")

    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_repeated_failures_from_one_address_are_slowed_down(player_stub, unique):
    address = f"198.51.100.{int(unique[:2], 16)}-{unique}"
    for attempt in range(30):
        with pytest.raises(grpc.aio.AioRpcError):
            await login(
                player_stub, f"ghost{attempt}_{unique}", "wrong", address=address
            )

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await login(player_stub, f"other_{unique}", "wrong", address=address)

    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_token_authenticates_its_player_until_logout(player_stub, unique):
    player = await register(player_stub, f"switch_{unique}")
    token = (await login(player_stub, f"switch_{unique}")).token

    first = await player_stub.Authenticate(pb.AuthenticateRequest(token=token))
    cached = await player_stub.Authenticate(pb.AuthenticateRequest(token=token))
    await player_stub.Logout(pb.LogoutRequest(token=token))

    assert first.player_id == cached.player_id == player.id
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await player_stub.Authenticate(pb.AuthenticateRequest(token=token))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_logout_of_an_unknown_token_is_unauthenticated(player_stub):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await player_stub.Logout(pb.LogoutRequest(token="not-a-token"))

    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_get_player_returns_public_state(player_stub, unique):
    player = await register(player_stub, f"apoc_{unique}")

    reply = await player_stub.GetPlayer(pb.GetPlayerRequest(player_id=player.id))

    assert reply.player == player


async def test_get_player_with_a_malformed_id_names_the_field(player_stub):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await player_stub.GetPlayer(pb.GetPlayerRequest(player_id="42"))

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("player_id:")


async def test_get_player_of_an_unknown_id_is_not_found(player_stub):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await player_stub.GetPlayer(
            pb.GetPlayerRequest(player_id="00000000-0000-0000-0000-000000000000")
        )

    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_sessions_work_end_to_end_while_redis_is_unreachable(
    player_with: StartPlayer, unique: str
):
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    stub = (await player_with(redis_url=unreachable)).stub

    player = await register(stub, f"offline_{unique}")
    token = (await login(stub, f"offline_{unique}")).token
    owner = await stub.Authenticate(pb.AuthenticateRequest(token=token))
    await stub.Logout(pb.LogoutRequest(token=token))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Authenticate(pb.AuthenticateRequest(token=token))

    assert owner.player_id == player.id
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_registrations_from_one_address_are_limited_per_minute(
    player_with: StartPlayer, database: ThrowawayDatabase, unique
):
    strict_player = (await player_with(registrations_per_address_per_minute=2)).stub
    noisy = f"203.0.113.{int(unique[:2], 16)}"
    quiet = f"198.51.100.{int(unique[2:4], 16)}"

    async def attempt(name: str, address: str) -> grpc.StatusCode:
        try:
            await strict_player.Register(
                pb.RegisterRequest(
                    username=f"{name}_{unique}",
                    password=PASSWORD,
                    client_address=address,
                )
            )
        except grpc.aio.AioRpcError as exc:
            details.append(exc.details() or "")
            return exc.code()
        return grpc.StatusCode.OK

    details: list[str] = []

    from_noisy = [await attempt(f"flood{n}", noisy) for n in range(3)]
    from_quiet = await attempt("calm", quiet)
    # A caller inside the cluster sends no address and is not counted.
    internal = [await attempt(f"inside{n}", "") for n in range(3)]

    ok, refused = grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED
    assert from_noisy == [ok, ok, refused]
    assert from_quiet == ok
    assert internal == [ok, ok, ok]
    assert details == [
        "too many registrations from this address; wait a minute before trying again"
    ]
    rows = await query(
        database,
        "SELECT count(*) AS n FROM player.players WHERE username LIKE $1",
        f"flood%_{unique}",
    )
    assert rows[0]["n"] == 2


async def test_a_login_past_the_session_cap_ends_the_oldest_session_at_once(
    player_with: StartPlayer, unique
):
    capped_player = (await player_with(max_sessions_per_player=2)).stub
    await register(capped_player, f"hoarder_{unique}")
    tokens = [(await login(capped_player, f"hoarder_{unique}")).token for _ in "ab"]
    # The oldest token's owner is now cached in Redis.
    await capped_player.Authenticate(pb.AuthenticateRequest(token=tokens[0]))

    tokens.append((await login(capped_player, f"hoarder_{unique}")).token)

    async def works(token: str) -> bool:
        try:
            await capped_player.Authenticate(pb.AuthenticateRequest(token=token))
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAUTHENTICATED
            return False
        return True

    assert [await works(token) for token in tokens] == [False, True, True]


async def test_counters_of_earlier_minutes_are_pruned_whoever_they_belong_to(
    player_stub, database: ThrowawayDatabase, unique
):
    gone = [f"user:gone{n}_{unique}" for n in range(3)]
    await query(
        database,
        "INSERT INTO player.login_failures (subject, window_start, failures) "
        "SELECT s, date_trunc('minute', now()) - interval '10 minutes', 4 "
        "FROM unnest($1::text[]) AS s",
        gone,
    )
    await query(
        database,
        "INSERT INTO player.registration_attempts (address, window_start, attempts) "
        "VALUES ($1, now() - interval '10 minutes', 3)",
        f"gone_{unique}",
    )

    with pytest.raises(grpc.aio.AioRpcError):
        await login(player_stub, f"nobody_{unique}", "wrong password")
    await player_stub.Register(
        pb.RegisterRequest(
            username=f"pruner_{unique}", password=PASSWORD, client_address="192.0.2.1"
        )
    )

    failures = await query(
        database,
        "SELECT count(*) AS n FROM player.login_failures WHERE subject = ANY($1)",
        gone,
    )
    attempts = await query(
        database,
        "SELECT count(*) AS n FROM player.registration_attempts WHERE address = $1",
        f"gone_{unique}",
    )
    assert failures[0]["n"] == 0
    assert attempts[0]["n"] == 0
