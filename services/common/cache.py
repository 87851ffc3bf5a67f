"""Redis, used only for what PostgreSQL can rebuild, and the read-through cache.

Two rules shape this module:

* Redis being down makes the game slower, never wrong. Every Redis call goes
  through `RedisGuard`, which turns an outage into "no cache" (logged once when
  it starts and once when it ends) and skips Redis for a moment between probes
  so requests do not each wait for a connect timeout.
* No stale read after a successful write. A `ScopedCache` keeps, per scope
  (say one player), a generation counter next to the cached values. A reader
  notes the generation before it queries PostgreSQL and stores its result only
  if the generation is still the same; a writer bumps the generation (and drops
  the values) after its commit and before it reports success. A slow reader
  that fetched rows from before the write therefore cannot put them back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

T = TypeVar("T")
RedisOp = Callable[[aioredis.Redis], Awaitable[T]]


def create_redis(url: str, *, timeout: float = 0.5) -> aioredis.Redis:
    """A client that fails fast: short timeouts and no retries of its own."""
    return aioredis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        max_connections=64,
    )


class CacheUnavailable(Exception):
    """Raised by `RedisGuard.call` when Redis cannot be used right now."""


class RedisGuard:
    """Runs Redis calls for one process and remembers whether Redis is down.

    Invalidations that fail during an outage are kept and replayed before the
    first call that reaches Redis again, so a cache that survived the outage
    (a network split rather than a restart) cannot serve what they dropped.
    """

    def __init__(self, client: aioredis.Redis, *, probe_interval: float = 1.0) -> None:
        self.client = client
        self.probe_interval = probe_interval
        self._down_since: float | None = None
        self._next_probe = 0.0
        self._pending: dict[str, RedisOp[Any]] = {}

    @property
    def is_down(self) -> bool:
        return self._down_since is not None

    async def call(self, op: RedisOp[T]) -> T:
        if self._down_since is not None:
            if time.monotonic() < self._next_probe:
                raise CacheUnavailable
            await self._replay_pending()
        try:
            result = await op(self.client)
        except (RedisError, OSError) as exc:
            self._mark_down(exc)
            raise CacheUnavailable from exc
        if self._down_since is not None:
            self._mark_up()
        return result

    async def invalidate(self, key: str, op: RedisOp[Any]) -> None:
        """Run an invalidation now, or keep it for when Redis answers again."""
        try:
            await self.call(op)
        except CacheUnavailable:
            self._pending[key] = op

    async def _replay_pending(self) -> None:
        for key, op in list(self._pending.items()):
            try:
                await op(self.client)
            except (RedisError, OSError) as exc:
                self._mark_down(exc)
                raise CacheUnavailable from exc
            del self._pending[key]

    def _mark_down(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._next_probe = now + self.probe_interval
        if self._down_since is None:
            self._down_since = now
            logger.warning(
                "redis unavailable; serving from PostgreSQL",
                extra={"error": repr(exc)},
            )

    def _mark_up(self) -> None:
        assert self._down_since is not None
        outage = time.monotonic() - self._down_since
        self._down_since = None
        logger.info("redis available again", extra={"outage_seconds": round(outage, 3)})


# Stores a value only if the scope's generation is still the one the reader saw.
_STORE_IF_CURRENT = """
local current = redis.call('GET', KEYS[1]) or '0'
if current ~= ARGV[1] then
    return 0
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""

# Generation counters outlive any reader by far; a day keeps Redis tidy.
_GENERATION_TTL = 86_400


@dataclass(frozen=True)
class Lookup:
    """The result of a cache read: the value on a hit, the generation seen."""

    value: bytes | None
    generation: str | None


class ScopedCache:
    """Read-through cache of values grouped by scope, safe against stale refills."""

    def __init__(
        self, guard: RedisGuard, *, prefix: str, namespace: str, ttl_seconds: int
    ) -> None:
        self.guard = guard
        self.ttl_seconds = ttl_seconds
        self._base = f"{prefix}{namespace}"
        self._store = guard.client.register_script(_STORE_IF_CURRENT)

    def _keys(self, scope: str) -> tuple[str, str]:
        return f"{self._base}:gen:{scope}", f"{self._base}:data:{scope}"

    async def lookup(self, scope: str, field: str) -> Lookup:
        generation_key, data_key = self._keys(scope)

        async def read(client: aioredis.Redis) -> list[Any]:
            async with client.pipeline(transaction=True) as pipe:
                pipe.get(generation_key)
                pipe.hget(data_key, field)
                return list(await pipe.execute())

        try:
            generation, value = await self.guard.call(read)
        except CacheUnavailable:
            return Lookup(None, None)
        return Lookup(value, (generation or b"0").decode())

    async def store(self, scope: str, field: str, lookup: Lookup, value: bytes) -> None:
        """Store a value loaded after `lookup`, unless a write came in between."""
        generation = lookup.generation
        if generation is None:
            return
        generation_key, data_key = self._keys(scope)

        async def store(client: aioredis.Redis) -> Any:
            return await self._store(
                keys=[generation_key, data_key],
                args=[generation, field, value, self.ttl_seconds],
                client=client,
            )

        try:
            await self.guard.call(store)
        except CacheUnavailable:
            return

    async def get_or_load(
        self,
        scope: str,
        field: str,
        load: Callable[[], Awaitable[T]],
        encode: Callable[[T], bytes],
        decode: Callable[[bytes], T],
    ) -> T:
        """Serve from Redis, or load from the source of truth and fill the cache."""
        lookup = await self.lookup(scope, field)
        if lookup.value is not None:
            return decode(lookup.value)
        result = await load()
        await self.store(scope, field, lookup, encode(result))
        return result

    async def invalidate(self, scope: str) -> None:
        """Drop a scope's values; call after the write commits, before replying."""
        generation_key, data_key = self._keys(scope)

        async def bump(client: aioredis.Redis) -> Any:
            async with client.pipeline(transaction=True) as pipe:
                pipe.incr(generation_key)
                pipe.expire(generation_key, _GENERATION_TTL)
                pipe.delete(data_key)
                return await pipe.execute()

        await self.guard.invalidate(generation_key, bump)
