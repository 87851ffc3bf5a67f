"""Game rules of the player service: the moves a player or the scheduler makes."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from services.common.cache import ScopedCache
from services.common.db import transaction
from services.common.errors import InvalidArgument, ServiceError
from services.player import repository
from services.player.config import PlayerSettings
from services.player.errors import (
    IdempotencyKeyConflict,
    InsufficientCredits,
    InvalidCredentials,
    InvalidSession,
    PlayerNotFound,
    TooManyLoginAttempts,
    TooManyRegistrations,
)
from services.player.models import GrantDelivery, HeatDecay, Player, Session, Spend
from services.player.passwords import Passwords

logger = logging.getLogger(__name__)

USERNAME = re.compile(r"^[A-Za-z0-9_-]{3,24}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
MAX_IDEMPOTENCY_KEY = 200
HEAT_DECAY_TICKER = "heat_decay"
# How long a claimed grant is left alone before another caller may retry it.
GRANT_LEASE_SECONDS = 30.0


class StarterGrants(Protocol):
    """The nodes service, as far as registration needs it."""

    async def grant(self, player_id: UUID) -> None: ...


def validate_username(username: str) -> None:
    if not USERNAME.match(username):
        raise InvalidArgument(
            "username: 3 to 24 characters, each a letter, a digit, '_' or '-'"
        )


def validate_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidArgument(
            f"password: between {MIN_PASSWORD} and {MAX_PASSWORD} characters"
        )


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def grant_retry_delay(attempts: int) -> float:
    """Seconds before a failed grant is tried again: 2, 4, 8 ... up to 5 minutes."""
    return float(min(300, 2 ** max(1, attempts)))


class PlayerService:
    def __init__(
        self,
        pool: Any,
        settings: PlayerSettings,
        passwords: Passwords,
        sessions_cache: ScopedCache,
        starter_grants: StarterGrants,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.passwords = passwords
        self.sessions_cache = sessions_cache
        self.starter_grants = starter_grants

    async def register(
        self, username: str, password: str, client_address: str = ""
    ) -> Player:
        """Create the account and its pending starter grant in one transaction,
        then try to deliver the grant; a failed delivery is retried later by
        `deliver_due_grants`, so the player is never left without nodes.

        An attempt from a client address is counted before the password is
        hashed, so a flood from one address costs a row update, not a hash.
        """
        validate_username(username)
        validate_password(password)
        if client_address:
            async with transaction(self.pool) as connection:
                attempts = await repository.count_registration_attempt(
                    connection, client_address
                )
            if attempts > self.settings.registrations_per_address_per_minute:
                raise TooManyRegistrations(
                    "too many registrations from this address; "
                    "wait a minute before trying again"
                )
        password_hash = await self.passwords.hash(password)

        async with transaction(self.pool) as connection:
            player = await repository.insert_player(
                connection, username, password_hash, self.settings.starting_credits
            )
            await repository.insert_starter_grant(connection, player.id)

        await self._deliver_grant(player.id, attempts=1)
        logger.info("player registered", extra={"player_id": str(player.id)})
        return player

    async def login(self, username: str, password: str, client_address: str) -> Session:
        subjects = [f"user:{username.lower()}", f"addr:{client_address or 'unknown'}"]
        async with transaction(self.pool) as connection:
            failures = await repository.count_login_failures(connection, subjects)
            account = await repository.find_account(connection, username)
        if self._over_login_limit(failures, subjects):
            raise TooManyLoginAttempts(
                "too many failed logins; wait a minute before trying again"
            )

        verified = await self.passwords.verify(
            account.password_hash if account else None, password
        )
        if account is None or not verified:
            async with transaction(self.pool) as connection:
                await repository.record_login_failure(connection, subjects)
            raise InvalidCredentials("wrong username or password")

        token = secrets.token_urlsafe(32)
        expires_at = datetime.now(UTC) + timedelta(
            seconds=self.settings.session_ttl_seconds
        )
        async with transaction(self.pool) as connection:
            # Serialises a player's logins, so the cap below holds under races.
            await repository.lock_player(connection, account.player.id)
            await repository.insert_session(
                connection, hash_token(token), account.player.id, expires_at
            )
            ended = await repository.trim_sessions(
                connection, account.player.id, self.settings.max_sessions_per_player
            )
        # Like a logout: no replica may accept an ended token once we answer.
        for token_hash in ended:
            await self.sessions_cache.invalidate(token_hash.hex())
        return Session(token=token, expires_at=expires_at, player=account.player)

    def _over_login_limit(self, failures: dict[str, int], subjects: list[str]) -> bool:
        user, address = subjects
        return (
            failures.get(user, 0) >= self.settings.login_failures_per_user_per_minute
            or failures.get(address, 0)
            >= self.settings.login_failures_per_address_per_minute
        )

    async def logout(self, token: str) -> None:
        token_hash = hash_token(token)
        async with transaction(self.pool) as connection:
            revoked = await repository.revoke_session(connection, token_hash)
        # Dropped before we answer, so no replica can accept the token after.
        await self.sessions_cache.invalidate(token_hash.hex())
        if not revoked:
            raise InvalidSession("the session token is not valid")

    async def authenticate(self, token: str) -> UUID:
        """The player a live token belongs to; Redis first, PostgreSQL on a miss."""
        if not token:
            raise InvalidSession("a session token is required")
        token_hash = hash_token(token)
        scope = token_hash.hex()

        async def load() -> tuple[str, float]:
            async with transaction(self.pool) as connection:
                owner = await repository.find_live_session(connection, token_hash)
            if owner is None:
                return "", 0.0
            return str(owner.player_id), owner.expires_at.timestamp()

        player_id, expires_at = await self.sessions_cache.get_or_load(
            scope,
            "owner",
            load,
            encode=lambda value: f"{value[0]}|{value[1]}".encode(),
            decode=_decode_owner,
        )
        if not player_id or expires_at <= datetime.now(UTC).timestamp():
            raise InvalidSession("the session token is not valid")
        return UUID(player_id)

    async def get_player(self, player_id: UUID) -> Player:
        async with transaction(self.pool) as connection:
            player = await repository.find_player(connection, player_id)
        if player is None:
            raise PlayerNotFound(f"no player with id {player_id}")
        return player

    async def spend_credits(
        self, player_id: UUID, amount: int, idempotency_key: str, reason: str
    ) -> Spend:
        """Debit once per key. The player row is locked first so that two calls
        with the same key serialise and the second finds the first's record."""
        if amount <= 0:
            raise InvalidArgument("amount: must be a positive number of credits")
        if not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
            raise InvalidArgument(
                f"idempotency_key: 1 to {MAX_IDEMPOTENCY_KEY} characters"
            )

        async with transaction(self.pool) as connection:
            player = await repository.lock_player(connection, player_id)
            if player is None:
                raise PlayerNotFound(f"no player with id {player_id}")
            earlier = await repository.find_spend(connection, idempotency_key)
            if earlier is not None:
                if (earlier.player_id, earlier.amount) != (player_id, amount):
                    raise IdempotencyKeyConflict(
                        "idempotency_key: already used for another debit"
                    )
                return earlier
            if player.credits < amount:
                raise InsufficientCredits(
                    f"not enough credits: {amount} needed, {player.credits} available"
                )
            return await repository.debit(
                connection, player_id, amount, idempotency_key, reason[:100]
            )

    async def apply_heat_decay(self, window: int) -> HeatDecay:
        """Cool every player down once per window, in one transaction with the
        window's record, so a repeated or concurrent call changes nothing."""
        if window < 0:
            raise InvalidArgument("window: must not be negative")
        async with transaction(self.pool) as connection:
            windows = await repository.record_ticker_windows(
                connection, HEAT_DECAY_TICKER, window
            )
            cooled = 0
            if windows:
                cooled = await repository.cool_down_players(
                    connection, windows * self.settings.heat_decay_amount
                )
        return HeatDecay(windows_applied=windows, players_cooled=cooled)

    async def deliver_due_grants(self, limit: int) -> GrantDelivery:
        if not 1 <= limit <= 100:
            raise InvalidArgument("limit: 1 to 100")
        async with transaction(self.pool) as connection:
            claimed = await repository.claim_due_grants(
                connection, limit, GRANT_LEASE_SECONDS
            )
        delivered = 0
        for player_id, attempts in claimed:
            delivered += await self._deliver_grant(player_id, attempts)
        async with transaction(self.pool) as connection:
            next_due = await repository.next_grant_due(connection)
        return GrantDelivery(delivered, len(claimed) - delivered, next_due)

    async def _deliver_grant(self, player_id: UUID, attempts: int) -> bool:
        try:
            await self.starter_grants.grant(player_id)
        except ServiceError as exc:
            logger.warning(
                "starter grant not delivered; will retry",
                extra={"player_id": str(player_id), "error": exc.message},
            )
            async with transaction(self.pool) as connection:
                await repository.postpone_grant(
                    connection, player_id, grant_retry_delay(attempts)
                )
            return False
        async with transaction(self.pool) as connection:
            await repository.mark_grant_delivered(connection, player_id)
        return True


def _decode_owner(raw: bytes) -> tuple[str, float]:
    player_id, _, expires_at = raw.decode().partition("|")
    return player_id, float(expires_at)
