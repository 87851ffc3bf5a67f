"""The gRPC server every service runs: interceptors, health, reflection, shutdown.

A service hands `GrpcServer` a function that adds its servicers; everything a
process needs around them lives here:

* tracing (OpenTelemetry) and the error interceptor, which turns a
  `ServiceError` into its gRPC status and anything unexpected into INTERNAL
  with a generic message, logged once with its trace id;
* `grpc.health.v1`, SERVING only while PostgreSQL answers;
* server reflection;
* SIGTERM: NOT_SERVING first, then in-flight calls get a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import aio_server_interceptor, filters
from opentelemetry.instrumentation.utils import suppress_instrumentation

from services.common.config import BaseServiceSettings
from services.common.db import ping
from services.common.errors import ServiceError, status_for

logger = logging.getLogger(__name__)

Behavior = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]

# Bounds what one client can make a server hold in memory.
MAX_MESSAGE_BYTES = 1 << 20
MAX_CONNECTION_AGE_MS = 5 * 60 * 1000
# Longer than any call's deadline, so a connection aged out finishes its calls.
MAX_CONNECTION_AGE_GRACE_MS = 30 * 1000


def _translate_errors(method: str, behavior: Behavior) -> Behavior:
    async def wrapper(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        try:
            return await behavior(request, context)
        except ServiceError as exc:
            await context.abort(status_for(exc), exc.message)
        except (grpc.aio.AbortError, asyncio.CancelledError):
            raise
        except Exception:
            logger.exception("unexpected error", extra={"method": method})
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")

    return wrapper


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Maps service errors to statuses in one place, for unary-unary methods."""

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        return grpc.unary_unary_rpc_method_handler(
            _translate_errors(handler_call_details.method, handler.unary_unary),  # type: ignore[arg-type]
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class GrpcServer:
    """One process's gRPC server and the tasks that keep its health honest."""

    def __init__(
        self,
        *,
        service_names: list[str],
        add_servicers: Callable[[grpc.aio.Server], None],
        pool: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        shutdown_grace: float = 10.0,
        health_interval: float = 2.0,
    ) -> None:
        self.service_names = service_names
        self.pool = pool
        self.shutdown_grace = shutdown_grace
        self.health_interval = health_interval
        self.health = HealthServicer()
        self.server = grpc.aio.server(
            interceptors=[
                # Probes call Health every few seconds: no trace for those.
                aio_server_interceptor(  # type: ignore[no-untyped-call]
                    filter_=filters.negate(filters.health_check())
                ),
                ErrorInterceptor(),
            ],
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", 4 * MAX_MESSAGE_BYTES),
                # Clients reconnect, and resolve the name again, every few
                # minutes: that is how they find pods added since they started.
                ("grpc.max_connection_age_ms", MAX_CONNECTION_AGE_MS),
                ("grpc.max_connection_age_grace_ms", MAX_CONNECTION_AGE_GRACE_MS),
            ],
        )
        add_servicers(self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            [
                *service_names,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            self.server,
        )
        self.port = self.server.add_insecure_port(f"{host}:{port}")
        self._watcher: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(
        cls,
        settings: BaseServiceSettings,
        service_name: str,
        add_servicers: Callable[[grpc.aio.Server], None],
        pool: Any,
    ) -> GrpcServer:
        """A server listening where the service's settings say."""
        return cls(
            service_names=[service_name],
            add_servicers=add_servicers,
            pool=pool,
            host=settings.grpc_host,
            port=settings.grpc_port,
            shutdown_grace=settings.shutdown_grace,
        )

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        await self._update_health()
        await self.server.start()
        self._watcher = asyncio.create_task(self._watch_database())
        logger.info("grpc server started", extra={"port": self.port})

    async def stop(self, grace: float | None = None) -> None:
        """Report NOT_SERVING, then give in-flight calls `grace` seconds."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await self.health.enter_graceful_shutdown()
        await self.server.stop(self.shutdown_grace if grace is None else grace)
        logger.info("grpc server stopped")

    async def wait_for_signal(self) -> None:
        """Return on SIGTERM or SIGINT; the caller then stops the process."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        logger.info("shutdown requested")

    async def _update_health(self) -> None:
        # A ping every few seconds would be a trace of its own each time.
        with suppress_instrumentation():
            serving = await ping(self.pool)
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ["", *self.service_names]:
            await self.health.set(name, status)

    async def _watch_database(self) -> None:
        while True:
            await asyncio.sleep(self.health_interval)
            await self._update_health()
