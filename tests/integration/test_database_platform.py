"""Schemas, roles and migrations: each service touches only its own schema."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from services.common.migrate import MigrationError, apply_migrations
from services.common.provision import SERVICES, provision
from tests.fixtures_db import ThrowawayDatabase, drop_test_database


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_role_cannot_read_or_write_other_schemas(
    database: ThrowawayDatabase, service: str
):
    connection = await asyncpg.connect(database.url(service))
    try:
        # Its own schema is usable.
        await connection.execute("CREATE TEMP TABLE scratch (x int)")
        assert await connection.fetchval("SELECT count(*) >= 0 FROM schema_migrations")

        for other in SERVICES:
            if other == service:
                continue
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.fetch(f"SELECT * FROM {other}.schema_migrations")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.execute(f"CREATE TABLE {other}.intruder (x int)")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.execute(f"DELETE FROM {other}.schema_migrations")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("CREATE TABLE public.intruder (x int)")
    finally:
        await connection.close()


async def test_the_player_role_cannot_read_another_services_tables_by_name(
    database: ThrowawayDatabase,
):
    connection = await asyncpg.connect(database.url("player"))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.fetch("SELECT * FROM nodes.nodes")
    finally:
        await connection.close()


async def provisioned_only(suffix: str) -> ThrowawayDatabase:
    created = ThrowawayDatabase(f"hwt_m{suffix}", f"hwt_m{suffix}_", database_admin())
    await provision(created.admin_url, created.name, created.role_prefix)
    return created


def database_admin() -> str:
    from tests.fixtures_db import ADMIN_URL

    return ADMIN_URL


async def test_replicas_migrating_at_once_apply_each_version_exactly_once(unique):
    created = await provisioned_only(unique)
    try:
        results = await asyncio.gather(
            *(apply_migrations(created.url("player"), "player") for _ in range(4))
        )
        applied = sorted(version for result in results for version in result)
        connection = await asyncpg.connect(created.url("player"))
        try:
            recorded = await connection.fetch(
                "SELECT version FROM schema_migrations ORDER BY version"
            )
        finally:
            await connection.close()
    finally:
        await drop_test_database(created)

    assert applied == [row["version"] for row in recorded]
    assert applied == sorted(set(applied))
    assert len(applied) >= 2


async def test_a_migration_edited_after_it_was_applied_stops_the_run(
    unique, tmp_path: Path
):
    created = await provisioned_only(unique)
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE first (id int);")
    try:
        assert await apply_migrations(created.url("hacks"), "hacks", tmp_path) == [1]
        (tmp_path / "0001_first.sql").write_text("CREATE TABLE first (id bigint);")

        with pytest.raises(MigrationError, match="edited after it was applied"):
            await apply_migrations(created.url("hacks"), "hacks", tmp_path)
    finally:
        await drop_test_database(created)


async def test_a_failing_migration_leaves_nothing_half_applied(unique, tmp_path: Path):
    created = await provisioned_only(unique)
    (tmp_path / "0001_good.sql").write_text("CREATE TABLE good (id int);")
    (tmp_path / "0002_bad.sql").write_text(
        "CREATE TABLE half (id int); SELECT no_such_function();"
    )
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await apply_migrations(created.url("hacks"), "hacks", tmp_path)
        connection = await asyncpg.connect(created.url("hacks"))
        try:
            versions = await connection.fetch("SELECT version FROM schema_migrations")
            half = await connection.fetchval("SELECT to_regclass('hacks.half')")
        finally:
            await connection.close()
    finally:
        await drop_test_database(created)

    assert [row["version"] for row in versions] == [1]
    assert half is None
