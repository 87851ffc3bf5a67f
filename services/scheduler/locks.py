"""Redis locks that keep scheduler replicas from crowding one queue.

A lock is an optimisation, never a guarantee: it can expire while its holder
is paused, or vanish with Redis. Everything a holder does is safe to do twice
or concurrently (SKIP LOCKED claims, idempotency keys, unique windows), so
when Redis cannot be reached a replica simply proceeds without the lock.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

from services.common.cache import CacheUnavailable, RedisGuard

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


class Lease:
    """A held lock (or, with Redis down, the permission to go on without one)."""

    def __init__(self, locks: QueueLocks, key: str, token: str, *, real: bool) -> None:
        self._locks = locks
        self.key = key
        self.token = token
        self.real = real

    async def renew(self) -> bool:
        """Extend the lease; False when another replica has taken the lock."""
        if not self.real:
            return True
        return await self._locks.renew(self)

    async def release(self) -> None:
        if self.real:
            await self._locks.release(self)


class QueueLocks:
    def __init__(self, guard: RedisGuard, prefix: str, ttl_seconds: float) -> None:
        self.guard = guard
        self.prefix = prefix
        self.ttl_ms = int(ttl_seconds * 1000)
        self._renew = guard.client.register_script(_RENEW)
        self._release = guard.client.register_script(_RELEASE)

    async def acquire(self, name: str) -> Lease | None:
        """The lease on `name`, or None when another replica holds it."""
        key = f"{self.prefix}scheduler:lock:{name}"
        token = secrets.token_hex(16)

        async def set_if_free(client: Any) -> Any:
            return await client.set(key, token, nx=True, px=self.ttl_ms)

        try:
            acquired = await self.guard.call(set_if_free)
        except CacheUnavailable:
            return Lease(self, key, token, real=False)
        return Lease(self, key, token, real=True) if acquired else None

    async def renew(self, lease: Lease) -> bool:
        async def renew(client: Any) -> Any:
            return await self._renew(
                keys=[lease.key], args=[lease.token, self.ttl_ms], client=client
            )

        try:
            return bool(await self.guard.call(renew))
        except CacheUnavailable:
            return True

    async def release(self, lease: Lease) -> None:
        async def release(client: Any) -> Any:
            return await self._release(
                keys=[lease.key], args=[lease.token], client=client
            )

        with contextlib.suppress(CacheUnavailable):
            await self.guard.call(release)
