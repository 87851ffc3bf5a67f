"""Channels to other services: traced, and never without a deadline."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors, filters


class DefaultDeadline(grpc.aio.UnaryUnaryClientInterceptor):
    """Gives every unary call a deadline when its caller did not set one."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        if client_call_details.timeout is None:
            client_call_details = grpc.aio.ClientCallDetails(
                method=client_call_details.method,
                timeout=self.seconds,
                metadata=client_call_details.metadata,
                credentials=client_call_details.credentials,
                wait_for_ready=client_call_details.wait_for_ready,
            )
        return await continuation(client_call_details, request)


# Spread calls over every address the name resolves to. Kubernetes gives a
# headless Service one address per ready pod; a plain Service's one virtual IP
# would pin each long-lived HTTP/2 channel to a single pod.
_SERVICE_CONFIG = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})


def open_channel(address: str, *, timeout: float) -> grpc.aio.Channel:
    """An insecure channel (traffic stays inside the cluster) with tracing on,
    balancing its calls round-robin over the addresses `address` resolves to."""
    return grpc.aio.insecure_channel(
        address,
        options=[("grpc.service_config", _SERVICE_CONFIG)],
        interceptors=[
            DefaultDeadline(timeout),
            # Health checks (the gateway's /v1/healthz) are not traced.
            *aio_client_interceptors(  # type: ignore[no-untyped-call]
                filter_=filters.negate(filters.health_check())
            ),
        ],
    )
