"""The error tree every service raises, and its one mapping to gRPC status codes.

    ServiceError
    ├── InvalidArgument      the request itself is wrong; fix it and send again
    ├── NotFound             the thing named does not exist (for this caller)
    ├── AlreadyExists        the thing to create exists already
    ├── FailedPrecondition   the game state does not allow it now
    ├── Unauthenticated      no valid session
    ├── PermissionDenied     valid session, not allowed
    ├── ResourceExhausted    a limit was hit; wait and retry
    └── Unavailable          a dependency did not answer; retry later

A service subclasses these for its own errors (`UsernameTaken(AlreadyExists)`);
the status is found through the class hierarchy, so a subclass needs no entry.
"""

from __future__ import annotations

import grpc


class ServiceError(Exception):
    """Base of every error whose message may be shown to the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(ServiceError):
    """Raised when a field of the request is malformed or out of range."""


class NotFound(ServiceError):
    """Raised when the entity the request names does not exist."""


class AlreadyExists(ServiceError):
    """Raised when the entity the request would create exists already."""


class FailedPrecondition(ServiceError):
    """Raised when the request is well formed but the game state forbids it."""


class Unauthenticated(ServiceError):
    """Raised when a session token is missing, unknown, expired or revoked."""


class PermissionDenied(ServiceError):
    """Raised when an authenticated caller may not do this."""


class ResourceExhausted(ServiceError):
    """Raised when a rate or quantity limit is reached."""


class Unavailable(ServiceError):
    """Raised when a dependency did not answer in time."""


STATUS_BY_ERROR: dict[type[ServiceError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
}


def status_for(error: ServiceError) -> grpc.StatusCode:
    """The gRPC status for an error, found through its class hierarchy."""
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return grpc.StatusCode.INTERNAL
