"""The whole game as real processes: the four services and the gateway.

Used by `make run` (fixed ports, the `hiddenwars` database) and by the e2e
tests and the benchmark (free ports, a throwaway database).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

import grpc
import httpx2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common.migrate import apply_migrations
from services.common.provision import SERVICES, provision, role_name

DEFAULT_PORTS = {
    "player": 50051,
    "nodes": 50052,
    "hacks": 50053,
    "scheduler": 50054,
    "gateway": 8080,
}
MODULES = {
    "player": "services.player",
    "nodes": "services.nodes",
    "hacks": "services.hacks",
    "scheduler": "services.scheduler",
    "gateway": "gateway",
}


def url_for(admin_url: str, user: str, database: str) -> str:
    """The admin URL with another user and database (trust auth, no password)."""
    parts = urlsplit(admin_url)
    netloc = f"{user}@{parts.hostname or '127.0.0.1'}:{parts.port or 5432}"
    return urlunsplit((parts.scheme, netloc, f"/{database}", parts.query, ""))


@dataclass(frozen=True)
class StackConfig:
    admin_url: str
    redis_url: str
    database: str = "hiddenwars"
    role_prefix: str = "hw_"
    redis_prefix: str = "hw:"
    ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    # Extra variables for every process, e.g. HW_NODE_KINDS for quick builds.
    extra_env: Mapping[str, str] = field(default_factory=dict)
    # Where each process's output goes; None lets it through to this terminal.
    log_dir: Path | None = None

    def address(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def env_for(self, name: str) -> dict[str, str]:
        env = {
            **os.environ,
            "HW_REDIS_URL": self.redis_url,
            "HW_REDIS_PREFIX": self.redis_prefix,
            "HW_PLAYER_ADDRESS": self.address("player"),
            "HW_NODES_ADDRESS": self.address("nodes"),
            "HW_HACKS_ADDRESS": self.address("hacks"),
            "OTEL_SERVICE_NAME": name,
            **self.extra_env,
        }
        if name == "gateway":
            env["HW_HTTP_PORT"] = str(self.ports["gateway"])
        else:
            env["HW_GRPC_PORT"] = str(self.ports[name])
            role = role_name(self.role_prefix, name)
            env["HW_DATABASE_URL"] = url_for(self.admin_url, role, self.database)
        return env


class StackError(Exception):
    """Raised when a process does not start or stops on its own."""


class GameStack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self._logs: list[IO[bytes]] = []

    async def prepare(self) -> None:
        """Provision the database and roles, then migrate every schema."""
        config = self.config
        await provision(config.admin_url, config.database, config.role_prefix)
        for service in SERVICES:
            role = role_name(config.role_prefix, service)
            await apply_migrations(
                url_for(config.admin_url, role, config.database), service
            )

    async def start(self, within_seconds: float = 30.0) -> None:
        for name, module in MODULES.items():
            output: IO[bytes] | None = None
            if self.config.log_dir is not None:
                self.config.log_dir.mkdir(parents=True, exist_ok=True)
                # A log file opens in microseconds; start-up is not a hot path.
                output = open(self.config.log_dir / f"{name}.log", "wb")  # noqa: SIM115, ASYNC230
                self._logs.append(output)
            self.processes[name] = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                module,
                env=self.config.env_for(name),
                stdout=output,
                stderr=asyncio.subprocess.STDOUT if output else None,
            )
        try:
            async with asyncio.timeout(within_seconds):
                for name in MODULES:
                    await self._wait_ready(name)
        except TimeoutError:
            await self.stop()
            raise StackError(
                f"the game did not start within {within_seconds:.0f} s"
            ) from None

    async def _wait_ready(self, name: str) -> None:
        while not await self._is_ready(name):
            if self.processes[name].returncode is not None:
                raise StackError(
                    f"{name} exited with {self.processes[name].returncode}"
                )
            await asyncio.sleep(0.1)

    async def _is_ready(self, name: str) -> bool:
        if name == "gateway":
            try:
                async with httpx2.AsyncClient(timeout=1.0) as client:
                    reply = await client.get(f"{self.config.gateway_url}/v1/healthz")
            except httpx2.HTTPError:
                return False
            return reply.status_code == 200
        async with grpc.aio.insecure_channel(self.config.address(name)) as channel:
            try:
                reply = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=1.0
                )
            except grpc.aio.AioRpcError:
                return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    async def wait_for_exit(self) -> str:
        """Return the name of the first process that exits."""
        waits = {
            asyncio.ensure_future(process.wait()): name
            for name, process in self.processes.items()
        }
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return waits[done.pop()]

    async def stop(self, grace: float = 15.0) -> None:
        """SIGTERM every process, the gateway first; kill what outlives `grace`."""
        for name in reversed(list(self.processes)):
            process = self.processes[name]
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                await asyncio.wait_for(process.wait(), timeout=grace)
            except TimeoutError:
                process.kill()
                await process.wait()
        for log in self._logs:
            log.close()
