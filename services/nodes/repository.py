"""SQL of the nodes schema. Every function runs on a connection the caller
holds inside its transaction; none commits on its own."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

import asyncpg

from services.common.db import Connection, Record
from services.nodes.config import NodeKind
from services.nodes.errors import IdempotencyKeyConflict, UpgradeInProgress
from services.nodes.models import Build, Completion, Node, NodePage

UPSERT_OWNER = """
INSERT INTO owners (player_id)
VALUES ($1)
ON CONFLICT (player_id) DO NOTHING
"""

# Every write to a player's botnet takes this lock first, so one player's
# grants, orders and payments apply one at a time.
LOCK_OWNER = """
SELECT player_id
FROM owners
WHERE player_id = $1
FOR UPDATE
"""

SELECT_GRANT = """
SELECT player_id, granted
FROM starter_grants
WHERE idempotency_key = $1
"""

INSERT_GRANT = """
INSERT INTO starter_grants (idempotency_key, player_id, granted)
VALUES ($1, $2, $3)
"""

INSERT_NODES = """
INSERT INTO nodes (player_id, kind, hp, max_hp, income)
SELECT $1, kind, hp, hp, income
FROM unnest($2::text[], $3::integer[], $4::bigint[]) AS new (kind, hp, income)
"""

SELECT_FIRST_NODES_PAGE = """
SELECT id, kind, level, hp, max_hp, state, income, created_at
FROM nodes
WHERE player_id = $1
ORDER BY created_at, id
LIMIT $2
"""

SELECT_NEXT_NODES_PAGE = """
SELECT id, kind, level, hp, max_hp, state, income, created_at
FROM nodes
WHERE player_id = $1
  AND (created_at, id) > ($3, $4)
ORDER BY created_at, id
LIMIT $2
"""

COUNT_NODES = """
SELECT count(*)
FROM nodes
WHERE player_id = $1
"""

SELECT_OWNED_NODE = """
SELECT id, kind, level, hp, max_hp, state, income, created_at
FROM nodes
WHERE id = $1
  AND player_id = $2
"""

BUILD_COLUMNS = """
id, player_id, kind, state, upgrade_node_id, cost, build_seconds, ordered_at,
finishes_at, node_id, payment_attempts
"""

SELECT_BUILD_BY_KEY = f"""
SELECT {BUILD_COLUMNS}
FROM builds
WHERE player_id = $1
  AND idempotency_key = $2
"""

LOCK_BUILD = f"""
SELECT {BUILD_COLUMNS}
FROM builds
WHERE id = $1
FOR UPDATE
"""

COUNT_OPEN_BUILDS = """
SELECT count(*)
FROM builds
WHERE player_id = $1
  AND state IN ('awaiting_payment', 'in_progress')
"""

SELECT_OPEN_BUILDS = f"""
SELECT {BUILD_COLUMNS}
FROM builds
WHERE player_id = $1
  AND state IN ('awaiting_payment', 'in_progress')
ORDER BY ordered_at, id
"""

INSERT_BUILD = f"""
INSERT INTO builds (
    player_id, idempotency_key, kind, upgrade_node_id, cost, build_seconds,
    state, payment_due_at
)
VALUES ($1, $2, $3, $4, $5, $6, 'awaiting_payment', now() + make_interval(secs => $7))
RETURNING {BUILD_COLUMNS}
"""

MARK_BUILD_PAID = f"""
UPDATE builds
SET state = 'in_progress',
    payment_due_at = NULL,
    finishes_at = clock_timestamp() + make_interval(secs => build_seconds)
WHERE id = $1
  AND state = 'awaiting_payment'
RETURNING {BUILD_COLUMNS}
"""

DELETE_UNPAID_BUILD = """
DELETE FROM builds
WHERE id = $1
  AND state = 'awaiting_payment'
"""

POSTPONE_PAYMENT = """
UPDATE builds
SET payment_due_at = now() + make_interval(secs => $2),
    payment_attempts = payment_attempts + 1
WHERE id = $1
  AND state = 'awaiting_payment'
"""

CLAIM_DUE_PAYMENTS = """
UPDATE builds
SET payment_due_at = now() + make_interval(secs => $2)
WHERE id IN (
    SELECT id
    FROM builds
    WHERE state = 'awaiting_payment'
      AND payment_due_at <= now()
    ORDER BY payment_due_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
RETURNING id
"""

NEXT_PAYMENT_DUE = """
SELECT min(payment_due_at)
FROM builds
WHERE state = 'awaiting_payment'
"""

# Claims the oldest due builds; SKIP LOCKED lets concurrent callers take
# disjoint sets instead of waiting for each other.
CLAIM_DUE_BUILDS = f"""
SELECT {BUILD_COLUMNS}
FROM builds
WHERE state = 'in_progress'
  AND finishes_at <= clock_timestamp()
ORDER BY finishes_at
LIMIT $1
FOR UPDATE SKIP LOCKED
"""

INSERT_BUILT_NODES = """
INSERT INTO nodes (id, player_id, kind, hp, max_hp, income)
SELECT id, player_id, kind, hp, hp, income
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::integer[], $5::bigint[])
    AS built (id, player_id, kind, hp, income)
"""

# An upgrade adds one level: base HP and income times the new level, fully
# repaired.
UPGRADE_NODES = """
UPDATE nodes
SET level = nodes.level + 1,
    max_hp = upgrade.base_hp * (nodes.level + 1),
    hp = upgrade.base_hp * (nodes.level + 1),
    income = upgrade.base_income * (nodes.level + 1)
FROM unnest($1::uuid[], $2::integer[], $3::bigint[])
    AS upgrade (node_id, base_hp, base_income)
WHERE nodes.id = upgrade.node_id
"""

MARK_BUILDS_COMPLETED = """
UPDATE builds
SET state = 'completed',
    completed_at = clock_timestamp(),
    lateness_ms = greatest(
        0, floor(extract(epoch FROM clock_timestamp() - finishes_at) * 1000)
    )::bigint,
    node_id = done.node_id
FROM unnest($1::uuid[], $2::uuid[]) AS done (build_id, node_id)
WHERE builds.id = done.build_id
RETURNING builds.id, builds.player_id, builds.lateness_ms
"""

NEXT_BUILD_DUE = """
SELECT min(finishes_at)
FROM builds
WHERE state = 'in_progress'
"""


def _node(row: Record) -> Node:
    return Node(
        id=row["id"],
        kind=row["kind"],
        level=row["level"],
        hp=row["hp"],
        max_hp=row["max_hp"],
        state=row["state"],
        income=row["income"],
        created_at=row["created_at"],
    )


def _build(row: Record) -> Build:
    return Build(
        id=row["id"],
        player_id=row["player_id"],
        kind=row["kind"],
        state=row["state"],
        upgrade_node_id=row["upgrade_node_id"],
        cost=row["cost"],
        build_seconds=row["build_seconds"],
        ordered_at=row["ordered_at"],
        finishes_at=row["finishes_at"],
        node_id=row["node_id"],
        payment_attempts=row["payment_attempts"],
    )


async def lock_owner(connection: Connection, player_id: UUID) -> None:
    """Create the player's owner row if needed, then lock it for this transaction."""
    await connection.execute(UPSERT_OWNER, player_id)
    await connection.fetchval(LOCK_OWNER, player_id)


async def find_grant(connection: Connection, key: str, player_id: UUID) -> int | None:
    row = await connection.fetchrow(SELECT_GRANT, key)
    if row is None:
        return None
    if row["player_id"] != player_id:
        raise IdempotencyKeyConflict("idempotency_key: used for another player")
    granted: int = row["granted"]
    return granted


async def insert_nodes(
    connection: Connection, player_id: UUID, kinds: list[tuple[str, NodeKind]]
) -> None:
    await connection.execute(
        INSERT_NODES,
        player_id,
        [name for name, _ in kinds],
        [kind.hp for _, kind in kinds],
        [kind.income for _, kind in kinds],
    )


async def record_grant(
    connection: Connection, key: str, player_id: UUID, granted: int
) -> None:
    await connection.execute(INSERT_GRANT, key, player_id, granted)


async def list_nodes_page(
    connection: Connection,
    player_id: UUID,
    after: tuple[datetime, UUID] | None,
    page_size: int,
) -> NodePage:
    """One page in (created_at, id) order, plus the cursor of the next one."""
    if after is None:
        rows = await connection.fetch(SELECT_FIRST_NODES_PAGE, player_id, page_size + 1)
    else:
        rows = await connection.fetch(
            SELECT_NEXT_NODES_PAGE, player_id, page_size + 1, *after
        )
    total = await connection.fetchval(COUNT_NODES, player_id)
    nodes = [_node(row) for row in rows[:page_size]]
    more = len(rows) > page_size
    cursor = (nodes[-1].created_at, nodes[-1].id) if more and nodes else None
    return NodePage(nodes=nodes, next_cursor=cursor, total=total)


async def find_owned_node(
    connection: Connection, node_id: UUID, player_id: UUID
) -> Node | None:
    row = await connection.fetchrow(SELECT_OWNED_NODE, node_id, player_id)
    return None if row is None else _node(row)


async def find_build_by_key(
    connection: Connection, player_id: UUID, key: str
) -> Build | None:
    row = await connection.fetchrow(SELECT_BUILD_BY_KEY, player_id, key)
    return None if row is None else _build(row)


async def lock_build(connection: Connection, build_id: UUID) -> Build | None:
    row = await connection.fetchrow(LOCK_BUILD, build_id)
    return None if row is None else _build(row)


async def count_open_builds(connection: Connection, player_id: UUID) -> int:
    count: int = await connection.fetchval(COUNT_OPEN_BUILDS, player_id)
    return count


async def list_open_builds(connection: Connection, player_id: UUID) -> list[Build]:
    rows = await connection.fetch(SELECT_OPEN_BUILDS, player_id)
    return [_build(row) for row in rows]


async def insert_build(
    connection: Connection,
    *,
    player_id: UUID,
    key: str,
    kind: str,
    upgrade_node_id: UUID | None,
    cost: int,
    build_seconds: int,
    payment_retry_seconds: float,
) -> Build:
    try:
        row = await connection.fetchrow(
            INSERT_BUILD,
            player_id,
            key,
            kind,
            upgrade_node_id,
            cost,
            build_seconds,
            payment_retry_seconds,
        )
    except asyncpg.UniqueViolationError as exc:
        # Only the one-upgrade-per-node index can clash: the key was checked
        # under the owner lock.
        raise UpgradeInProgress(
            "upgrade_node_id: an upgrade is already ordered"
        ) from exc
    assert row is not None
    return _build(row)


async def mark_build_paid(connection: Connection, build_id: UUID) -> Build | None:
    row = await connection.fetchrow(MARK_BUILD_PAID, build_id)
    return None if row is None else _build(row)


async def delete_unpaid_build(connection: Connection, build_id: UUID) -> None:
    await connection.execute(DELETE_UNPAID_BUILD, build_id)


async def postpone_payment(
    connection: Connection, build_id: UUID, seconds: float
) -> None:
    await connection.execute(POSTPONE_PAYMENT, build_id, seconds)


async def claim_due_payments(
    connection: Connection, limit: int, lease_seconds: float
) -> list[UUID]:
    rows = await connection.fetch(CLAIM_DUE_PAYMENTS, limit, lease_seconds)
    return [row["id"] for row in rows]


async def next_payment_due(connection: Connection) -> datetime | None:
    value: datetime | None = await connection.fetchval(NEXT_PAYMENT_DUE)
    return value


async def claim_due_builds(connection: Connection, limit: int) -> list[Build]:
    rows = await connection.fetch(CLAIM_DUE_BUILDS, limit)
    return [_build(row) for row in rows]


async def insert_built_nodes(
    connection: Connection, builds: list[Build], kinds: dict[str, NodeKind]
) -> list[UUID]:
    """Insert one new node per build; returns their ids in the builds' order."""
    node_ids = [uuid4() for _ in builds]
    await connection.execute(
        INSERT_BUILT_NODES,
        node_ids,
        [build.player_id for build in builds],
        [build.kind for build in builds],
        [kinds[build.kind].hp for build in builds],
        [kinds[build.kind].income for build in builds],
    )
    return node_ids


async def upgrade_nodes(
    connection: Connection, builds: list[Build], kinds: dict[str, NodeKind]
) -> None:
    await connection.execute(
        UPGRADE_NODES,
        [build.upgrade_node_id for build in builds],
        [kinds[build.kind].hp for build in builds],
        [kinds[build.kind].income for build in builds],
    )


async def mark_builds_completed(
    connection: Connection, done: list[tuple[UUID, UUID]]
) -> list[Completion]:
    rows = await connection.fetch(
        MARK_BUILDS_COMPLETED,
        [build_id for build_id, _ in done],
        [node_id for _, node_id in done],
    )
    return [Completion(row["id"], row["player_id"], row["lateness_ms"]) for row in rows]


async def next_build_due(connection: Connection) -> datetime | None:
    value: datetime | None = await connection.fetchval(NEXT_BUILD_DUE)
    return value
