"""Password hashing refuses work past its queue instead of piling it up."""

from __future__ import annotations

import asyncio

import pytest

from services.player.errors import PasswordHashingBusy
from services.player.passwords import MIN_MEMORY_KIB, MIN_TIME_COST, Passwords


def passwords(max_pending: int) -> Passwords:
    return Passwords(MIN_MEMORY_KIB, MIN_TIME_COST, 1, max_pending=max_pending)


async def test_hashes_past_the_pending_limit_are_refused_at_once():
    hasher = passwords(max_pending=2)

    outcomes = await asyncio.gather(
        *(hasher.hash(f"password number {n}") for n in range(5)),
        return_exceptions=True,
    )

    hashed = [o for o in outcomes if isinstance(o, str)]
    refused = [o for o in outcomes if isinstance(o, PasswordHashingBusy)]
    assert len(hashed) == 2
    assert len(refused) == 3
    assert all(h.startswith("$argon2id$") for h in hashed)


async def test_the_limit_frees_up_as_hashes_finish():
    hasher = passwords(max_pending=1)
    first = await hasher.hash("password number 1")

    assert await hasher.verify(first, "password number 1")
    assert not await hasher.verify(first, "another password")


async def test_a_failed_verification_releases_its_place_too():
    hasher = passwords(max_pending=1)
    for _ in range(3):
        assert not await hasher.verify("not an argon2 hash", "password")
    assert await hasher.verify(None, "password") is False


def test_costs_below_owasps_minimum_are_refused():
    with pytest.raises(ValueError, match="OWASP"):
        Passwords(MIN_MEMORY_KIB - 1, MIN_TIME_COST, 1)
