"""The readiness route: can the gateway reach every backend it needs?"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gateway.config import BackendName
from gateway.errors import problem, responses
from gateway.state import BackendsDep, SettingsDep

router = APIRouter(prefix="/v1", tags=["health"])


class Health(BaseModel):
    status: Literal["ok"]
    # Backend name to its grpc.health.v1 status, lower case ("serving").
    backends: dict[BackendName, str]


@router.get("/healthz", response_model=Health, responses=responses(503))
async def healthz(
    settings: SettingsDep, backends: BackendsDep
) -> Health | JSONResponse:
    """200 when every required backend is serving, else 503 naming the others."""
    statuses = await backends.health(
        settings.required_backends, settings.health_timeout
    )

    failing = [name for name, status in statuses.items() if status != "serving"]
    if failing:
        return problem(503, f"Not serving: {', '.join(failing)}.", backends=statuses)
    return Health(status="ok", backends=statuses)
