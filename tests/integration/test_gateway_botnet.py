"""The dashboard and the build queue through the gateway, on real services."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.auth import KnownOwners
from gateway.config import GatewaySettings
from tests.fixtures_db import query
from tests.integration.conftest import Stack, serving_app

PROBLEM = "application/problem+json"


@pytest.fixture
def app(stack: Stack) -> FastAPI:
    settings = GatewaySettings(
        player_address=stack.player_process.server.address,
        nodes_address=stack.nodes_process.server.address,
        hacks_address="127.0.0.1:9",
    )
    return create_app(settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx2.AsyncClient]:
    async with serving_app(app) as http:
        yield http


async def signed_in(client: httpx2.AsyncClient, username: str) -> dict[str, str]:
    credentials = {"username": username, "password": "p" * 12}
    assert (await client.post("/v1/accounts", json=credentials)).status_code == 201
    session = await client.post("/v1/sessions", json=credentials)
    return {"Authorization": f"Bearer {session.json()['token']}"}


async def test_a_new_player_sees_three_nodes_on_the_dashboard(client, unique):
    auth = await signed_in(client, f"dash_{unique}")

    reply = await client.get("/v1/nodes", headers=auth)

    assert reply.status_code == 200
    body = reply.json()
    assert body["total_nodes"] == 3
    assert body["next_page_token"] == ""
    assert {node["state"] for node in body["nodes"]} == {"healthy"}


async def test_the_dashboard_pages_with_an_opaque_token(client, unique):
    auth = await signed_in(client, f"pager_{unique}")

    first = await client.get("/v1/nodes", params={"page_size": 2}, headers=auth)
    token = first.json()["next_page_token"]
    second = await client.get(
        "/v1/nodes", params={"page_size": 2, "page_token": token}, headers=auth
    )

    assert [len(first.json()["nodes"]), len(second.json()["nodes"])] == [2, 1]
    assert second.json()["next_page_token"] == ""


async def test_a_page_size_over_100_is_a_422_naming_the_parameter(client, unique):
    auth = await signed_in(client, f"big_{unique}")

    reply = await client.get("/v1/nodes", params={"page_size": 101}, headers=auth)

    assert reply.status_code == 422
    assert reply.headers["content-type"] == PROBLEM
    assert "page_size" in str(reply.json()["errors"])


async def test_the_dashboard_needs_a_session(client):
    reply = await client.get("/v1/nodes")

    assert reply.status_code == 401
    assert reply.headers["content-type"] == PROBLEM


async def test_a_retried_build_order_with_the_same_key_applies_once(
    client, stack: Stack, unique
):
    auth = await signed_in(client, f"orderer_{unique}")
    headers = {**auth, "Idempotency-Key": f"order-{unique}"}

    first = await client.post("/v1/builds", json={"kind": "relay"}, headers=headers)
    retry = await client.post("/v1/builds", json={"kind": "relay"}, headers=headers)
    me = await client.get("/v1/me", headers=auth)
    listed = await client.get("/v1/builds", headers=auth)

    assert first.status_code == retry.status_code == 202
    assert first.json() == retry.json()
    assert first.json()["state"] == "in_progress"
    assert first.json()["finishes_at"] is not None
    assert me.json()["credits"] == 1000 - 150
    assert [build["id"] for build in listed.json()["builds"]] == [first.json()["id"]]
    rows = await query(
        stack.database,
        "SELECT count(*) AS n FROM nodes.builds WHERE player_id = $1::uuid",
        me.json()["id"],
    )
    assert rows[0]["n"] == 1


async def test_a_build_the_player_cannot_afford_is_a_409_problem(
    client, stack: Stack, unique
):
    auth = await signed_in(client, f"skint_{unique}")
    me = await client.get("/v1/me", headers=auth)
    await query(
        stack.database,
        "UPDATE player.players SET credits = 0 WHERE id = $1::uuid",
        me.json()["id"],
    )

    reply = await client.post("/v1/builds", json={"kind": "relay"}, headers=auth)

    assert reply.status_code == 409
    assert reply.headers["content-type"] == PROBLEM
    assert "not enough credits" in reply.json()["detail"]
    assert (await client.get("/v1/builds", headers=auth)).json() == {"builds": []}


async def test_an_unknown_kind_is_a_400_naming_the_field(client, unique):
    auth = await signed_in(client, f"kinder_{unique}")

    reply = await client.post("/v1/builds", json={"kind": "warp"}, headers=auth)

    assert reply.status_code == 400
    assert reply.json()["detail"].startswith("kind:")


async def test_an_unknown_field_in_a_build_order_is_a_422(client, unique):
    auth = await signed_in(client, f"extra_{unique}")

    reply = await client.post(
        "/v1/builds", json={"kind": "relay", "free": True}, headers=auth
    )

    assert reply.status_code == 422
    assert "free" in str(reply.json()["errors"])


async def test_an_idempotency_key_with_spaces_is_a_422(client, unique):
    auth = await signed_in(client, f"spacey_{unique}")

    reply = await client.post(
        "/v1/builds",
        json={"kind": "relay"},
        headers={**auth, "Idempotency-Key": "has spaces"},
    )

    assert reply.status_code == 422
    assert "idempotency-key" in str(reply.json()["errors"]).lower()


async def test_a_logged_out_token_gets_401_from_reads_that_start_before_the_check(
    app: FastAPI, client, unique
):
    auth = await signed_in(client, f"leaver_{unique}")
    owners: KnownOwners = app.state.known_owners
    key = owners.key(auth["Authorization"].removeprefix("Bearer "))
    # Remembered at login: this token's reads start alongside its check.
    remembered = owners.get(key)
    me = await client.get("/v1/me", headers=auth)
    assert remembered == me.json()["id"]

    logout = await client.delete("/v1/sessions/current", headers=auth)
    assert logout.status_code == 204
    assert owners.get(key) is None
    # Remembered again, as another replica that missed the logout would have,
    # so that each read below starts before the check refuses the token.
    replies = []
    for path in ("/v1/nodes", "/v1/builds", "/v1/me"):
        owners.remember(key, me.json()["id"])
        replies.append(await client.get(path, headers=auth))

    assert [reply.status_code for reply in replies] == [401, 401, 401]
    assert {reply.headers["content-type"] for reply in replies} == {PROBLEM}
    assert all("nodes" not in reply.json() for reply in replies)
    assert owners.get(key) is None
