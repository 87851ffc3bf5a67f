"""The gRPC-to-HTTP table and the problem responses, without any service."""

from __future__ import annotations

import logging

import grpc
import httpx2
import pytest

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.errors import GENERIC_DETAIL, HTTP_BY_GRPC, problem


def test_every_grpc_status_has_an_http_translation():
    missing = [code.name for code in grpc.StatusCode if code not in HTTP_BY_GRPC]

    assert missing == []


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 400),
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.ALREADY_EXISTS, 409),
        (grpc.StatusCode.FAILED_PRECONDITION, 409),
        (grpc.StatusCode.UNAUTHENTICATED, 401),
        (grpc.StatusCode.PERMISSION_DENIED, 403),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
        (grpc.StatusCode.UNAVAILABLE, 503),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
        (grpc.StatusCode.INTERNAL, 500),
        (grpc.StatusCode.UNKNOWN, 500),
    ],
)
def test_grpc_status_maps_to_its_http_status(code, status):
    assert HTTP_BY_GRPC[code].status == status


def test_only_client_errors_pass_the_services_message_on():
    passed_on = {
        code for code, translation in HTTP_BY_GRPC.items() if translation.detail is None
    }

    assert all(HTTP_BY_GRPC[code].status < 500 for code in passed_on)
    assert HTTP_BY_GRPC[grpc.StatusCode.INTERNAL].detail == GENERIC_DETAIL
    assert HTTP_BY_GRPC[grpc.StatusCode.UNKNOWN].detail == GENERIC_DETAIL


def test_every_401_asks_for_a_bearer_token_and_every_429_says_when_to_retry():
    for translation in HTTP_BY_GRPC.values():
        if translation.status == 401:
            assert translation.headers == {"WWW-Authenticate": "Bearer"}
        if translation.status == 429:
            assert translation.headers == {"Retry-After": "60"}


def test_a_problem_has_the_rfc_9457_members_and_media_type():
    response = problem(409, "username: taken", headers={"X-Test": "1"}, extra=[1])

    assert response.status_code == 409
    assert response.media_type == "application/problem+json"
    assert response.headers["x-test"] == "1"
    assert response.body == (
        b'{"type":"about:blank","title":"Conflict","status":409,'
        b'"detail":"username: taken","extra":[1]}'
    )


async def test_an_unexpected_error_answers_a_generic_500_and_is_logged_once(caplog):
    app = create_app(GatewaySettings())

    async def explode() -> None:
        raise RuntimeError("password=hunter2 at db-7.internal")

    app.add_api_route("/v1/explode", explode)
    transport = httpx2.ASGITransport(app=app)
    with caplog.at_level(logging.INFO):
        async with httpx2.AsyncClient(
            transport=transport, base_url="http://test"
        ) as client:
            reply = await client.get("/v1/explode")

    assert reply.status_code == 500
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": GENERIC_DETAIL,
    }
    assert "hunter2" not in reply.text
    logged = [record for record in caplog.records if record.exc_info]
    assert [record.name for record in logged] == ["gateway.errors"]
    assert logged[0].getMessage() == "unexpected error"
