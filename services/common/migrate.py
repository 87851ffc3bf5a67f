"""Applies a service's versioned SQL migrations to its own schema.

Usage: python -m services.common.migrate SERVICE   (reads HW_DATABASE_URL)

Files are `services/<service>/migrations/NNNN_name.sql`, applied in order, each
in its own transaction together with its row in `<schema>.schema_migrations`.
A PostgreSQL advisory lock held for the whole run lets several replicas start
at once: the first applies, the others wait and then find nothing to do. The
lock dies with the connection, so a crashed run never leaves it behind.
Why this is ours and not a tool's is in docs/migrations.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from services.common.config import BaseServiceSettings, load_settings
from services.common.logs import configure_logging

logger = logging.getLogger(__name__)

SERVICES_DIR = Path(__file__).resolve().parent.parent
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""

SELECT_APPLIED = """
SELECT version, checksum
FROM schema_migrations
"""

INSERT_APPLIED = """
INSERT INTO schema_migrations (version, name, checksum)
VALUES ($1, $2, $3)
"""


class MigrationError(Exception):
    """Raised when the files on disk disagree with what the schema recorded."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path) -> list[Migration]:
    """Read and order the migration files; refuse stray or duplicate names."""
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: expected NNNN_lower_snake_name.sql")
        version = int(match.group(1))
        if version in migrations:
            raise MigrationError(f"{path.name}: version {version} appears twice")
        migrations[version] = Migration(version, match.group(2), path.read_text())
    return [migrations[v] for v in sorted(migrations)]


def lock_key(service: str) -> int:
    """The advisory lock id for one service's migrations (a signed 64-bit int)."""
    return zlib.crc32(f"hiddenwars.migrate.{service}".encode())


async def apply_migrations(
    database_url: str, service: str, directory: Path | None = None
) -> list[int]:
    """Apply what is missing and return the versions applied by this call."""
    migrations = load_migrations(directory or SERVICES_DIR / service / "migrations")
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", lock_key(service))
        await connection.execute(CREATE_LEDGER)
        applied = {
            row["version"]: row["checksum"]
            for row in await connection.fetch(SELECT_APPLIED)
        }
        done: list[int] = []
        for migration in migrations:
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"{service} migration {migration.version} was edited "
                        "after it was applied; add a new migration instead"
                    )
                continue
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(
                    INSERT_APPLIED,
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            logger.info(
                "migration applied",
                extra={"service": service, "version": migration.version},
            )
            done.append(migration.version)
        return done
    finally:
        # Closing the connection also releases the advisory lock.
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service", choices=["player", "nodes", "hacks", "scheduler"])
    args = parser.parse_args()
    settings = load_settings(BaseServiceSettings)
    configure_logging(f"migrate-{args.service}", settings.log_level)
    asyncio.run(apply_migrations(settings.database_url, args.service))


if __name__ == "__main__":
    main()
