"""What a route reaches through its app: the settings and the backends."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.backends import Backends
from gateway.config import GatewaySettings


# Dependencies are coroutines: FastAPI runs a plain `def` one in a worker
# thread, a thread hop per request for a dictionary lookup.
async def _settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


async def _backends(request: Request) -> Backends:
    backends: Backends = request.app.state.backends
    return backends


SettingsDep = Annotated[GatewaySettings, Depends(_settings)]
BackendsDep = Annotated[Backends, Depends(_backends)]
