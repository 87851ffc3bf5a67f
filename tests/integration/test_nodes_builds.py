"""Ordering, paying for and completing builds, exactly once, through failures."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg
import grpc
import pytest

from hiddenwars.nodes.v1 import nodes_pb2 as pb
from hiddenwars.nodes.v1 import nodes_pb2_grpc
from hiddenwars.player.v1 import player_pb2
from services.common.clients import open_channel
from services.common.errors import Unavailable
from services.nodes import repository
from services.nodes.player_client import PlayerPayments
from tests.fixtures_db import ThrowawayDatabase, query
from tests.integration.conftest import Stack
from tests.servers import nodes_settings, start_nodes


async def credits(stack: Stack, player_id: str) -> int:
    reply = await stack.player.GetPlayer(
        player_pb2.GetPlayerRequest(player_id=player_id)
    )
    return reply.player.credits


async def order(nodes, player_id: str, kind: str, key: str = "", upgrade: str = ""):
    reply = await nodes.OrderBuild(
        pb.OrderBuildRequest(
            player_id=player_id, kind=kind, idempotency_key=key, upgrade_node_id=upgrade
        )
    )
    return reply.build


async def builds_of(
    database: ThrowawayDatabase, player_id: str
) -> list[asyncpg.Record]:
    return await query(
        database,
        "SELECT id, state FROM nodes.builds WHERE player_id = $1::uuid",
        player_id,
    )


async def test_an_order_is_paid_once_and_queued_until_its_build_time(
    stack: Stack, unique
):
    player = await stack.register(f"builder_{unique}")
    before = time.time()

    build = await order(stack.nodes, player.id, "relay", key=f"k-{unique}")
    retried = await order(stack.nodes, player.id, "relay", key=f"k-{unique}")

    assert build.state == pb.BUILD_STATE_IN_PROGRESS
    assert build.cost == 150
    finishes_at = build.finishes_at.ToSeconds()
    assert before + 9 <= finishes_at <= time.time() + 11
    assert retried.id == build.id
    assert await credits(stack, player.id) == 1000 - 150
    listed = await stack.nodes.ListBuilds(pb.ListBuildsRequest(player_id=player.id))
    assert [b.id for b in listed.builds] == [build.id]


async def test_an_order_without_enough_credits_leaves_no_build_behind(
    stack: Stack, database, unique
):
    player = await stack.register(f"poor_{unique}")
    await query(
        database,
        "UPDATE player.players SET credits = 10 WHERE id = $1::uuid",
        player.id,
    )

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await order(stack.nodes, player.id, "relay", key=f"p-{unique}")

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "not enough credits" in caught.value.details()
    assert await builds_of(database, player.id) == []
    assert await credits(stack, player.id) == 10


async def test_an_unknown_kind_names_the_field(stack: Stack, unique):
    player = await stack.register(f"typo_{unique}")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await order(stack.nodes, player.id, "quantum")

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("kind:")


async def test_builds_in_progress_are_limited_per_player(stack: Stack, unique):
    player = await stack.register(f"greedy_{unique}")
    for number in range(3):
        await order(stack.nodes, player.id, "slow", key=f"g{number}-{unique}")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await order(stack.nodes, player.id, "slow", key=f"g3-{unique}")

    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert await credits(stack, player.id) == 1000 - 3 * 100


async def test_concurrent_orders_with_one_key_make_one_build_and_pay_once(
    stack: Stack, database, unique
):
    player = await stack.register(f"double_{unique}")

    builds = await asyncio.gather(
        *(order(stack.nodes, player.id, "slow", key=f"same-{unique}") for _ in range(6))
    )

    assert len({build.id for build in builds}) == 1
    assert len(await builds_of(database, player.id)) == 1
    assert await credits(stack, player.id) == 900


class FlakyPayments:
    """The real player client, failing where a test says: before the debit is
    asked for, or after it is applied but before its answer arrives."""

    def __init__(self, real: PlayerPayments) -> None:
        self.real = real
        self.fail_before = 0
        self.fail_after = 0

    async def spend(self, player_id: UUID, amount: int, key: str, reason: str) -> None:
        if self.fail_before:
            self.fail_before -= 1
            raise Unavailable("injected: the request never reached the player service")
        await self.real.spend(player_id, amount, key, reason)
        if self.fail_after:
            self.fail_after -= 1
            raise Unavailable("injected: the answer was lost after the debit")


@pytest.fixture
async def flaky(
    fresh_stack: Stack,
) -> AsyncIterator[tuple[FlakyPayments, nodes_pb2_grpc.NodesServiceAsyncStub]]:
    """A second nodes service on the fresh stack, paying through FlakyPayments."""
    channel = open_channel(fresh_stack.player_process.server.address, timeout=2.0)
    payments = FlakyPayments(PlayerPayments(channel))
    process = await start_nodes(
        nodes_settings(
            fresh_stack.database,
            fresh_stack.redis_prefix,
            payment_retry_seconds=0.0,
        ),
        payments,
    )
    nodes_channel = open_channel(process.server.address, timeout=5.0)
    yield payments, nodes_pb2_grpc.NodesServiceStub(nodes_channel)
    await nodes_channel.close()
    await process.stop(0)
    await channel.close()


async def test_a_failure_before_the_debit_charges_nothing_and_a_retry_charges_once(
    fresh_stack: Stack, flaky
):
    payments, nodes = flaky
    player = await fresh_stack.register("before_debit")
    payments.fail_before = 1

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await order(nodes, player.id, "slow", key="order-1")
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert await credits(fresh_stack, player.id) == 1000
    assert [
        row["state"] for row in await builds_of(fresh_stack.database, player.id)
    ] == ["awaiting_payment"]

    build = await order(nodes, player.id, "slow", key="order-1")

    assert build.state == pb.BUILD_STATE_IN_PROGRESS
    assert await credits(fresh_stack, player.id) == 900
    assert len(await builds_of(fresh_stack.database, player.id)) == 1


async def test_a_lost_answer_after_the_debit_is_not_charged_again_on_retry(
    fresh_stack: Stack, flaky
):
    payments, nodes = flaky
    player = await fresh_stack.register("after_debit")
    payments.fail_after = 1

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await order(nodes, player.id, "slow", key="order-2")
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert await credits(fresh_stack, player.id) == 900

    build = await order(nodes, player.id, "slow", key="order-2")

    assert build.state == pb.BUILD_STATE_IN_PROGRESS
    assert await credits(fresh_stack, player.id) == 900
    assert len(await builds_of(fresh_stack.database, player.id)) == 1


async def test_a_retry_after_the_reply_returns_the_first_build_without_paying(
    fresh_stack: Stack, flaky
):
    _, nodes = flaky
    player = await fresh_stack.register("after_reply")
    first = await order(nodes, player.id, "slow", key="order-3")

    again = await order(nodes, player.id, "slow", key="order-3")

    assert again.id == first.id
    assert again.finishes_at == first.finishes_at
    assert await credits(fresh_stack, player.id) == 900


async def test_an_abandoned_unconfirmed_payment_is_settled_by_the_scheduler_call(
    fresh_stack: Stack, flaky
):
    payments, nodes = flaky
    player = await fresh_stack.register("abandoned")
    payments.fail_after = 1
    with pytest.raises(grpc.aio.AioRpcError):
        await order(nodes, player.id, "slow", key="order-4")

    settled = await nodes.SettleDuePayments(pb.SettleDuePaymentsRequest(limit=10))

    assert (settled.settled, settled.cancelled, settled.failed) == (1, 0, 0)
    states = await builds_of(fresh_stack.database, player.id)
    assert [row["state"] for row in states] == ["in_progress"]
    assert await credits(fresh_stack, player.id) == 900


async def test_an_unconfirmed_payment_the_player_cannot_afford_is_cancelled(
    fresh_stack: Stack, flaky
):
    payments, nodes = flaky
    player = await fresh_stack.register("cancelled")
    payments.fail_before = 1
    with pytest.raises(grpc.aio.AioRpcError):
        await order(nodes, player.id, "slow", key="order-5")
    await query(
        fresh_stack.database,
        "UPDATE player.players SET credits = 5 WHERE id = $1::uuid",
        player.id,
    )

    settled = await nodes.SettleDuePayments(pb.SettleDuePaymentsRequest(limit=10))

    assert (settled.settled, settled.cancelled) == (0, 1)
    assert await builds_of(fresh_stack.database, player.id) == []
    assert await credits(fresh_stack, player.id) == 5


async def test_due_builds_complete_in_order_and_appear_on_the_dashboard(
    fresh_stack: Stack,
):
    player = await fresh_stack.register("completer")
    first = await order(fresh_stack.nodes, player.id, "instant", key="a")
    await order(fresh_stack.nodes, player.id, "instant", key="b")
    await order(fresh_stack.nodes, player.id, "slow", key="c")
    before = await fresh_stack.nodes.ListNodes(pb.ListNodesRequest(player_id=player.id))

    done = await fresh_stack.nodes.CompleteDueBuilds(
        pb.CompleteDueBuildsRequest(limit=1)
    )
    rest = await fresh_stack.nodes.CompleteDueBuilds(
        pb.CompleteDueBuildsRequest(limit=10)
    )
    after = await fresh_stack.nodes.ListNodes(pb.ListNodesRequest(player_id=player.id))

    assert before.total_nodes == 3
    assert (done.completed, rest.completed) == (1, 1)
    assert all(late >= 0 for late in [*done.lateness_ms, *rest.lateness_ms])
    assert rest.next_due_at.ToSeconds() > time.time() + 3000
    assert after.total_nodes == 5
    assert sorted(node.kind for node in after.nodes).count("instant") == 2
    rows = await query(
        fresh_stack.database,
        "SELECT state, node_id FROM nodes.builds WHERE id = $1::uuid",
        first.id,
    )
    assert rows[0]["state"] == "completed"
    assert rows[0]["node_id"] is not None


async def test_concurrent_completers_never_complete_the_same_build(
    fresh_stack: Stack,
):
    players = [await fresh_stack.register(f"crowd{n}") for n in range(8)]
    for player in players:
        for key in ("x", "y", "z"):
            await order(fresh_stack.nodes, player.id, "instant", key=key)

    replies = await asyncio.gather(
        *(
            fresh_stack.nodes.CompleteDueBuilds(pb.CompleteDueBuildsRequest(limit=4))
            for _ in range(10)
        )
    )

    assert sum(reply.completed for reply in replies) == 24
    rows = await query(
        fresh_stack.database,
        "SELECT count(*) AS built, count(DISTINCT node_id) AS distinct_nodes "
        "FROM nodes.builds WHERE state = 'completed'",
    )
    assert (rows[0]["built"], rows[0]["distinct_nodes"]) == (24, 24)
    nodes = await query(
        fresh_stack.database,
        "SELECT count(*) AS n FROM nodes.nodes WHERE kind = 'instant'",
    )
    assert nodes[0]["n"] == 24


async def test_an_upgrade_raises_the_level_of_the_same_node(fresh_stack: Stack):
    player = await fresh_stack.register("upgrader")
    page = await fresh_stack.nodes.ListNodes(pb.ListNodesRequest(player_id=player.id))
    relay = next(node for node in page.nodes if node.kind == "relay")

    build = await order(fresh_stack.nodes, player.id, "", key="up", upgrade=relay.id)
    assert build.cost == 300

    await query(
        fresh_stack.database,
        "UPDATE nodes.builds SET finishes_at = now() WHERE id = $1::uuid",
        build.id,
    )
    await fresh_stack.nodes.CompleteDueBuilds(pb.CompleteDueBuildsRequest(limit=10))
    after = await fresh_stack.nodes.ListNodes(pb.ListNodesRequest(player_id=player.id))
    upgraded = next(node for node in after.nodes if node.id == relay.id)

    assert (upgraded.level, upgraded.max_hp, upgraded.hp) == (2, 200, 200)
    assert upgraded.income == 4


async def test_the_due_query_is_an_index_scan_with_a_million_pending_builds(
    fresh_database: ThrowawayDatabase,
):
    connection = await asyncpg.connect(fresh_database.superuser_url)
    try:
        await connection.execute(
            """
            INSERT INTO nodes.owners (player_id)
            VALUES ('00000000-0000-0000-0000-000000000001');
            INSERT INTO nodes.builds (
                player_id, idempotency_key, kind, cost, build_seconds, state,
                finishes_at
            )
            SELECT '00000000-0000-0000-0000-000000000001', 'k' || g, 'relay', 1, 1,
                   'in_progress', now() + make_interval(secs => g % 86400)
            FROM generate_series(1, 1000000) AS g;
            ANALYZE nodes.builds;
            """
        )
        await connection.execute("SET search_path = nodes")
        plan = await connection.fetchval(
            "EXPLAIN (FORMAT JSON) " + repository.CLAIM_DUE_BUILDS, 100
        )
    finally:
        await connection.close()

    text = json.dumps(plan)
    assert "builds_due_idx" in text
    assert '"Seq Scan"' not in text
