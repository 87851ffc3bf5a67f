"""Creates the database, one schema per service and one login role per schema.

Usage: python -m services.common.provision   (reads the variables below)

Run once per environment with an administrator's connection, before the
migrations. Every statement is idempotent, so running it again is harmless.
Each role owns its schema and nothing else: it has no USAGE on another
service's schema, and PUBLIC loses CREATE on `public`.

    HW_ADMIN_DATABASE_URL   an administrator's URL (any database of the cluster)
    HW_DATABASE_NAME        the game's database, created when missing
    HW_ROLE_PREFIX          role names are <prefix><service>, e.g. hw_player
    HW_ROLE_PASSWORD_<SERVICE>  optional password per role (for password auth)
"""

from __future__ import annotations

import asyncio
import re

import asyncpg
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.config import ConfigError, load_settings

SERVICES = ("player", "nodes", "hacks", "scheduler")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a plain lower-case SQL identifier")
    return name


def role_name(prefix: str, service: str) -> str:
    return _identifier(f"{prefix}{service}")


async def provision(
    admin_url: str,
    database: str,
    role_prefix: str,
    passwords: dict[str, str] | None = None,
) -> None:
    """Create the database, roles and schemas that are missing."""
    database = _identifier(database)
    passwords = passwords or {}
    admin = await asyncpg.connect(admin_url)
    try:
        exists = await admin.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", database
        )
        if not exists:
            await admin.execute(f"CREATE DATABASE {database}")
        for service in SERVICES:
            role = role_name(role_prefix, service)
            if not await admin.fetchval(
                "SELECT 1 FROM pg_roles WHERE rolname = $1", role
            ):
                await admin.execute(f"CREATE ROLE {role} LOGIN")
            password = passwords.get(service)
            if password:
                # Identifiers are checked above; the password goes as a literal.
                literal = await admin.fetchval("SELECT quote_literal($1)", password)
                await admin.execute(f"ALTER ROLE {role} PASSWORD {literal}")
    finally:
        await admin.close()

    connection = await asyncpg.connect(admin_url, database=database)
    try:
        await connection.execute(f"REVOKE ALL ON DATABASE {database} FROM PUBLIC")
        await connection.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        for service in SERVICES:
            role = role_name(role_prefix, service)
            await connection.execute(
                f"CREATE SCHEMA IF NOT EXISTS {service} AUTHORIZATION {role}"
            )
            await connection.execute(f"REVOKE ALL ON SCHEMA {service} FROM PUBLIC")
            await connection.execute(
                f"GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {role}"
            )
            await connection.execute(
                f"ALTER ROLE {role} IN DATABASE {database} SET search_path = {service}"
            )
    finally:
        await connection.close()


class ProvisionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HW_", frozen=True, extra="ignore")

    admin_database_url: str
    database_name: str = "hiddenwars"
    role_prefix: str = "hw_"
    role_password_player: str = ""
    role_password_nodes: str = ""
    role_password_hacks: str = ""
    role_password_scheduler: str = ""

    def passwords(self) -> dict[str, str]:
        return {
            service: getattr(self, f"role_password_{service}") for service in SERVICES
        }


def main() -> None:
    try:
        settings = load_settings(ProvisionSettings)
    except ConfigError as exc:
        raise SystemExit(f"provision: {exc}") from None
    asyncio.run(
        provision(
            settings.admin_database_url,
            settings.database_name,
            settings.role_prefix,
            settings.passwords(),
        )
    )


if __name__ == "__main__":
    main()
