"""Page tokens of the dashboard and the cached form of a page."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from uuid import UUID

from services.nodes.errors import BadPageToken
from services.nodes.models import Node, NodePage


def encode_cursor(cursor: tuple[datetime, UUID] | None) -> str:
    if cursor is None:
        return ""
    raw = f"{cursor[0].isoformat()}|{cursor[1]}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[datetime, UUID] | None:
    """The position a token points after; BadPageToken for anything else."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        created_at, _, node_id = raw.partition("|")
        when = datetime.fromisoformat(created_at)
        if when.tzinfo is None:
            raise ValueError("naive timestamp")
        return when, UUID(node_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadPageToken(
            "page_token: not a token from a previous page of this list"
        ) from None


def encode_page(page: NodePage) -> bytes:
    return json.dumps(
        {
            "nodes": [
                [
                    str(n.id),
                    n.kind,
                    n.level,
                    n.hp,
                    n.max_hp,
                    n.state,
                    n.income,
                    n.created_at.isoformat(),
                ]
                for n in page.nodes
            ],
            "next": encode_cursor(page.next_cursor),
            "total": page.total,
        },
        separators=(",", ":"),
    ).encode()


def decode_page(raw: bytes) -> NodePage:
    data = json.loads(raw)
    nodes = [
        Node(
            UUID(i),
            kind,
            level,
            hp,
            max_hp,
            state,
            income,
            datetime.fromisoformat(created),
        )
        for i, kind, level, hp, max_hp, state, income, created in data["nodes"]
    ]
    return NodePage(
        nodes=nodes, next_cursor=decode_cursor(data["next"]), total=data["total"]
    )
