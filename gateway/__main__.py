"""Entry point: python -m gateway"""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import NoReturn

import uvicorn

from gateway.app import create_app
from gateway.config import GatewaySettings
from services.common.config import ConfigError, load_settings
from services.common.logs import configure_logging
from services.common.telemetry import configure_tracing, shutdown_tracing


def _stop(signum: int, frame: FrameType | None) -> NoReturn:
    raise SystemExit(0)


def main() -> None:
    try:
        settings = load_settings(GatewaySettings)
    except ConfigError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging("gateway", settings.log_level)
    # Before the app is built: its instrumentation and channels find the provider.
    configure_tracing("gateway")

    config = uvicorn.Config(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        # Keep the JSON logging configured above; requests show up as spans.
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=settings.shutdown_grace,
    )
    # On SIGTERM uvicorn stops accepting, lets open requests finish and runs the
    # lifespan's shutdown (closing the channels), then raises the signal again
    # with these handlers back in place: exiting through Python, not by the
    # signal, is what lets the finally below flush the spans still buffered.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stop)
    try:
        uvicorn.Server(config).run()
    finally:
        shutdown_tracing()


if __name__ == "__main__":
    main()
