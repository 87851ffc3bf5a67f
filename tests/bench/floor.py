"""The benchmark's floor: a bare ASGI app answering from one Redis GET.

Usage: python -m tests.bench.floor --port P --redis-url URL --key KEY
           [--content-type TYPE]

Every request, whatever its path, gets the bytes stored at KEY with a 200, or
an empty 404 while the key is missing. It runs under uvicorn with the
gateway's choices (one worker, uvicorn's default loop and HTTP parser, no
access log, no logging config of its own) and the services' Redis client, so
what it costs is what any endpoint on this machine pays at the least.
"""

from __future__ import annotations

import argparse

import redis.asyncio as aioredis
import uvicorn
from starlette.types import Receive, Scope, Send

from services.common.cache import create_redis


class FloorApp:
    def __init__(self, redis_url: str, key: str, content_type: str) -> None:
        self.redis_url = redis_url
        self.key = key
        self.content_type = content_type.encode("latin-1")
        self.redis: aioredis.Redis | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http" or self.redis is None:
            return

        stored = await self.redis.get(self.key)
        status = 200 if stored is not None else 404
        body = stored if isinstance(stored, bytes) else b""
        headers = [
            (b"content-type", self.content_type),
            (b"content-length", str(len(body)).encode()),
        ]
        await send(
            {"type": "http.response.start", "status": status, "headers": headers}
        )
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.redis = create_redis(self.redis_url)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.redis is not None:
                    await self.redis.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.floor")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--content-type", default="application/json")
    args = parser.parse_args()
    uvicorn.run(
        FloorApp(args.redis_url, args.key, args.content_type),
        host="127.0.0.1",
        port=args.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )


if __name__ == "__main__":
    main()
