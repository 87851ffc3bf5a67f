"""The gateway's one error shape, and its one table from gRPC status to HTTP.

Every error response is `application/problem+json` (RFC 9457):
{type, title, status, detail}, plus `errors` when the request body is invalid.
Errors reach the client from four places, each turned into a problem here:

    grpc.aio.AioRpcError     a service refused or failed: looked up in HTTP_BY_GRPC
    RequestValidationError   the body does not match its model: 422 naming fields
    HTTPException            routing (404, 405), auth (401), body size (413)
    anything else            500 with a generic detail, logged once
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import grpc
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
GENERIC_DETAIL = "Something went wrong on our side; try again later."


@dataclass(frozen=True)
class Translation:
    """What the client sees for one gRPC status."""

    status: int
    # Sent instead of the service's message. None keeps the message: the
    # services write those for the player (which field, which limit).
    detail: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


_FAILED = Translation(500, GENERIC_DETAIL)

HTTP_BY_GRPC: dict[grpc.StatusCode, Translation] = {
    grpc.StatusCode.INVALID_ARGUMENT: Translation(400),
    grpc.StatusCode.NOT_FOUND: Translation(404),
    grpc.StatusCode.ALREADY_EXISTS: Translation(409),
    grpc.StatusCode.FAILED_PRECONDITION: Translation(409),
    grpc.StatusCode.UNAUTHENTICATED: Translation(
        401, headers={"WWW-Authenticate": "Bearer"}
    ),
    grpc.StatusCode.PERMISSION_DENIED: Translation(403),
    # The services count failures per minute.
    grpc.StatusCode.RESOURCE_EXHAUSTED: Translation(429, headers={"Retry-After": "60"}),
    grpc.StatusCode.UNAVAILABLE: Translation(
        503, "A game service is unavailable; try again later."
    ),
    grpc.StatusCode.DEADLINE_EXCEEDED: Translation(
        504, "A game service did not answer in time; try again later."
    ),
    # The services never send these on purpose; their details are not for players.
    grpc.StatusCode.OK: _FAILED,
    grpc.StatusCode.CANCELLED: _FAILED,
    grpc.StatusCode.UNKNOWN: _FAILED,
    grpc.StatusCode.ABORTED: _FAILED,
    grpc.StatusCode.OUT_OF_RANGE: _FAILED,
    grpc.StatusCode.UNIMPLEMENTED: _FAILED,
    grpc.StatusCode.INTERNAL: _FAILED,
    grpc.StatusCode.DATA_LOSS: _FAILED,
}


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str


class FieldError(BaseModel):
    # Dotted path inside the body, for example "username"; "body" for the whole.
    field: str
    message: str


class ValidationProblem(Problem):
    errors: list[FieldError]


def problem(
    status: int,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail)
    return JSONResponse(
        {**body.model_dump(), **extensions},
        status_code=status,
        headers=headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


async def _backend_error(request: Request, exc: grpc.aio.AioRpcError) -> Response:
    code = exc.code()
    translation = HTTP_BY_GRPC[code]
    if translation.status >= 500:
        logger.warning(
            "backend call failed",
            extra={
                "code": code.name,
                "details": exc.details(),
                "path": request.url.path,
            },
        )

    phrase = HTTPStatus(translation.status).phrase
    detail = translation.detail or exc.details() or phrase
    return problem(translation.status, detail, headers=translation.headers)


def _field_error(error: Mapping[str, Any]) -> FieldError:
    location = [str(part) for part in error["loc"]]
    if error["type"] == "json_invalid":
        # The location holds a character offset, not a field.
        return FieldError(field="body", message=f"not valid JSON: {error['msg']}")
    if location[0] == "body":
        location = location[1:] or ["body"]
    return FieldError(field=".".join(location), message=error["msg"])


async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
    # The errors' "input" is left out: it would echo passwords back.
    errors = [_field_error(error) for error in exc.errors()]
    fields = ", ".join(dict.fromkeys(error.field for error in errors))
    return problem(
        422,
        f"The request has invalid fields: {fields}.",
        errors=[error.model_dump() for error in errors],
    )


async def _http_error(request: Request, exc: HTTPException) -> Response:
    return problem(exc.status_code, exc.detail, headers=exc.headers)


Handler = Callable[[Request, Any], Coroutine[Any, Any, Response]]

EXCEPTION_HANDLERS: dict[int | type[Exception], Handler] = {
    grpc.aio.AioRpcError: _backend_error,
    RequestValidationError: _invalid_request,
    HTTPException: _http_error,
}


class UnexpectedErrors:
    """Answers an exception no handler took with a generic 500 problem.

    Starlette's own last-resort handler re-raises for the server to log, which
    would log every failure twice; this logs it once and stops it here.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if started:
                # Too late for a problem response; the server logs and closes.
                raise
            logger.exception("unexpected error", extra={"path": scope["path"]})
            await problem(500, GENERIC_DETAIL)(scope, receive, send)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problems a route may answer with."""
    return {
        status: {
            "model": ValidationProblem if status == 422 else Problem,
            "description": HTTPStatus(status).phrase,
        }
        for status in statuses
    }


def document_problems(openapi: dict[str, Any]) -> dict[str, Any]:
    """File every error response of the OpenAPI document under problem+json.

    FastAPI files a response model under the route's own media type.
    """
    for path in openapi.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[0] in "45" and "application/json" in content:
                    content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
    return openapi
