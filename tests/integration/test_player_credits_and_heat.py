"""Idempotent debits and the once-per-window heat decay of the player service."""

from __future__ import annotations

import asyncio

import asyncpg
import grpc
import pytest

from hiddenwars.player.v1 import player_pb2 as pb
from tests.fixtures_db import ThrowawayDatabase


async def new_player(stub, name: str) -> pb.Player:
    reply = await stub.Register(pb.RegisterRequest(username=name, password="p" * 12))
    return reply.player


async def spend(stub, player_id: str, amount: int, key: str) -> pb.SpendCreditsResponse:
    return await stub.SpendCredits(
        pb.SpendCreditsRequest(
            player_id=player_id, amount=amount, idempotency_key=key, reason="test"
        )
    )


async def credits_of(stub, player_id: str) -> int:
    reply = await stub.GetPlayer(pb.GetPlayerRequest(player_id=player_id))
    return reply.player.credits


async def test_retried_spend_is_applied_once(player_stub, unique):
    player = await new_player(player_stub, f"spender_{unique}")

    first = await spend(player_stub, player.id, 300, f"build:{unique}")
    retry = await spend(player_stub, player.id, 300, f"build:{unique}")

    assert (first.balance_after, first.replayed) == (700, False)
    assert (retry.balance_after, retry.replayed) == (700, True)
    assert await credits_of(player_stub, player.id) == 700


async def test_concurrent_spends_with_one_key_debit_once(player_stub, unique):
    player = await new_player(player_stub, f"racer_{unique}")

    replies = await asyncio.gather(
        *(spend(player_stub, player.id, 100, f"race:{unique}") for _ in range(8))
    )

    assert sorted(reply.replayed for reply in replies) == [False] + [True] * 7
    assert await credits_of(player_stub, player.id) == 900


async def test_spending_more_than_the_balance_is_a_failed_precondition(
    player_stub, unique
):
    player = await new_player(player_stub, f"broke_{unique}")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await spend(player_stub, player.id, 1001, f"too-much:{unique}")

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "not enough credits" in caught.value.details()
    assert await credits_of(player_stub, player.id) == 1000


async def test_a_key_reused_for_another_amount_is_refused(player_stub, unique):
    player = await new_player(player_stub, f"reuse_{unique}")
    await spend(player_stub, player.id, 10, f"k:{unique}")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await spend(player_stub, player.id, 20, f"k:{unique}")

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert await credits_of(player_stub, player.id) == 990


@pytest.mark.parametrize("amount", [0, -5])
async def test_a_non_positive_amount_is_invalid(player_stub, unique, amount):
    player = await new_player(player_stub, f"zero{amount + 5}_{unique}")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await spend(player_stub, player.id, amount, f"z:{unique}")

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("amount:")


async def set_heat(database: ThrowawayDatabase, player_id: str, heat: int) -> None:
    connection = await asyncpg.connect(database.superuser_url)
    try:
        await connection.execute(
            "UPDATE player.players SET heat = $2 WHERE id = $1::uuid", player_id, heat
        )
    finally:
        await connection.close()


async def test_heat_decays_once_per_window_and_never_below_zero(
    fresh_player_stub, unique, fresh_database
):
    player_stub, database = fresh_player_stub, fresh_database
    hot = await new_player(player_stub, f"hot_{unique}")
    warm = await new_player(player_stub, f"warm_{unique}")
    await set_heat(database, hot.id, 5)
    await set_heat(database, warm.id, 1)
    window = 1_000

    first = await player_stub.ApplyHeatDecay(pb.ApplyHeatDecayRequest(window=window))
    again = await player_stub.ApplyHeatDecay(pb.ApplyHeatDecayRequest(window=window))
    next_window = await player_stub.ApplyHeatDecay(
        pb.ApplyHeatDecayRequest(window=window + 1)
    )

    assert first.windows_applied == 1
    assert again.windows_applied == 0
    assert next_window.windows_applied == 1
    hot_now = await player_stub.GetPlayer(pb.GetPlayerRequest(player_id=hot.id))
    warm_now = await player_stub.GetPlayer(pb.GetPlayerRequest(player_id=warm.id))
    assert hot_now.player.heat == 3
    assert warm_now.player.heat == 0


async def test_concurrent_decays_of_one_window_apply_it_once(
    fresh_player_stub, unique, fresh_database
):
    player_stub, database = fresh_player_stub, fresh_database
    player = await new_player(player_stub, f"cool_{unique}")
    await set_heat(database, player.id, 100)
    window = 2_000
    await player_stub.ApplyHeatDecay(pb.ApplyHeatDecayRequest(window=window))
    await set_heat(database, player.id, 100)

    replies = await asyncio.gather(
        *(
            player_stub.ApplyHeatDecay(pb.ApplyHeatDecayRequest(window=window + 3))
            for _ in range(5)
        )
    )

    # The three windows after the last applied one are applied exactly once.
    assert sorted(reply.windows_applied for reply in replies) == [0, 0, 0, 0, 3]
    reply = await player_stub.GetPlayer(pb.GetPlayerRequest(player_id=player.id))
    assert reply.player.heat == 97
