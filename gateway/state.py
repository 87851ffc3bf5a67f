"""What a route reaches through its app: the settings and the backends."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.backends import Backends
from gateway.config import GatewaySettings


def _settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


def _backends(request: Request) -> Backends:
    backends: Backends = request.app.state.backends
    return backends


SettingsDep = Annotated[GatewaySettings, Depends(_settings)]
BackendsDep = Annotated[Backends, Depends(_backends)]
