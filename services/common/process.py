"""A service process from start to exit: open resources, serve, close them."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from services.common.config import BaseServiceSettings, ConfigError, load_settings
from services.common.grpcserver import GrpcServer
from services.common.logs import configure_logging
from services.common.telemetry import configure_tracing, shutdown_tracing

logger = logging.getLogger(__name__)

Closer = Callable[[], Awaitable[object]]
SettingsT = TypeVar("SettingsT", bound=BaseServiceSettings)


@dataclass
class ServiceProcess:
    """A built service: its gRPC server and what to close after it stops."""

    server: GrpcServer
    closers: list[Closer] = field(default_factory=list)
    # Called once the server is up; each returns the tasks it started.
    starters: list[Callable[[], list[asyncio.Task[None]]]] = field(default_factory=list)
    background: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        await self.server.start()
        for start in self.starters:
            self.background.extend(start())

    async def stop(self, grace: float | None = None) -> None:
        # Background loops stop first so none starts work the server cannot finish.
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        await self.server.stop(grace)
        for close in reversed(self.closers):
            await close()


def run_service(
    name: str,
    settings_cls: type[SettingsT],
    build: Callable[[SettingsT], Awaitable[ServiceProcess]],
) -> None:
    """The body of a service's `__main__`: settings, logs, tracing, serve."""
    try:
        settings = load_settings(settings_cls)
    except ConfigError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(name, settings.log_level)
    configure_tracing(name)

    async def serve() -> None:
        process = await build(settings)
        await process.start()
        stop_requested = asyncio.create_task(process.server.wait_for_signal())
        await stop_requested
        await process.stop()

    try:
        asyncio.run(serve())
    finally:
        shutdown_tracing()
