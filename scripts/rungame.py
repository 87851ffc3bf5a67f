"""Run the whole game locally: provision, migrate, start everything, wait.

Usage (through `make run`, which makes sure PostgreSQL and Redis answer):
    python -m scripts.rungame
Ctrl-C stops every process it started.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from scripts.localservers import DEFAULT_POSTGRES_URL, DEFAULT_REDIS_URL
from scripts.stack import GameStack, StackConfig, StackError


async def run(config: StackConfig) -> int:
    stack = GameStack(config)
    await stack.prepare()
    try:
        await stack.start()
    except StackError as exc:
        print(f"rungame: {exc}", file=sys.stderr)
        return 1

    print(
        f"\nHiddenWars is running. Gateway: {config.gateway_url}/v1 "
        f"(OpenAPI at {config.gateway_url}/v1/openapi.json). Ctrl-C stops it.\n",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    exited = asyncio.ensure_future(stack.wait_for_exit())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait([exited, stopped], return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if exited.done():
        print(f"rungame: {exited.result()} stopped; stopping the rest", file=sys.stderr)
        code = 1
    exited.cancel()
    stopped.cancel()
    await stack.stop()
    return code


def main() -> int:
    config = StackConfig(
        admin_url=os.environ.get("HW_DEV_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        redis_url=os.environ.get("HW_DEV_REDIS_URL", DEFAULT_REDIS_URL),
    )
    return asyncio.run(run(config))


if __name__ == "__main__":
    raise SystemExit(main())
