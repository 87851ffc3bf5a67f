"""Game rules of the nodes service: the moves a player or the scheduler makes."""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from typing import Any, Protocol
from uuid import UUID

from services.common.cache import CacheUnavailable, RedisGuard, ScopedCache
from services.common.db import transaction
from services.common.errors import InvalidArgument, NotFound, ServiceError, Unavailable
from services.nodes import repository
from services.nodes.config import NodeKind, NodesSettings
from services.nodes.errors import (
    NodeNotFound,
    PaymentUnconfirmed,
    TooManyBuilds,
    UnknownNodeKind,
)
from services.nodes.models import Build, CompletionBatch, NodePage, PaymentBatch
from services.nodes.pages import decode_cursor, decode_page, encode_page

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
MAX_KEY_LENGTH = 200
KEY = re.compile(r"^[\x21-\x7e]+$")
# How long a claimed payment is left alone before another caller may retry it.
PAYMENT_LEASE_SECONDS = 30.0
BUILDS_QUEUE = "builds"


class Payments(Protocol):
    """The player service, as far as paying for builds needs it."""

    async def spend(self, player_id: UUID, amount: int, key: str, reason: str) -> None:
        """Debit once per key; raise a ServiceError on refusal or no answer."""
        ...


def validate_key(key: str, field: str = "idempotency_key") -> None:
    if len(key) > MAX_KEY_LENGTH or (key and not KEY.match(key)):
        raise InvalidArgument(
            f"{field}: up to {MAX_KEY_LENGTH} printable ASCII characters, no spaces"
        )


def payment_key(build_id: UUID) -> str:
    return f"build:{build_id}"


class NodesService:
    def __init__(
        self,
        pool: Any,
        settings: NodesSettings,
        payments: Payments,
        dashboard: ScopedCache,
        redis: RedisGuard,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.kinds = settings.node_kinds
        self.payments = payments
        self.dashboard = dashboard
        self.redis = redis
        self.wake_channel = f"{settings.redis_prefix}scheduler:wake:{BUILDS_QUEUE}"

    def kind(self, name: str) -> NodeKind:
        try:
            return self.kinds[name]
        except KeyError:
            known = ", ".join(sorted(self.kinds))
            raise UnknownNodeKind(f"kind: {name!r} is not one of {known}") from None

    async def grant_starter_nodes(self, player_id: UUID, key: str) -> tuple[int, bool]:
        """Give the starter nodes once per key; returns (granted, replayed)."""
        if not key:
            raise InvalidArgument("idempotency_key: required")
        validate_key(key)
        starters = [(name, self.kind(name)) for name in self.settings.starter_kinds]

        async with transaction(self.pool) as connection:
            await repository.lock_owner(connection, player_id)
            earlier = await repository.find_grant(connection, key, player_id)
            if earlier is not None:
                return earlier, True
            await repository.insert_nodes(connection, player_id, starters)
            await repository.record_grant(connection, key, player_id, len(starters))

        await self.dashboard.invalidate(str(player_id))
        return len(starters), False

    async def list_nodes(
        self, player_id: UUID, page_size: int, page_token: str
    ) -> NodePage:
        """A dashboard page, from Redis when cached, else from PostgreSQL."""
        if page_size == 0:
            page_size = DEFAULT_PAGE_SIZE
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidArgument(f"page_size: 1 to {MAX_PAGE_SIZE}")
        cursor = decode_cursor(page_token)

        async def load() -> NodePage:
            async with transaction(self.pool) as connection:
                return await repository.list_nodes_page(
                    connection, player_id, cursor, page_size
                )

        return await self.dashboard.get_or_load(
            str(player_id), f"{page_size}:{page_token}", load, encode_page, decode_page
        )

    async def order_build(
        self, player_id: UUID, kind_name: str, key: str, upgrade_node_id: UUID | None
    ) -> Build:
        """Record the build, then pay for it.

        The build row is committed before the debit is asked for, so a crash
        or a lost answer never leaves a debit without its build; the debit's
        key is derived from the build id, so retrying never pays twice. A
        retry with the same idempotency key finds the same row.
        """
        validate_key(key)
        key = key or f"auto:{uuid.uuid4()}"

        async with transaction(self.pool) as connection:
            await repository.lock_owner(connection, player_id)
            build = await repository.find_build_by_key(connection, player_id, key)
            if build is None:
                build = await self._record_build(
                    connection, player_id, kind_name, key, upgrade_node_id
                )

        if build.state != "awaiting_payment":
            return build
        return await self._pay(build.id, raise_on_no_answer=True)

    async def _record_build(
        self,
        connection: Any,
        player_id: UUID,
        kind_name: str,
        key: str,
        upgrade_node_id: UUID | None,
    ) -> Build:
        open_builds = await repository.count_open_builds(connection, player_id)
        if open_builds >= self.settings.max_builds_in_progress:
            raise TooManyBuilds(
                f"{open_builds} builds are in progress already; "
                f"wait until one completes (at most "
                f"{self.settings.max_builds_in_progress})"
            )
        level = 1
        if upgrade_node_id is not None:
            node = await repository.find_owned_node(
                connection, upgrade_node_id, player_id
            )
            if node is None:
                raise NodeNotFound(
                    f"upgrade_node_id: no node {upgrade_node_id} of yours"
                )
            if kind_name and kind_name != node.kind:
                raise InvalidArgument(
                    f"kind: the node is a {node.kind}, not a {kind_name}"
                )
            kind_name, level = node.kind, node.level + 1
        if not kind_name:
            raise InvalidArgument("kind: required for a new node")
        kind = self.kind(kind_name)
        return await repository.insert_build(
            connection,
            player_id=player_id,
            key=key,
            kind=kind_name,
            upgrade_node_id=upgrade_node_id,
            cost=kind.cost * level,
            build_seconds=kind.build_seconds * level,
            payment_retry_seconds=self.settings.payment_retry_seconds,
        )

    async def _pay(self, build_id: UUID, *, raise_on_no_answer: bool) -> Build:
        """Settle one unpaid build while holding its row lock.

        The lock makes an order's retry and the scheduler's settlement of the
        same build take turns, so a refusal seen by one can never delete a
        build that the other has just paid for. What the transaction records
        (paid, postponed, deleted) is committed before any error is raised.
        """
        failure: ServiceError | None = None
        async with transaction(self.pool) as connection:
            build = await repository.lock_build(connection, build_id)
            if build is None:
                raise NotFound("the build was cancelled: its payment was refused")
            if build.state != "awaiting_payment":
                return build
            try:
                await self.payments.spend(
                    build.player_id, build.cost, payment_key(build.id), "build"
                )
            except Unavailable as exc:
                await repository.postpone_payment(
                    connection, build.id, self.settings.payment_retry_seconds
                )
                if raise_on_no_answer:
                    failure = PaymentUnconfirmed(
                        "the payment could not be confirmed; retry with the same "
                        "idempotency key, it will not be charged twice"
                    )
                    failure.__cause__ = exc
            except ServiceError as exc:
                # Refused for good (not enough credits, no such player): nothing
                # was debited, so the order leaves no build behind.
                await repository.delete_unpaid_build(connection, build.id)
                failure = exc
            else:
                paid = await repository.mark_build_paid(connection, build.id)
                assert paid is not None
                build = paid

        if failure is not None:
            raise failure
        if build.state == "in_progress":
            await self._wake_scheduler()
        return build

    async def _wake_scheduler(self) -> None:
        async def publish(client: Any) -> Any:
            return await client.publish(self.wake_channel, b"1")

        # Without Redis the scheduler's poll interval bounds the delay.
        with contextlib.suppress(CacheUnavailable):
            await self.redis.call(publish)

    async def list_builds(self, player_id: UUID) -> list[Build]:
        async with transaction(self.pool) as connection:
            return await repository.list_open_builds(connection, player_id)

    async def complete_due_builds(self, limit: int) -> CompletionBatch:
        """Complete up to `limit` due builds, oldest first, in one transaction;
        concurrent callers skip each other's rows instead of waiting."""
        if not 1 <= limit <= 500:
            raise InvalidArgument("limit: 1 to 500")
        async with transaction(self.pool) as connection:
            builds = await repository.claim_due_builds(connection, limit)
            new = [build for build in builds if build.upgrade_node_id is None]
            upgrades = [build for build in builds if build.upgrade_node_id is not None]
            node_ids = await repository.insert_built_nodes(connection, new, self.kinds)
            await repository.upgrade_nodes(connection, upgrades, self.kinds)
            done = list(zip([b.id for b in new], node_ids, strict=True))
            done += [(b.id, b.upgrade_node_id) for b in upgrades if b.upgrade_node_id]
            completions = await repository.mark_builds_completed(connection, done)
            next_due = await repository.next_build_due(connection)

        # Each player's dashboard is dropped before the caller hears of it.
        for player_id in {completion.player_id for completion in completions}:
            await self.dashboard.invalidate(str(player_id))
        return CompletionBatch(completions=completions, next_due_at=next_due)

    async def settle_due_payments(self, limit: int) -> PaymentBatch:
        """Retry the payment of builds whose first attempt got no answer."""
        if not 1 <= limit <= 100:
            raise InvalidArgument("limit: 1 to 100")
        async with transaction(self.pool) as connection:
            claimed = await repository.claim_due_payments(
                connection, limit, PAYMENT_LEASE_SECONDS
            )
        settled = cancelled = failed = 0
        for build_id in claimed:
            try:
                build = await self._pay(build_id, raise_on_no_answer=False)
            except ServiceError as exc:
                cancelled += 1
                logger.info(
                    "unpaid build cancelled",
                    extra={"build_id": str(build_id), "reason": exc.message},
                )
                continue
            if build.state == "awaiting_payment":
                failed += 1
            else:
                settled += 1
        async with transaction(self.pool) as connection:
            next_due = await repository.next_payment_due(connection)
        return PaymentBatch(settled, cancelled, failed, next_due)
