"""The gateway's channels to the services, opened at start-up, and their stubs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.config import BackendName, GatewaySettings
from hiddenwars.nodes.v1 import nodes_pb2_grpc
from hiddenwars.player.v1 import player_pb2_grpc
from services.common.clients import open_channel

logger = logging.getLogger(__name__)

BACKEND_NAMES: tuple[BackendName, ...] = ("player", "nodes", "hacks")


class Backends:
    """One channel per service; a channel connects on its first call."""

    def __init__(self, channels: Mapping[BackendName, grpc.aio.Channel]) -> None:
        self.channels = dict(channels)
        self.player = player_pb2_grpc.PlayerServiceStub(self.channels["player"])
        self.nodes = nodes_pb2_grpc.NodesServiceStub(self.channels["nodes"])

    @classmethod
    def open(cls, settings: GatewaySettings) -> Backends:
        """Channels with tracing and `backend_timeout` as every call's deadline."""
        return cls(
            {
                name: open_channel(
                    settings.address_of(name), timeout=settings.backend_timeout
                )
                for name in BACKEND_NAMES
            }
        )

    async def close(self) -> None:
        await asyncio.gather(*(channel.close() for channel in self.channels.values()))

    async def health(
        self, names: Iterable[BackendName], deadline: float
    ) -> dict[BackendName, str]:
        """Ask each backend's grpc.health.v1 at once: "serving" or why not.

        Each check gets `deadline` seconds; one that gets no answer is "unreachable".
        """
        asked = list(names)
        answers = await asyncio.gather(*(self._check(name, deadline) for name in asked))
        return dict(zip(asked, answers, strict=True))

    async def _check(self, name: BackendName, deadline: float) -> str:
        stub = health_pb2_grpc.HealthStub(self.channels[name])
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=deadline)
        except grpc.aio.AioRpcError as exc:
            logger.warning(
                "health check failed", extra={"backend": name, "code": exc.code().name}
            )
            return "unreachable"
        status: str = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        return status.lower()
