"""Errors of the nodes service, each under the shared tree in services.common.errors.

InvalidArgument    UnknownNodeKind, BadPageToken
NotFound           NodeNotFound
FailedPrecondition UpgradeInProgress, IdempotencyKeyConflict
ResourceExhausted  TooManyBuilds
Unavailable        PaymentUnconfirmed
"""

from __future__ import annotations

from services.common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)


class UnknownNodeKind(InvalidArgument):
    """Raised when a build names a kind the configuration does not have."""


class BadPageToken(InvalidArgument):
    """Raised when a page token was not produced by a previous page."""


class NodeNotFound(NotFound):
    """Raised when an upgrade names a node the player does not own."""


class UpgradeInProgress(FailedPrecondition):
    """Raised when a node already has an upgrade ordered."""


class IdempotencyKeyConflict(FailedPrecondition):
    """Raised when a key is reused for another player or another build."""


class TooManyBuilds(ResourceExhausted):
    """Raised when the player already has the most builds in progress."""


class PaymentUnconfirmed(Unavailable):
    """Raised when the player service did not confirm a build's payment."""
