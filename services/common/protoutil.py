"""Conversions between protobuf messages and plain Python values."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from services.common.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    ServiceError,
    Unauthenticated,
    Unavailable,
)


def timestamp(value: datetime) -> Timestamp:
    message = Timestamp()
    message.FromDatetime(value)
    return message


def parse_uuid(value: str, field: str) -> UUID:
    """A UUID from a request field, or INVALID_ARGUMENT naming the field."""
    try:
        return UUID(value)
    except ValueError:
        raise InvalidArgument(f"{field}: expected a UUID, got {value[:40]!r}") from None


_ERROR_BY_STATUS: dict[grpc.StatusCode, type[ServiceError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
}


def error_from_rpc(exc: grpc.aio.AioRpcError, peer: str) -> ServiceError:
    """Turn another service's status into ours, so a caller can tell a final
    refusal from a failure worth retrying (everything else is Unavailable)."""
    cls = _ERROR_BY_STATUS.get(exc.code())
    if cls is not None:
        return cls(exc.details() or peer)
    return Unavailable(f"the {peer} service did not answer ({exc.code().name})")
