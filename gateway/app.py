"""Wiring of the gateway: the one place its routes, errors and backends meet."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from starlette.middleware import Middleware

from gateway import accounts, botnet, health
from gateway.auth import KnownOwners
from gateway.backends import Backends
from gateway.config import GatewaySettings
from gateway.errors import EXCEPTION_HANDLERS, UnexpectedErrors, document_problems
from gateway.limits import BodySizeLimit


class _Gateway(FastAPI):
    def openapi(self) -> dict[str, Any]:
        return document_problems(super().openapi())


def create_app(settings: GatewaySettings, backends: Backends | None = None) -> FastAPI:
    """The gateway as an ASGI app.

    Without `backends` the app opens its channels when its lifespan starts and
    closes them when it ends. Backends passed in belong to the caller, who
    closes them; the app then serves without its lifespan having run.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if backends is not None:
            yield
            return
        opened = Backends.open(settings)
        app.state.backends = opened
        try:
            yield
        finally:
            await opened.close()

    app = _Gateway(
        title="HiddenWars gateway",
        version="1",
        openapi_url="/v1/openapi.json",
        docs_url="/v1/docs",
        swagger_ui_oauth2_redirect_url=None,
        redoc_url=None,
        lifespan=lifespan,
        exception_handlers=EXCEPTION_HANDLERS,
        # The first is the outermost.
        middleware=[
            Middleware(UnexpectedErrors),
            Middleware(BodySizeLimit, limit=settings.max_body_bytes),
        ],
        # Spans come from the OpenTelemetry instrumentation below and export
        # through services.common.telemetry; FastAPI's own would double both.
        telemetry={
            "tracing": False,
            "metrics": False,
            "logs": False,
            "auto_configure": False,
        },
    )
    app.state.settings = settings
    app.state.known_owners = KnownOwners(settings.known_sessions)
    if backends is not None:
        app.state.backends = backends
    app.include_router(accounts.router)
    app.include_router(botnet.router)
    app.include_router(health.router)

    # One server span per request; the per-message "receive" and "send" spans
    # would triple the spans of every request and say nothing an SRE needs.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="/v1/healthz", exclude_spans=["receive", "send"]
    )
    return app
