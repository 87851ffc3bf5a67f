"""One browser request is one trace: gateway, gRPC hop, player service, PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind

from gateway.config import GatewaySettings
from services.common.process import ServiceProcess
from services.common.telemetry import configure_tracing
from tests.integration.conftest import serving
from tests.servers import player_settings, start_player

PASSWORD = "correct horse battery"
LOGIN = "/hiddenwars.player.v1.PlayerService/Login"


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    """Spans of this process, kept in memory; the provider is global and stays."""
    exporter = InMemorySpanExporter()
    configure_tracing("test", extra_processor=SimpleSpanProcessor(exporter))
    yield exporter
    # Later tests keep producing spans; a stopped exporter drops them.
    exporter.shutdown()


@pytest.fixture
async def traced_player(
    exporter, database, redis_prefix
) -> AsyncIterator[ServiceProcess]:
    """A player service built after tracing was configured, so its interceptors
    and its pool report to the provider."""
    process = await start_player(player_settings(database, redis_prefix))
    yield process
    await process.stop(0)


def scope_of(span: ReadableSpan) -> str:
    assert span.instrumentation_scope is not None
    return span.instrumentation_scope.name


async def test_a_login_is_one_trace_from_the_gateway_to_postgresql(
    exporter, traced_player, unique
):
    settings = GatewaySettings(
        player_address=traced_player.server.address, nodes_address="127.0.0.1:9"
    )
    credentials = {"username": f"traced_{unique}", "password": PASSWORD}
    async with serving(settings) as client:
        registered = await client.post("/v1/accounts", json=credentials)
        exporter.clear()
        reply = await client.post("/v1/sessions", json=credentials)

    assert registered.status_code == 201
    assert reply.status_code == 201
    spans = exporter.get_finished_spans()
    gateway_spans = [
        span
        for span in spans
        if scope_of(span) == "opentelemetry.instrumentation.fastapi"
        and span.kind == SpanKind.SERVER
    ]
    assert len(gateway_spans) == 1
    gateway = gateway_spans[0]
    assert gateway.attributes is not None
    assert gateway.attributes["http.route"] == "/v1/sessions"
    trace_id = gateway.context.trace_id

    in_trace = [span for span in spans if span.context.trace_id == trace_id]
    login_spans = [span for span in spans if span.name == LOGIN]
    calls = [span for span in login_spans if span.kind == SpanKind.CLIENT]
    handlings = [span for span in login_spans if span.kind == SpanKind.SERVER]
    database_spans = [
        span
        for span in in_trace
        if scope_of(span) == "opentelemetry.instrumentation.asyncpg"
    ]
    # Every span of the login hop is in the gateway's trace, none apart.
    assert {span.context.trace_id for span in login_spans} == {trace_id}
    assert len(calls) == len(handlings) == 1
    assert gateway.parent is None
    assert calls[0].parent is not None
    assert calls[0].parent.span_id == gateway.context.span_id
    assert handlings[0].parent is not None
    assert handlings[0].parent.span_id == calls[0].context.span_id
    assert database_spans
    assert all(span.parent is not None for span in database_spans)
    # FastAPI's own telemetry stays off: one server span per request is enough.
    assert not [span for span in spans if scope_of(span) == "fastapi"]


async def test_health_checks_and_database_pings_leave_no_traces(
    exporter, traced_player
):
    settings = GatewaySettings(
        player_address=traced_player.server.address,
        nodes_address=traced_player.server.address,
        required_backends=("player",),
    )
    async with serving(settings) as client:
        exporter.clear()
        reply = await client.get("/v1/healthz")
        # Long enough for every service's database watcher to ping once.
        await asyncio.sleep(2.5)
        spans = exporter.get_finished_spans()
        # Meanwhile a real call is still traced, through the same channel.
        await client.post(
            "/v1/sessions", json={"username": "nobody", "password": PASSWORD}
        )

    assert reply.status_code == 200
    assert [span.name for span in spans] == []
    traced = [span.name for span in exporter.get_finished_spans()]
    assert LOGIN in traced
