"""Starter grants and the dashboard: paging, caching and its invalidation."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
import redis.asyncio as aioredis

from hiddenwars.nodes.v1 import nodes_pb2 as pb
from hiddenwars.player.v1 import player_pb2
from services.nodes import repository
from tests.fixtures_db import REDIS_URL, ThrowawayDatabase, query
from tests.integration.conftest import Stack


async def seed_nodes(database: ThrowawayDatabase, player_id: str, count: int) -> None:
    await query(
        database,
        "INSERT INTO nodes.owners (player_id) VALUES ($1::uuid) ON CONFLICT DO NOTHING",
        player_id,
    )
    await query(
        database,
        """
        INSERT INTO nodes.nodes (player_id, kind, hp, max_hp, income, created_at)
        SELECT $1::uuid, 'relay', 100, 100, 2, now() - make_interval(secs => g)
        FROM generate_series(1, $2) AS g
        """,
        player_id,
        count,
    )


async def list_page(stack: Stack, player_id: str, size: int = 0, token: str = ""):
    return await stack.nodes.ListNodes(
        pb.ListNodesRequest(player_id=player_id, page_size=size, page_token=token)
    )


async def test_a_new_player_sees_three_starter_nodes(stack: Stack, unique):
    player = await stack.register(f"fresh_{unique}")

    page = await list_page(stack, player.id)

    assert page.total_nodes == 3
    assert sorted(node.kind for node in page.nodes) == ["proxy", "relay", "relay"]
    assert all(node.state == pb.NODE_STATE_HEALTHY for node in page.nodes)
    assert all(node.hp == node.max_hp > 0 for node in page.nodes)
    assert page.next_page_token == ""


async def test_a_repeated_grant_with_the_same_key_grants_nothing_more(
    stack: Stack, unique
):
    player = await stack.register(f"twice_{unique}")

    again = await stack.nodes.GrantStarterNodes(
        pb.GrantStarterNodesRequest(
            player_id=player.id, idempotency_key=f"starter:{player.id}"
        )
    )

    assert (again.granted, again.replayed) == (3, True)
    assert (await list_page(stack, player.id)).total_nodes == 3


async def test_a_registration_whose_grant_failed_is_repaired_by_a_retry(
    stack: Stack, database: ThrowawayDatabase, redis_prefix: str, unique
):
    from tests.servers import player_settings, start_player

    # A player service that cannot reach the nodes service registers the player.
    cut_off = await start_player(player_settings(database, redis_prefix))
    try:
        async with grpc.aio.insecure_channel(cut_off.server.address) as channel:
            from hiddenwars.player.v1 import player_pb2_grpc

            stub = player_pb2_grpc.PlayerServiceStub(channel)
            reply = await stub.Register(
                player_pb2.RegisterRequest(
                    username=f"orphan_{unique}", password="p" * 12
                )
            )
    finally:
        await cut_off.stop(0)
    player_id = reply.player.id
    assert (await list_page(stack, player_id)).total_nodes == 0
    pending = await query(
        database,
        "SELECT attempts FROM player.starter_grants "
        "WHERE player_id = $1::uuid AND delivered_at IS NULL",
        player_id,
    )
    assert len(pending) == 1

    # Once due, the retry (the scheduler's call) delivers it.
    await query(
        database,
        "UPDATE player.starter_grants SET due_at = now() WHERE player_id = $1::uuid",
        player_id,
    )
    delivered = await stack.player.DeliverDueGrants(
        player_pb2.DeliverDueGrantsRequest(limit=100)
    )

    assert delivered.delivered >= 1
    assert (await list_page(stack, player_id)).total_nodes == 3


async def test_pages_walk_every_node_once_in_a_stable_order(
    stack: Stack, database: ThrowawayDatabase
):
    player_id = str(uuid.uuid4())
    await seed_nodes(database, player_id, 60)

    seen, token, sizes = [], "", []
    while True:
        page = await list_page(stack, player_id, size=25, token=token)
        sizes.append(len(page.nodes))
        seen.extend(page.nodes)
        token = page.next_page_token
        if not token:
            break

    assert sizes == [25, 25, 10]
    assert len({node.id for node in seen}) == 60
    keys = [(node.created_at.ToDatetime(), node.id) for node in seen]
    assert keys == sorted(keys)
    assert page.total_nodes == 60


@pytest.mark.parametrize("size", [-1, 101])
async def test_a_page_size_out_of_range_names_the_field(stack: Stack, size):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await list_page(stack, str(uuid.uuid4()), size=size)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("page_size:")


async def test_a_forged_page_token_is_invalid(stack: Stack):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await list_page(stack, str(uuid.uuid4()), token="not-a-real-token!!")

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("page_token:")


async def cached_pages(
    redis_prefix: str, player_id: str
) -> dict[bytes | str, bytes | str]:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        return await client.hgetall(f"{redis_prefix}nodes:dashboard:data:{player_id}")
    finally:
        await client.aclose()


async def test_a_page_is_served_from_redis_after_the_first_read(
    stack: Stack, database, redis_prefix: str
):
    player_id = str(uuid.uuid4())
    await seed_nodes(database, player_id, 5)
    first = await list_page(stack, player_id)
    assert await cached_pages(redis_prefix, player_id) != {}

    # A change made behind the service's back is not seen: the page is cached.
    await query(
        database, "DELETE FROM nodes.nodes WHERE player_id = $1::uuid", player_id
    )
    second = await list_page(stack, player_id)

    assert second == first


async def test_a_grant_drops_the_cached_pages_before_it_reports_success(
    stack: Stack, redis_prefix: str
):
    player_id = str(uuid.uuid4())
    assert (await list_page(stack, player_id)).total_nodes == 0
    assert await cached_pages(redis_prefix, player_id) != {}

    await stack.nodes.GrantStarterNodes(
        pb.GrantStarterNodesRequest(
            player_id=player_id, idempotency_key="g:" + player_id
        )
    )

    assert await cached_pages(redis_prefix, player_id) == {}
    assert (await list_page(stack, player_id)).total_nodes == 3


async def test_a_slow_read_that_fetched_old_rows_cannot_cache_them_after_a_write(
    stack: Stack, monkeypatch
):
    """Read misses, reads old rows, the write commits and invalidates, then the
    slow read tries to store its old rows: the next read must see the write."""
    player_id = str(uuid.uuid4())
    rows_read = asyncio.Event()
    write_done = asyncio.Event()
    real_list_page = repository.list_nodes_page

    async def slow_list_page(*args, **kwargs):
        page = await real_list_page(*args, **kwargs)
        if not rows_read.is_set():
            rows_read.set()
            await write_done.wait()
        return page

    monkeypatch.setattr(repository, "list_nodes_page", slow_list_page)

    slow_read = asyncio.create_task(list_page(stack, player_id))
    await rows_read.wait()
    await stack.nodes.GrantStarterNodes(
        pb.GrantStarterNodesRequest(
            player_id=player_id, idempotency_key="r:" + player_id
        )
    )
    write_done.set()
    stale = await slow_read
    after = await list_page(stack, player_id)

    assert stale.total_nodes == 0  # the slow read did see the old rows
    assert after.total_nodes == 3
    assert len(after.nodes) == 3
