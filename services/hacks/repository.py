"""SQL of the hacks schema."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from services.common.db import Connection

SELECT_RUNNING_HACKS = """
SELECT id, attacker_id, target_id, finishes_at
FROM hacks
WHERE attacker_id = $1
  AND resolved_at IS NULL
ORDER BY finishes_at, id
LIMIT 100
"""


@dataclass(frozen=True)
class Hack:
    id: UUID
    attacker_id: UUID
    target_id: UUID
    finishes_at: datetime


async def list_running_hacks(connection: Connection, attacker_id: UUID) -> list[Hack]:
    rows = await connection.fetch(SELECT_RUNNING_HACKS, attacker_id)
    return [
        Hack(row["id"], row["attacker_id"], row["target_id"], row["finishes_at"])
        for row in rows
    ]
