"""Errors of the player service, each under the shared tree in services.common.errors.

AlreadyExists      UsernameTaken
Unauthenticated    InvalidCredentials, InvalidSession
ResourceExhausted  TooManyLoginAttempts, TooManyRegistrations
Unavailable        PasswordHashingBusy
NotFound           PlayerNotFound
FailedPrecondition InsufficientCredits, IdempotencyKeyConflict
InvalidArgument    (validation, raised directly)
"""

from __future__ import annotations

from services.common.errors import (
    AlreadyExists,
    FailedPrecondition,
    NotFound,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)


class UsernameTaken(AlreadyExists):
    """Raised when a username is registered already, in any letter case."""


class InvalidCredentials(Unauthenticated):
    """Raised on a failed login, whether or not the username exists."""


class InvalidSession(Unauthenticated):
    """Raised when a token is unknown, expired or revoked."""


class TooManyLoginAttempts(ResourceExhausted):
    """Raised when a username or client address failed too often this minute."""


class TooManyRegistrations(ResourceExhausted):
    """Raised when a client address registered too often this minute."""


class PasswordHashingBusy(Unavailable):
    """Raised when too many password hashes are queued to take one more."""


class PlayerNotFound(NotFound):
    """Raised when no player has the id given."""


class InsufficientCredits(FailedPrecondition):
    """Raised when a debit is larger than the player's balance."""


class IdempotencyKeyConflict(FailedPrecondition):
    """Raised when a spend key is reused for another player or amount."""
