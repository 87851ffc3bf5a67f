"""The cap on request body size, answered with a problem+json 413."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import problem


def _too_large(limit: int) -> str:
    return f"The request body is larger than {limit} bytes."


class BodySizeLimit:
    """Refuses a body over `limit` bytes before it is read into memory.

    A declared Content-Length over the limit is answered at once; a body sent
    without one is counted as it arrives, and reading stops at the limit.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            response = problem(413, _too_large(self.limit))
            await response(scope, receive, send)
            return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                # Raised inside the route's body read, so the error handlers
                # turn it into the problem response.
                raise HTTPException(413, _too_large(self.limit))
            return message

        await self.app(scope, counting_receive, send)
