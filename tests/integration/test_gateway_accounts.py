"""Accounts, sessions, health and errors through the gateway and a real player."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

from gateway.config import GatewaySettings
from services.common.process import ServiceProcess
from tests.integration.conftest import StartPlayer, serving

PASSWORD = "correct horse battery"
PROBLEM = "application/problem+json"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that refuses connections: bound, never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def settings_for(player: ServiceProcess, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "player_address": player.server.address,
        "nodes_address": "127.0.0.1:9",
        "hacks_address": "127.0.0.1:9",
    }
    values.update(overrides)
    return GatewaySettings(**values)


def address_for(unique: str) -> str:
    """A client address of this test's own, so login failures do not add up."""
    a, b, c = (int(unique[i : i + 2], 16) for i in (0, 2, 4))
    return f"10.{a}.{b}.{c}"


@pytest.fixture
async def client(player_process, unique) -> AsyncIterator[httpx2.AsyncClient]:
    async with serving(settings_for(player_process), address_for(unique)) as client:
        yield client


def assert_problem(reply: httpx2.Response, status: int) -> dict[str, Any]:
    assert reply.status_code == status
    assert reply.headers["content-type"] == PROBLEM
    body: dict[str, Any] = reply.json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


async def register(client: httpx2.AsyncClient, username: str) -> httpx2.Response:
    return await client.post(
        "/v1/accounts", json={"username": username, "password": PASSWORD}
    )


async def login(
    client: httpx2.AsyncClient, username: str, password: str = PASSWORD
) -> httpx2.Response:
    return await client.post(
        "/v1/sessions", json={"username": username, "password": password}
    )


async def test_registering_answers_201_with_the_new_player(client, unique):
    reply = await register(client, f"neo_{unique}")

    assert reply.status_code == 201
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert set(body) == {"id", "username", "credits", "heat", "created_at"}
    assert body["username"] == f"neo_{unique}"
    assert body["credits"] == 1000
    assert body["heat"] == 0
    assert body["created_at"].endswith("Z")
    created_at = datetime.fromisoformat(body["created_at"])
    assert abs(datetime.now(UTC) - created_at) < timedelta(minutes=1)


async def test_registering_a_taken_username_answers_409_problem(client, unique):
    await register(client, f"trinity_{unique}")

    reply = await register(client, f"TRINITY_{unique}")

    body = assert_problem(reply, 409)
    assert body["title"] == "Conflict"
    assert "taken" in body["detail"]


async def test_a_malformed_username_answers_400_with_the_services_reason(client):
    reply = await register(client, "a;b")

    body = assert_problem(reply, 400)
    assert body["detail"].startswith("username:")


async def test_an_unknown_body_field_answers_422_naming_it(client, unique):
    reply = await client.post(
        "/v1/accounts",
        json={"username": f"x_{unique}", "password": PASSWORD, "is_admin": True},
    )

    body = assert_problem(reply, 422)
    assert body["errors"] == [
        {"field": "is_admin", "message": "Extra inputs are not permitted"}
    ]
    assert "is_admin" in body["detail"]


async def test_a_wrongly_typed_field_answers_422_naming_it(client, unique):
    reply = await client.post(
        "/v1/accounts", json={"username": f"x_{unique}", "password": 1234567890}
    )

    body = assert_problem(reply, 422)
    assert [error["field"] for error in body["errors"]] == ["password"]
    assert "1234567890" not in reply.text


async def test_a_missing_field_answers_422_naming_it(client):
    reply = await client.post("/v1/sessions", json={"password": PASSWORD})

    body = assert_problem(reply, 422)
    assert body["errors"] == [{"field": "username", "message": "Field required"}]


async def test_a_body_that_is_not_json_answers_422(client):
    reply = await client.post(
        "/v1/accounts",
        content=b'{"username": ',
        headers={"content-type": "application/json"},
    )

    body = assert_problem(reply, 422)
    assert [error["field"] for error in body["errors"]] == ["body"]


async def test_logging_in_answers_201_with_a_token_and_the_player(client, unique):
    player = (await register(client, f"morpheus_{unique}")).json()

    reply = await login(client, f"morpheus_{unique}")

    assert reply.status_code == 201
    body = reply.json()
    assert set(body) == {"token", "expires_at", "player"}
    assert len(body["token"]) >= 40
    assert body["player"] == player
    assert datetime.fromisoformat(body["expires_at"]) > datetime.now(UTC)


async def test_a_wrong_password_answers_401_problem(client, unique):
    await register(client, f"cypher_{unique}")

    reply = await login(client, f"cypher_{unique}", "not the password")

    body = assert_problem(reply, 401)
    assert body["detail"] == "wrong username or password"
    assert reply.headers["www-authenticate"] == "Bearer"


async def test_me_with_a_token_answers_the_player(client, unique):
    player = (await register(client, f"switch_{unique}")).json()
    token = (await login(client, f"switch_{unique}")).json()["token"]

    reply = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})

    assert reply.status_code == 200
    assert reply.json() == player


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer"}, {"Authorization": "Basic dXNlcjpwYXNz"}],
    ids=["no header", "no token", "another scheme"],
)
async def test_me_without_a_bearer_token_answers_401(client, headers):
    reply = await client.get("/v1/me", headers=headers)

    body = assert_problem(reply, 401)
    assert "Bearer" in body["detail"]
    assert reply.headers["www-authenticate"] == "Bearer"


async def test_me_with_an_unknown_token_answers_401(client):
    reply = await client.get("/v1/me", headers={"Authorization": "Bearer not-a-token"})

    assert_problem(reply, 401)
    assert reply.headers["www-authenticate"] == "Bearer"


async def test_logging_out_answers_204_and_the_token_stops_working(client, unique):
    await register(client, f"tank_{unique}")
    token = (await login(client, f"tank_{unique}")).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}

    logout = await client.delete("/v1/sessions/current", headers=bearer)
    after = await client.get("/v1/me", headers=bearer)
    again = await client.delete("/v1/sessions/current", headers=bearer)

    assert logout.status_code == 204
    assert logout.content == b""
    assert_problem(after, 401)
    assert_problem(again, 401)


async def test_repeated_failed_logins_answer_429_with_retry_after(client, unique):
    await register(client, f"dozer_{unique}")
    for _ in range(5):
        assert (await login(client, f"dozer_{unique}", "wrong")).status_code == 401

    # Even the right password is refused until the minute is over.
    reply = await login(client, f"dozer_{unique}")

    body = assert_problem(reply, 429)
    assert "wait" in body["detail"]
    assert reply.headers["retry-after"] == "60"


async def test_failed_logins_are_counted_per_client_address(player_process, unique):
    settings = settings_for(player_process)
    noisy, quiet = f"192.0.2.{int(unique[:2], 16)}", address_for(unique)
    async with serving(settings, noisy) as client:
        for attempt in range(30):
            await login(client, f"ghost{attempt}_{unique}", "wrong")
        from_noisy = await login(client, f"other_{unique}", "wrong")
    async with serving(settings, quiet) as client:
        from_quiet = await login(client, f"other_{unique}", "wrong")

    assert_problem(from_noisy, 429)
    assert_problem(from_quiet, 401)


async def test_healthz_answers_200_when_the_required_backends_serve(player_process):
    settings = settings_for(player_process, required_backends=["player"])
    async with serving(settings) as client:
        reply = await client.get("/v1/healthz")

    assert reply.status_code == 200
    assert reply.json() == {"status": "ok", "backends": {"player": "serving"}}


async def test_healthz_answers_503_naming_the_backend_that_does_not_answer(
    player_process, silent_port
):
    settings = settings_for(
        player_process,
        nodes_address=f"127.0.0.1:{silent_port}",
        required_backends=["player", "nodes"],
    )
    async with serving(settings) as client:
        reply = await client.get("/v1/healthz")

    body = assert_problem(reply, 503)
    assert body["detail"] == "Not serving: nodes."
    assert body["backends"] == {"player": "serving", "nodes": "unreachable"}


async def test_a_player_service_that_is_down_answers_503_without_its_details(
    player_process, silent_port, unique
):
    settings = settings_for(player_process, player_address=f"127.0.0.1:{silent_port}")
    async with serving(settings) as client:
        reply = await register(client, f"down_{unique}")

    body = assert_problem(reply, 503)
    assert body["detail"] == "A game service is unavailable; try again later."
    assert str(silent_port) not in reply.text


async def test_a_player_service_that_hangs_answers_504_at_the_deadline(
    player_process, unique
):
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    # Accepts connections and never says a word, so no call can complete.
    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = settings_for(
        player_process, player_address=f"127.0.0.1:{port}", backend_timeout=0.3
    )
    try:
        async with serving(settings) as client:
            started = time.monotonic()
            reply = await register(client, f"hang_{unique}")
            elapsed = time.monotonic() - started
    finally:
        server.close()
        await server.wait_closed()

    body = assert_problem(reply, 504)
    assert "in time" in body["detail"]
    assert elapsed < 2.0


async def test_openapi_document_lists_the_routes(client):
    reply = await client.get("/v1/openapi.json")

    assert reply.status_code == 200
    paths = reply.json()["paths"]
    assert {path: sorted(paths[path]) for path in paths} == {
        "/v1/accounts": ["post"],
        "/v1/sessions": ["post"],
        "/v1/sessions/current": ["delete"],
        "/v1/me": ["get"],
        "/v1/healthz": ["get"],
        "/v1/nodes": ["get"],
        "/v1/builds": ["get", "post"],
    }
    conflict = paths["/v1/accounts"]["post"]["responses"]["409"]
    assert list(conflict["content"]) == [PROBLEM]


async def test_a_body_over_the_size_limit_answers_413(client):
    oversized = {"username": "big", "password": "p" * 20_000}

    reply = await client.post("/v1/accounts", json=oversized)

    body = assert_problem(reply, 413)
    assert "16384" in body["detail"]


async def test_a_streamed_body_over_the_size_limit_answers_413(client):
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"username": "big", "password": "'
        for _ in range(20):
            yield b"p" * 1000

    reply = await client.post(
        "/v1/accounts", content=chunks(), headers={"content-type": "application/json"}
    )

    assert "content-length" not in reply.request.headers
    assert_problem(reply, 413)


async def test_an_unknown_route_and_method_answer_problems(client):
    missing = await client.get("/v1/nowhere")
    wrong_method = await client.get("/v1/accounts")

    assert_problem(missing, 404)
    assert_problem(wrong_method, 405)
    assert wrong_method.headers["allow"] == "POST"


async def test_registrations_are_limited_per_client_address(
    player_with: StartPlayer, unique
):
    strict = await player_with(registrations_per_address_per_minute=2)
    settings = settings_for(strict.process)
    async with serving(settings, address_for(unique)) as client:
        flood = [
            await register(client, f"flood{attempt}_{unique}") for attempt in range(3)
        ]
    async with serving(settings, f"192.0.2.{int(unique[:2], 16)}") as client:
        elsewhere = await register(client, f"calm_{unique}")

    assert [reply.status_code for reply in flood[:2]] == [201, 201]
    body = assert_problem(flood[2], 429)
    assert "too many registrations" in body["detail"]
    assert elsewhere.status_code == 201
