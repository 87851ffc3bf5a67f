"""`make bench`: the dashboard's first page through the gateway, against a floor.

Usage: python -m tests.bench.dashboard   (through `make bench`)

Starts the whole game on free ports with a throwaway database and Redis
prefix, signs a player up through the gateway, gives it 500 more nodes with
plain SQL, and measures GET /v1/nodes: latency with one client, then requests
per second with 32. The floor is the same bytes served by a bare ASGI app
from one Redis GET on this machine, measured the same way. Numbers never fail
the run; a wrong page, a crash or a refused request does. Everything started
here is stopped and dropped on the way out, Ctrl-C included.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO

import grpc
import httpx2
import redis.asyncio as aioredis

from gateway.models import NodePage
from hiddenwars.nodes.v1 import nodes_pb2, nodes_pb2_grpc
from hiddenwars.player.v1 import player_pb2, player_pb2_grpc
from scripts.stack import GameStack, StackConfig, StackError
from services.common.cache import create_redis
from tests.bench.load import Job, Result, percentile
from tests.fixtures_db import (
    REDIS_URL,
    ThrowawayDatabase,
    create_test_database,
    drop_test_database,
    query,
)
from tests.servers import free_port, stack_config

PAGE = "/v1/nodes"
PAGE_SIZE = 25  # the gateway's default, so the request sends none
SEEDED_NODES = 500
# Registration grants relay, relay and proxy with the default settings.
STARTER_NODES = 3
TOTAL_NODES = STARTER_NODES + SEEDED_NODES
CLIENTS = 32
TARGET_P50_MS = 3.0
TARGET_P99_MS = 10.0

ONE_CLIENT = Job(mode="latency", port=0, path=PAGE, warmup=200, count=2000)
MANY_CLIENTS = Job(
    mode="rate", port=0, path=PAGE, clients=CLIENTS, warmup_seconds=1.0, seconds=10.0
)
# Direct gRPC calls timed for the diagnostic line, bounded in count and time.
BACKEND_WARMUP = 100
BACKEND_ROUNDS = 1000
BACKEND_SECONDS = 10.0

SEED_NODES = """
INSERT INTO nodes.nodes (player_id, kind, level, hp, max_hp, income)
SELECT $1,
       (ARRAY['relay', 'proxy', 'miner'])[1 + n % 3],
       1 + n % 4,
       (n * 37) % 101,
       100,
       2 + n % 10
FROM generate_series(1, $2::integer) AS n
"""

COUNT_NODES = """
SELECT count(*) AS nodes
FROM nodes.nodes
WHERE player_id = $1
"""

GENERATOR = (
    "tests.bench.load, a Python client in its own process: "
    "one client on a blocking keep-alive socket, "
    f"{CLIENTS} clients as uvloop protocols on keep-alive connections"
)


class BenchError(Exception):
    """Raised when the bench cannot measure what it set out to."""


@dataclass(frozen=True)
class Page:
    body: bytes
    content_type: str


@dataclass(frozen=True)
class Figures:
    one_client: Result
    many_clients: Result
    # Share of one core each watched process used while the many clients ran.
    cpu: dict[str, float]


@dataclass(frozen=True)
class BackendTimings:
    rounds: int
    authenticate_p50_ms: float
    list_nodes_p50_ms: float
    # Both calls started together, as the gateway does once it knows the owner.
    side_by_side_p50_ms: float
    side_by_side_p99_ms: float
    # NodePage.from_proto and its JSON, as the gateway does after ListNodes.
    conversion_ms: float


def expect(reply: httpx2.Response, status: int, what: str) -> None:
    if reply.status_code != status:
        raise BenchError(f"{what}: HTTP {reply.status_code} {reply.text[:300]}")


def open_log(path: Path) -> IO[bytes]:
    return path.open("wb")


def log_tails(log_dir: Path, lines: int = 15) -> str:
    tails = []
    for log in sorted(log_dir.glob("*.log")):
        text = log.read_text(errors="replace").splitlines()[-lines:]
        tails.append(f"--- {log.name}\n" + "\n".join(text))
    return "\n".join(tails)


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of a process, from /proc; None when unreadable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def is_local_redis(pid: int) -> bool:
    try:
        return "redis" in Path(f"/proc/{pid}/comm").read_text()
    except OSError:
        return False


async def start_stack(stack: GameStack) -> None:
    try:
        await stack.start()
    except StackError:
        if stack.config.log_dir is not None:
            print(log_tails(stack.config.log_dir), file=sys.stderr)
        raise


async def sign_up(http: httpx2.AsyncClient, username: str) -> tuple[str, str]:
    """Register and log in through the gateway; returns (player id, token)."""
    credentials = {"username": username, "password": secrets.token_urlsafe(18)}
    account = await http.post("/v1/accounts", json=credentials)
    expect(account, 201, "registering the bench player")
    session = await http.post("/v1/sessions", json=credentials)
    expect(session, 201, "logging the bench player in")
    return account.json()["id"], session.json()["token"]


async def seed_nodes(database: ThrowawayDatabase, player_id: str) -> None:
    player = uuid.UUID(player_id)
    await query(database, SEED_NODES, player, SEEDED_NODES)
    rows = await query(database, COUNT_NODES, player)
    if rows[0]["nodes"] != TOTAL_NODES:
        raise BenchError(
            f"the player has {rows[0]['nodes']} nodes, expected {TOTAL_NODES} "
            f"({STARTER_NODES} granted at registration, {SEEDED_NODES} seeded)"
        )


async def first_page(http: httpx2.AsyncClient, headers: Mapping[str, str]) -> Page:
    """The dashboard's first page, checked; its first read fills the cache."""
    reply = await http.get(PAGE, headers=headers)
    expect(reply, 200, f"GET {PAGE}")
    data = reply.json()
    if len(data["nodes"]) != PAGE_SIZE or data["total_nodes"] != TOTAL_NODES:
        raise BenchError(
            f"GET {PAGE} gave {len(data['nodes'])} nodes of {data['total_nodes']}, "
            f"expected {PAGE_SIZE} of {TOTAL_NODES}"
        )
    cached = await http.get(PAGE, headers=headers)
    expect(cached, 200, f"GET {PAGE} again")
    if cached.content != reply.content:
        raise BenchError(f"two reads of GET {PAGE} gave different bodies")
    return Page(reply.content, reply.headers["content-type"])


async def start_floor(
    port: int, key: str, page: Page, log_dir: Path
) -> asyncio.subprocess.Process:
    with open_log(log_dir / "floor.log") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.bench.floor",
            "--port",
            str(port),
            "--redis-url",
            REDIS_URL,
            "--key",
            key,
            "--content-type",
            page.content_type,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    return process


async def check_floor(
    process: asyncio.subprocess.Process, port: int, page: Page, log_dir: Path
) -> None:
    """Wait until the floor answers, and check that it answers the page's bytes."""
    async with httpx2.AsyncClient(timeout=1.0) as http:
        try:
            async with asyncio.timeout(15.0):
                while True:
                    if process.returncode is not None:
                        raise BenchError(
                            f"the floor server exited with {process.returncode}\n"
                            + log_tails(log_dir)
                        )
                    try:
                        reply = await http.get(f"http://127.0.0.1:{port}{PAGE}")
                    except httpx2.TransportError:
                        await asyncio.sleep(0.1)
                        continue
                    break
        except TimeoutError:
            raise BenchError("the floor server did not answer within 15 s") from None
    expect(reply, 200, "the floor server")
    if reply.content != page.body or reply.headers["content-type"] != page.content_type:
        raise BenchError("the floor server does not answer the gateway's bytes")


async def stop_process(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), timeout=5.0)
    except TimeoutError:
        process.kill()
        await process.wait()


async def delete_keys(redis: aioredis.Redis, prefix: str) -> None:
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=1000)]
    if keys:
        await redis.unlink(*keys)


async def run_load(job: Job) -> Result:
    """Run one job of the load generator in its own process."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.bench.load",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    bound = 60.0 + job.max_seconds + job.warmup_seconds + job.seconds
    try:
        async with asyncio.timeout(bound):
            output, _ = await process.communicate(json.dumps(asdict(job)).encode())
    except TimeoutError:
        raise BenchError(f"the load generator ran past {bound:.0f} s") from None
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if process.returncode != 0:
        raise BenchError(
            f"the load generator failed on port {job.port} ({job.mode}); "
            "its error is above"
        )
    result = Result(**json.loads(output))
    if result.errors:
        raise BenchError(f"{result.errors} requests to port {job.port} were refused")
    return result


async def measure(
    port: int, headers: Mapping[str, str], watched: Mapping[str, int]
) -> Figures:
    """One client, then many; `watched` processes have their CPU sampled."""
    one = await run_load(replace(ONE_CLIENT, port=port, headers=dict(headers)))

    before = {name: cpu_seconds(pid) for name, pid in watched.items()}
    started = time.perf_counter()
    many = await run_load(replace(MANY_CLIENTS, port=port, headers=dict(headers)))
    # Includes the generator's start and connects: the shares read a bit low.
    elapsed = time.perf_counter() - started
    cpu: dict[str, float] = {}
    for name, pid in watched.items():
        after, earlier = cpu_seconds(pid), before[name]
        if after is not None and earlier is not None:
            cpu[name] = (after - earlier) / elapsed
    cpu["load generator"] = many.cpu_seconds / (
        MANY_CLIENTS.warmup_seconds + MANY_CLIENTS.seconds
    )
    return Figures(one, many, cpu)


async def time_backends(
    config: StackConfig, token: str, player_id: str
) -> BackendTimings:
    """The two calls behind a page, straight to the services on plain channels
    (no tracing interceptors): each alone, then both started together."""
    authenticate = player_pb2.AuthenticateRequest(token=token)
    list_nodes = nodes_pb2.ListNodesRequest(player_id=player_id, page_size=PAGE_SIZE)
    auth_times: list[float] = []
    list_times: list[float] = []
    both_times: list[float] = []
    async with (
        grpc.aio.insecure_channel(config.address("player")) as player_channel,
        grpc.aio.insecure_channel(config.address("nodes")) as nodes_channel,
    ):
        player = player_pb2_grpc.PlayerServiceStub(player_channel)
        nodes = nodes_pb2_grpc.NodesServiceStub(nodes_channel)
        stop_at = time.perf_counter() + BACKEND_SECONDS
        for index in range(BACKEND_WARMUP + BACKEND_ROUNDS):
            sent = time.perf_counter()
            await player.Authenticate(authenticate, timeout=2.0)
            authenticated = time.perf_counter()
            await nodes.ListNodes(list_nodes, timeout=2.0)
            listed = time.perf_counter()
            _, reply = await asyncio.gather(
                player.Authenticate(authenticate, timeout=2.0),
                nodes.ListNodes(list_nodes, timeout=2.0),
            )
            done = time.perf_counter()
            if index >= BACKEND_WARMUP:
                auth_times.append(authenticated - sent)
                list_times.append(listed - authenticated)
                both_times.append(done - listed)
            if done > stop_at:
                break

    rounds = 200
    started = time.perf_counter()
    for _ in range(rounds):
        NodePage.from_proto(reply).model_dump_json()
    conversion = (time.perf_counter() - started) / rounds

    both_times.sort()
    return BackendTimings(
        rounds=len(both_times),
        authenticate_p50_ms=statistics.median(auth_times) * 1000,
        list_nodes_p50_ms=statistics.median(list_times) * 1000,
        side_by_side_p50_ms=percentile(both_times, 0.50) * 1000,
        side_by_side_p99_ms=percentile(both_times, 0.99) * 1000,
        conversion_ms=conversion * 1000,
    )


def report(
    page: Page, gateway: Figures, floor: Figures, backends: BackendTimings
) -> str:
    def row(name: str, values: list[str]) -> str:
        return f"{name:<17}" + "".join(f"{value:>10}" for value in values)

    def figures(result: Figures) -> list[float]:
        one, many = result.one_client, result.many_clients
        return [one.p50_ms, one.p99_ms, one.mean_ms, many.requests_per_second]

    def cpu(result: Figures) -> str:
        return ", ".join(f"{name} {share:.0%}" for name, share in result.cpu.items())

    def verdict(value: float, target: float) -> str:
        return f"{'met' if value < target else 'not met'} ({value:.2f} ms)"

    ours, theirs = figures(gateway), figures(floor)
    ratios = [f"{a / b:.3g}x" if b else "-" for a, b in zip(ours, theirs, strict=True)]
    one = gateway.one_client
    own_ms = one.p50_ms - backends.side_by_side_p50_ms
    lines = [
        "",
        f"HiddenWars dashboard benchmark: GET {PAGE}, first page "
        f"({PAGE_SIZE} of {TOTAL_NODES} nodes, {len(page.body):,}-byte "
        f"{page.content_type} body), all on 127.0.0.1",
        f"load generator: {GENERATOR}",
        "",
        row("", ["one client", "", "", f"{CLIENTS} clients"]),
        row("", ["p50 ms", "p99 ms", "mean ms", "req/s"]),
        row("gateway", [f"{v:.2f}" for v in ours[:3]] + [f"{ours[3]:,.0f}"]),
        row("floor", [f"{v:.2f}" for v in theirs[:3]] + [f"{theirs[3]:,.0f}"]),
        row("gateway / floor", ratios),
        "",
        f"target, one client through the gateway: p50 < {TARGET_P50_MS:g} ms "
        f"{verdict(one.p50_ms, TARGET_P50_MS)}; p99 < {TARGET_P99_MS:g} ms "
        f"{verdict(one.p99_ms, TARGET_P99_MS)}",
        f"samples: one client {one.requests:,} requests in {one.seconds:.1f} s "
        f"(floor {floor.one_client.requests:,}); {CLIENTS} clients "
        f"{gateway.many_clients.requests:,} in {MANY_CLIENTS.seconds:g} s "
        f"(floor {floor.many_clients.requests:,}), after "
        f"{MANY_CLIENTS.warmup_seconds:g} s uncounted",
        f"latency under {CLIENTS} clients: gateway p50 "
        f"{gateway.many_clients.p50_ms:.1f} ms, p99 "
        f"{gateway.many_clients.p99_ms:.1f} ms; floor p50 "
        f"{floor.many_clients.p50_ms:.1f} ms, p99 {floor.many_clients.p99_ms:.1f} ms",
        f"CPU under {CLIENTS} clients, share of one core ({os.cpu_count()} cores): "
        f"gateway run: {cpu(gateway)}; floor run: {cpu(floor)}",
        f"diagnostic, gRPC straight from the bench process ({backends.rounds:,} "
        f"rounds, plain channels): Authenticate p50 "
        f"{backends.authenticate_p50_ms:.2f} ms, ListNodes p50 "
        f"{backends.list_nodes_p50_ms:.2f} ms; both started together p50 "
        f"{backends.side_by_side_p50_ms:.2f} ms, p99 "
        f"{backends.side_by_side_p99_ms:.2f} ms",
        f"  so the gateway's own share of its p50 is about {own_ms:.2f} ms (HTTP, "
        f"FastAPI, tracing, client-side gRPC), of which NodePage.from_proto and "
        f"its JSON take {backends.conversion_ms:.2f} ms",
    ]
    if floor.cpu.get("load generator", 0.0) > 0.8:
        lines.append(
            "note: the load generator used most of a core on the floor run, so the "
            "floor's req/s may be the generator's limit rather than the floor's"
        )
    return "\n".join(lines)


async def run() -> None:
    suffix = uuid.uuid4().hex[:10]
    prefix = f"hwbench_{suffix}:"
    async with contextlib.AsyncExitStack() as cleanup:
        # Callbacks run in reverse: the floor and the stack stop before the
        # database is dropped and the prefix's keys are deleted.
        redis = create_redis(REDIS_URL)
        cleanup.push_async_callback(redis.aclose)
        cleanup.push_async_callback(delete_keys, redis, prefix)
        print("bench: creating a throwaway database", flush=True)
        database = await create_test_database()
        cleanup.push_async_callback(drop_test_database, database)
        log_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory()))

        config = stack_config(database, prefix, log_dir)
        stack = GameStack(config)
        cleanup.push_async_callback(stack.stop)
        print("bench: starting the services and the gateway", flush=True)
        await start_stack(stack)

        async with httpx2.AsyncClient(base_url=config.gateway_url, timeout=5) as http:
            player_id, token = await sign_up(http, f"bench_{suffix}")
            await seed_nodes(database, player_id)
            headers = {"Authorization": f"Bearer {token}", "Accept": "*/*"}
            page = await first_page(http, headers)
        print(
            f"bench: page checked ({PAGE_SIZE} nodes, total_nodes {TOTAL_NODES})",
            flush=True,
        )

        floor_key = f"{prefix}bench:floor"
        await redis.set(floor_key, page.body)
        floor_port = free_port()
        floor = await start_floor(floor_port, floor_key, page, log_dir)
        cleanup.push_async_callback(stop_process, floor)
        await check_floor(floor, floor_port, page, log_dir)

        redis_pid = int((await redis.info("server"))["process_id"])
        shared = {"redis": redis_pid} if is_local_redis(redis_pid) else {}
        watched = {
            name: stack.processes[name].pid for name in ("gateway", "player", "nodes")
        }
        print("bench: measuring the gateway", flush=True)
        gateway_figures = await measure(
            config.ports["gateway"], headers, watched | shared
        )
        print("bench: measuring the floor", flush=True)
        floor_figures = await measure(
            floor_port, headers, {"floor": floor.pid} | shared
        )
        print("bench: timing the gRPC calls behind the page", flush=True)
        backends = await time_backends(config, token, player_id)
        print(report(page, gateway_figures, floor_figures, backends), flush=True)
        print("\nbench: cleaning up", flush=True)


def main() -> int:
    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        print("bench: interrupted; what it started is stopped", file=sys.stderr)
        return 130
    except (BenchError, StackError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
