"""OpenTelemetry tracing, configured by the standard OTEL_* environment variables.

Spans go nowhere unless OTEL_EXPORTER_OTLP_ENDPOINT (or the traces-specific
variable) is set; then they are batched to that collector over OTLP/gRPC.
"""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_ENDPOINT_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
)


def configure_tracing(
    service: str, extra_processor: SpanProcessor | None = None
) -> TracerProvider:
    """Install the global tracer provider and instrument asyncpg and redis.

    `extra_processor` lets a test collect spans in memory. Calling this again in
    the same process returns the provider already installed.
    """
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        if extra_processor is not None:
            current.add_span_processor(extra_processor)
        return current

    resource = Resource.create(
        {SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME", service)}
    )
    provider = TracerProvider(resource=resource)
    if any(os.environ.get(name) for name in _ENDPOINT_VARIABLES):
        # Imported here so a process that exports nowhere never loads the exporter.
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter,
        )

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if extra_processor is not None:
        provider.add_span_processor(extra_processor)
    trace.set_tracer_provider(provider)

    AsyncPGInstrumentor().instrument(  # type: ignore[no-untyped-call]
        tracer_provider=provider
    )
    RedisInstrumentor().instrument(tracer_provider=provider)
    return provider


def shutdown_tracing() -> None:
    """Flush spans still buffered; called on the way out of a process."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()
