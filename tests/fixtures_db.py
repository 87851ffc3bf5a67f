"""A throwaway database per test run: its own name, roles and Redis prefix."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from scripts.stack import url_for
from services.common.migrate import apply_migrations
from services.common.provision import SERVICES, provision, role_name

ADMIN_URL = os.environ.get(
    "HW_DEV_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("HW_DEV_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass(frozen=True)
class ThrowawayDatabase:
    name: str
    role_prefix: str
    admin_url: str

    def url(self, service: str) -> str:
        """The URL a service uses: its own role, its own schema."""
        return url_for(self.admin_url, role_name(self.role_prefix, service), self.name)

    @property
    def superuser_url(self) -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit(
            (parts.scheme, parts.netloc, f"/{self.name}", parts.query, "")
        )


async def create_test_database(admin_url: str = ADMIN_URL) -> ThrowawayDatabase:
    suffix = uuid.uuid4().hex[:10]
    database = ThrowawayDatabase(f"hwt_{suffix}", f"hwt_{suffix}_", admin_url)
    await provision(admin_url, database.name, database.role_prefix)
    for service in SERVICES:
        await apply_migrations(database.url(service), service)
    return database


async def drop_test_database(database: ThrowawayDatabase) -> None:
    admin = await asyncpg.connect(database.admin_url)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            database.name,
        )
        await admin.execute(f"DROP DATABASE IF EXISTS {database.name}")
        for service in SERVICES:
            await admin.execute(
                f"DROP ROLE IF EXISTS {role_name(database.role_prefix, service)}"
            )
    finally:
        await admin.close()


async def query(
    database: ThrowawayDatabase, sql: str, *args: object
) -> list[asyncpg.Record]:
    """Run one statement as the superuser: seed or check rows behind the services."""
    connection = await asyncpg.connect(database.superuser_url)
    try:
        return await connection.fetch(sql, *args)
    finally:
        await connection.close()
