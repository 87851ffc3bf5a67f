"""The PostgreSQL pool, and the one way a service opens a transaction."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from services.common.config import BaseServiceSettings
from services.common.errors import Unavailable

logger = logging.getLogger(__name__)

Connection = asyncpg.Connection  # re-exported so repositories name one type
Record = asyncpg.Record


async def create_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> Any:
    """Open the process's pool; called once at start-up and passed down."""
    return await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        command_timeout=10,
        # Statements reach the service's own schema through the role's
        # search_path, set when the role is provisioned.
        server_settings={"application_name": "hiddenwars"},
    )


async def open_pool(settings: BaseServiceSettings) -> Any:
    """The pool a service's settings describe."""
    return await create_pool(
        settings.database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
    )


@asynccontextmanager
async def transaction(pool: Any) -> AsyncIterator[Connection]:
    """Yield a connection inside one transaction.

    Leaving the block normally commits; an exception rolls back. Connection
    failures become `Unavailable` so callers see a retryable status.
    """
    try:
        async with pool.acquire() as connection, connection.transaction():
            yield connection
    except (
        OSError,
        asyncpg.exceptions.ConnectionDoesNotExistError,
        asyncpg.exceptions.CannotConnectNowError,
    ) as exc:
        logger.warning("database unreachable", extra={"error": repr(exc)})
        raise Unavailable("the database did not answer; try again") from exc


async def ping(pool: Any, seconds: float = 1.0) -> bool:
    """Whether PostgreSQL answers a trivial query within `seconds`."""
    try:
        async with pool.acquire(timeout=seconds) as connection:
            await connection.fetchval("SELECT 1", timeout=seconds)
    except Exception:
        return False
    return True
