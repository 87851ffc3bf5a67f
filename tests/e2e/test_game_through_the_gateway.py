"""A player's first minutes, through the gateway, with every process running."""

from __future__ import annotations

import asyncio

import httpx2

PROBLEM = "application/problem+json"


async def sign_up_and_in(http: httpx2.AsyncClient, username: str) -> dict[str, str]:
    credentials = {"username": username, "password": "a long password"}
    created = await http.post("/v1/accounts", json=credentials)
    assert created.status_code == 201, created.text
    session = await http.post("/v1/sessions", json=credentials)
    assert session.status_code == 201, session.text
    return {"Authorization": f"Bearer {session.json()['token']}"}


async def test_a_player_signs_up_logs_in_reads_the_account_and_logs_out(
    http: httpx2.AsyncClient, unique: str
):
    credentials = {"username": f"e2e_{unique}", "password": "a long password"}

    created = await http.post("/v1/accounts", json=credentials)
    session = await http.post("/v1/sessions", json=credentials)
    auth = {"Authorization": f"Bearer {session.json()['token']}"}
    me = await http.get("/v1/me", headers=auth)
    logout = await http.delete("/v1/sessions/current", headers=auth)
    after = await http.get("/v1/me", headers=auth)

    assert created.status_code == 201
    assert created.json()["credits"] == 1000
    assert session.status_code == 201
    assert me.status_code == 200
    assert me.json() == created.json()
    assert logout.status_code == 204
    assert after.status_code == 401
    assert after.headers["content-type"] == PROBLEM


async def test_an_ordered_build_is_charged_once_and_appears_when_due(
    http: httpx2.AsyncClient, unique: str
):
    auth = await sign_up_and_in(http, f"maker_{unique}")
    nodes = await http.get("/v1/nodes", headers=auth)
    assert nodes.json()["total_nodes"] == 3

    order = {"kind": "relay"}
    headers = {**auth, "Idempotency-Key": f"first-{unique}"}
    build = await http.post("/v1/builds", json=order, headers=headers)
    again = await http.post("/v1/builds", json=order, headers=headers)
    assert build.status_code == again.status_code == 202
    assert again.json()["id"] == build.json()["id"]

    async with asyncio.timeout(10):
        while (await http.get("/v1/nodes", headers=auth)).json()["total_nodes"] < 4:
            await asyncio.sleep(0.2)
    me = await http.get("/v1/me", headers=auth)
    pending = await http.get("/v1/builds", headers=auth)

    assert me.json()["credits"] == 1000 - 150
    assert pending.json() == {"builds": []}


async def test_the_gateway_reports_every_backend_serving(http: httpx2.AsyncClient):
    reply = await http.get("/v1/healthz")

    assert reply.status_code == 200
    assert reply.json() == {
        "status": "ok",
        "backends": {"player": "serving", "nodes": "serving"},
    }
