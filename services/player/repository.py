"""SQL of the player schema. Every function runs on a connection the caller
holds inside its transaction; none commits on its own."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from services.common.db import Connection, Record
from services.player.errors import UsernameTaken
from services.player.models import Account, Player, SessionOwner, Spend

INSERT_PLAYER = """
INSERT INTO players (username, password_hash, credits)
VALUES ($1, $2, $3)
RETURNING id, username, credits, heat, created_at
"""

INSERT_STARTER_GRANT = """
INSERT INTO starter_grants (player_id)
VALUES ($1)
"""

SELECT_ACCOUNT_BY_USERNAME = """
SELECT id, username, credits, heat, created_at, password_hash
FROM players
WHERE lower(username) = lower($1)
"""

SELECT_PLAYER = """
SELECT id, username, credits, heat, created_at
FROM players
WHERE id = $1
"""

LOCK_PLAYER = """
SELECT id, username, credits, heat, created_at
FROM players
WHERE id = $1
FOR UPDATE
"""

INSERT_SESSION = """
INSERT INTO sessions (token_hash, player_id, expires_at)
VALUES ($1, $2, $3)
"""

# Ends a player's live sessions past the newest $2; returns their hashes so
# that their cached lookups can be dropped.
REVOKE_OLDEST_SESSIONS = """
UPDATE sessions
SET revoked_at = now()
WHERE token_hash IN (
    SELECT token_hash
    FROM sessions
    WHERE player_id = $1
      AND revoked_at IS NULL
      AND expires_at > now()
    ORDER BY created_at DESC, token_hash
    OFFSET $2
)
RETURNING token_hash
"""

# Sessions that ended a day ago or more are of no use to anyone.
PRUNE_ENDED_SESSIONS = """
DELETE FROM sessions
WHERE player_id = $1
  AND (revoked_at < now() - interval '1 day'
       OR expires_at < now() - interval '1 day')
"""

SELECT_LIVE_SESSION = """
SELECT player_id, expires_at
FROM sessions
WHERE token_hash = $1
  AND revoked_at IS NULL
  AND expires_at > now()
"""

REVOKE_SESSION = """
UPDATE sessions
SET revoked_at = now()
WHERE token_hash = $1
  AND revoked_at IS NULL
  AND expires_at > now()
RETURNING player_id
"""

COUNT_RECENT_FAILURES = """
SELECT subject, failures
FROM login_failures
WHERE subject = ANY($1::text[])
  AND window_start = date_trunc('minute', now())
"""

RECORD_FAILURE = """
INSERT INTO login_failures (subject, window_start, failures)
SELECT subject, date_trunc('minute', now()), 1
FROM unnest($1::text[]) AS subject
ON CONFLICT (subject, window_start)
DO UPDATE SET failures = login_failures.failures + 1
"""

# Keeps the table to the current minute for the subjects just seen.
PRUNE_BATCH = 100

# Up to $1 rows of earlier minutes, of any subject: each write clears more
# than it adds, so rows of subjects that never come back do not pile up.
PRUNE_FAILURES = """
DELETE FROM login_failures
WHERE ctid IN (
    SELECT ctid
    FROM login_failures
    WHERE window_start < date_trunc('minute', now())
    LIMIT $1
)
"""

PRUNE_REGISTRATION_ATTEMPTS = """
DELETE FROM registration_attempts
WHERE ctid IN (
    SELECT ctid
    FROM registration_attempts
    WHERE window_start < date_trunc('minute', now())
    LIMIT $1
)
"""

COUNT_REGISTRATION_ATTEMPT = """
INSERT INTO registration_attempts (address, window_start, attempts)
VALUES ($1, date_trunc('minute', now()), 1)
ON CONFLICT (address, window_start)
DO UPDATE SET attempts = registration_attempts.attempts + 1
RETURNING attempts
"""

SELECT_SPEND = """
SELECT player_id, amount, balance_after
FROM spends
WHERE idempotency_key = $1
"""

DEBIT_PLAYER = """
UPDATE players
SET credits = credits - $2
WHERE id = $1
RETURNING credits
"""

INSERT_SPEND = """
INSERT INTO spends (idempotency_key, player_id, amount, reason, balance_after)
VALUES ($1, $2, $3, $4, $5)
"""

# Records every missed window up to $2 (at most 1000 back) and returns the
# ones this transaction inserted; a concurrent caller waits on the unique
# index and then inserts none of the same windows.
RECORD_TICKER_WINDOWS = """
WITH last AS (
    SELECT max(window_number) AS window_number
    FROM ticker_windows
    WHERE ticker = $1
)
INSERT INTO ticker_windows (ticker, window_number)
SELECT $1, w
FROM last,
     generate_series(
         greatest(coalesce(last.window_number + 1, $2), $2 - 999),
         $2
     ) AS w
ON CONFLICT (ticker, window_number) DO NOTHING
RETURNING window_number
"""

COOL_DOWN_PLAYERS = """
UPDATE players
SET heat = greatest(heat - $1, 0)
WHERE heat > 0
"""

CLAIM_DUE_GRANTS = """
UPDATE starter_grants
SET due_at = now() + make_interval(secs => $2),
    attempts = attempts + 1
WHERE player_id IN (
    SELECT player_id
    FROM starter_grants
    WHERE delivered_at IS NULL
      AND due_at <= now()
    ORDER BY due_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
RETURNING player_id, attempts
"""

MARK_GRANT_DELIVERED = """
UPDATE starter_grants
SET delivered_at = now()
WHERE player_id = $1
"""

POSTPONE_GRANT = """
UPDATE starter_grants
SET due_at = now() + make_interval(secs => $2)
WHERE player_id = $1
  AND delivered_at IS NULL
"""

NEXT_GRANT_DUE = """
SELECT min(due_at)
FROM starter_grants
WHERE delivered_at IS NULL
"""


def _player(row: Record) -> Player:
    return Player(
        id=row["id"],
        username=row["username"],
        credits=row["credits"],
        heat=row["heat"],
        created_at=row["created_at"],
    )


async def insert_player(
    connection: Connection, username: str, password_hash: str, credits: int
) -> Player:
    try:
        row = await connection.fetchrow(INSERT_PLAYER, username, password_hash, credits)
    except asyncpg.UniqueViolationError as exc:
        raise UsernameTaken(f"the username {username!r} is taken") from exc
    assert row is not None
    return _player(row)


async def insert_starter_grant(connection: Connection, player_id: UUID) -> None:
    await connection.execute(INSERT_STARTER_GRANT, player_id)


async def find_account(connection: Connection, username: str) -> Account | None:
    row = await connection.fetchrow(SELECT_ACCOUNT_BY_USERNAME, username)
    if row is None:
        return None
    return Account(player=_player(row), password_hash=row["password_hash"])


async def find_player(connection: Connection, player_id: UUID) -> Player | None:
    row = await connection.fetchrow(SELECT_PLAYER, player_id)
    return None if row is None else _player(row)


async def lock_player(connection: Connection, player_id: UUID) -> Player | None:
    row = await connection.fetchrow(LOCK_PLAYER, player_id)
    return None if row is None else _player(row)


async def insert_session(
    connection: Connection, token_hash: bytes, player_id: UUID, expires_at: datetime
) -> None:
    await connection.execute(INSERT_SESSION, token_hash, player_id, expires_at)


async def trim_sessions(
    connection: Connection, player_id: UUID, keep: int
) -> list[bytes]:
    """Keep a player's `keep` newest live sessions and revoke the rest (their
    hashes are returned); delete sessions that ended a day ago or more."""
    await connection.execute(PRUNE_ENDED_SESSIONS, player_id)
    rows = await connection.fetch(REVOKE_OLDEST_SESSIONS, player_id, keep)
    return [row["token_hash"] for row in rows]


async def find_live_session(
    connection: Connection, token_hash: bytes
) -> SessionOwner | None:
    row = await connection.fetchrow(SELECT_LIVE_SESSION, token_hash)
    if row is None:
        return None
    return SessionOwner(player_id=row["player_id"], expires_at=row["expires_at"])


async def revoke_session(connection: Connection, token_hash: bytes) -> bool:
    return await connection.fetchval(REVOKE_SESSION, token_hash) is not None


async def count_login_failures(
    connection: Connection, subjects: list[str]
) -> dict[str, int]:
    rows = await connection.fetch(COUNT_RECENT_FAILURES, subjects)
    return {row["subject"]: row["failures"] for row in rows}


async def record_login_failure(connection: Connection, subjects: list[str]) -> None:
    await connection.execute(PRUNE_FAILURES, PRUNE_BATCH)
    await connection.execute(RECORD_FAILURE, subjects)


async def count_registration_attempt(connection: Connection, address: str) -> int:
    """Count one more attempt from `address` this minute; returns the count."""
    await connection.execute(PRUNE_REGISTRATION_ATTEMPTS, PRUNE_BATCH)
    attempts: int = await connection.fetchval(COUNT_REGISTRATION_ATTEMPT, address)
    return attempts


async def find_spend(connection: Connection, key: str) -> Spend | None:
    row = await connection.fetchrow(SELECT_SPEND, key)
    if row is None:
        return None
    return Spend(row["player_id"], row["amount"], row["balance_after"], replayed=True)


async def debit(
    connection: Connection, player_id: UUID, amount: int, key: str, reason: str
) -> Spend:
    balance = await connection.fetchval(DEBIT_PLAYER, player_id, amount)
    await connection.execute(INSERT_SPEND, key, player_id, amount, reason, balance)
    return Spend(player_id, amount, balance, replayed=False)


async def record_ticker_windows(
    connection: Connection, ticker: str, window: int
) -> int:
    rows = await connection.fetch(RECORD_TICKER_WINDOWS, ticker, window)
    return len(rows)


async def cool_down_players(connection: Connection, amount: int) -> int:
    status = await connection.execute(COOL_DOWN_PLAYERS, amount)
    return int(status.split()[-1])


async def claim_due_grants(
    connection: Connection, limit: int, lease_seconds: float
) -> list[tuple[UUID, int]]:
    """Lease up to `limit` due grants to this caller; returns (player, attempts)."""
    rows = await connection.fetch(CLAIM_DUE_GRANTS, limit, lease_seconds)
    return [(row["player_id"], row["attempts"]) for row in rows]


async def mark_grant_delivered(connection: Connection, player_id: UUID) -> None:
    await connection.execute(MARK_GRANT_DELIVERED, player_id)


async def postpone_grant(
    connection: Connection, player_id: UUID, seconds: float
) -> None:
    await connection.execute(POSTPONE_GRANT, player_id, seconds)


async def next_grant_due(connection: Connection) -> datetime | None:
    value: datetime | None = await connection.fetchval(NEXT_GRANT_DUE)
    return value
