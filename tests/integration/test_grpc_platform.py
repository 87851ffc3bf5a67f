"""What every service process does: health, error mapping, graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from hiddenwars.player.v1 import player_pb2 as pb
from hiddenwars.player.v1 import player_pb2_grpc
from services.common.clients import open_channel
from services.common.db import create_pool
from services.common.errors import ResourceExhausted
from services.common.grpcserver import GrpcServer
from tests.fixtures_db import REDIS_URL, ThrowawayDatabase

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def check(address: str, service: str = "") -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = await stub.Check(
            health_pb2.HealthCheckRequest(service=service), timeout=2
        )
        return reply.status


def echo_server(pool, behaviour) -> GrpcServer:
    """A server with one generic method, to exercise the shared interceptors."""

    async def handle(request: bytes, context) -> bytes:
        return await behaviour(request, context)

    handler = grpc.method_handlers_generic_handler(
        "test.Echo",
        {
            "Call": grpc.unary_unary_rpc_method_handler(
                handle,
                request_deserializer=lambda raw: raw,
                response_serializer=lambda raw: raw,
            )
        },
    )
    return GrpcServer(
        service_names=["test.Echo"],
        add_servicers=lambda server: server.add_generic_rpc_handlers((handler,)),
        pool=pool,
        health_interval=0.1,
    )


async def call_echo(address: str, payload: bytes) -> bytes:
    async with grpc.aio.insecure_channel(address) as channel:
        method: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
            "/test.Echo/Call"
        )
        return await method(payload, timeout=2)


async def test_an_unexpected_error_is_internal_with_a_generic_message_logged_once(
    database: ThrowawayDatabase, caplog
):
    async def explode(request: bytes, context) -> bytes:
        raise RuntimeError("SELECT secret FROM table; stack details")

    pool = await create_pool(database.url("hacks"))
    server = echo_server(pool, explode)
    await server.start()
    try:
        with (
            caplog.at_level(logging.ERROR),
            pytest.raises(grpc.aio.AioRpcError) as caught,
        ):
            await call_echo(server.address, b"x")
    finally:
        await server.stop(0)
        await pool.close()

    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert caught.value.details() == "internal error"
    logged = [r for r in caplog.records if r.getMessage() == "unexpected error"]
    assert len(logged) == 1
    assert logged[0].exc_info is not None


async def test_a_service_error_reaches_the_caller_as_its_status(
    database: ThrowawayDatabase,
):
    async def refuse(request: bytes, context) -> bytes:
        raise ResourceExhausted("slow down: 3 builds at most")

    pool = await create_pool(database.url("hacks"))
    server = echo_server(pool, refuse)
    await server.start()
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call_echo(server.address, b"x")
    finally:
        await server.stop(0)
        await pool.close()

    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert caught.value.details() == "slow down: 3 builds at most"


async def wait_for_status(address: str, wanted: int, service: str = "") -> None:
    async with asyncio.timeout(10):
        while await check(address, service) != wanted:
            await asyncio.sleep(0.05)


async def test_health_is_serving_only_while_postgres_answers(fresh_database):
    async def echo(request: bytes, context) -> bytes:
        return request

    pool = await create_pool(fresh_database.url("hacks"), min_size=0)
    server = echo_server(pool, echo)
    await server.start()
    admin = await asyncpg.connect(fresh_database.admin_url)
    try:
        assert await check(server.address, "test.Echo") == SERVING

        await admin.execute(
            f"ALTER DATABASE {fresh_database.name} ALLOW_CONNECTIONS false"
        )
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            fresh_database.name,
        )
        await wait_for_status(server.address, NOT_SERVING, "test.Echo")

        await admin.execute(
            f"ALTER DATABASE {fresh_database.name} ALLOW_CONNECTIONS true"
        )
        await wait_for_status(server.address, SERVING, "test.Echo")
    finally:
        await admin.execute(
            f"ALTER DATABASE {fresh_database.name} ALLOW_CONNECTIONS true"
        )
        await admin.close()
        await server.stop(0)
        await pool.close()


async def test_sigterm_lets_in_flight_calls_finish_then_exits_cleanly(
    database: ThrowawayDatabase, redis_prefix: str, unique: str, free_port: int
):
    env = {
        **os.environ,
        "HW_DATABASE_URL": database.url("player"),
        "HW_REDIS_URL": REDIS_URL,
        "HW_REDIS_PREFIX": redis_prefix,
        "HW_GRPC_PORT": str(free_port),
        "HW_NODES_ADDRESS": "127.0.0.1:9",
        "HW_RPC_TIMEOUT": "0.5",
        "HW_SHUTDOWN_GRACE": "10",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.player",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    address = f"127.0.0.1:{free_port}"
    try:
        async with asyncio.timeout(15):
            while True:
                try:
                    if await check(address) == SERVING:
                        break
                except grpc.aio.AioRpcError:
                    await asyncio.sleep(0.1)

        async with grpc.aio.insecure_channel(address) as channel:
            stub = player_pb2_grpc.PlayerServiceStub(channel)
            calls = [
                asyncio.ensure_future(
                    stub.Register(
                        pb.RegisterRequest(
                            username=f"late{i}_{unique}", password="p" * 12
                        ),
                        timeout=10,
                    )
                )
                for i in range(6)
            ]
            await asyncio.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            replies = await asyncio.gather(*calls)
        code = await asyncio.wait_for(process.wait(), timeout=15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    output = (await process.stdout.read()).decode() if process.stdout else ""

    assert code == 0, output
    assert sorted(reply.player.username for reply in replies) == sorted(
        f"late{i}_{unique}" for i in range(6)
    )
    assert '"message": "shutdown requested"' in output


async def test_a_call_made_without_a_timeout_still_carries_a_deadline(
    database: ThrowawayDatabase,
):
    seen: list[float | None] = []

    async def remember_deadline(request: bytes, context) -> bytes:
        seen.append(context.time_remaining())
        return request

    pool = await create_pool(database.url("hacks"))
    server = echo_server(pool, remember_deadline)
    await server.start()
    channel = open_channel(server.address, timeout=2.5)
    try:
        method: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
            "/test.Echo/Call"
        )
        await method(b"x")  # no timeout given by the caller
    finally:
        await channel.close()
        await server.stop(0)
        await pool.close()

    assert seen[0] is not None
    assert 0 < seen[0] <= 2.6  # the deadline of open_channel, give or take rounding


async def test_a_channel_spreads_its_calls_over_every_address_of_its_target():
    # Two replicas that answer differently for one health name; a target that
    # resolves to both, as a headless Service's name does in Kubernetes.
    servers, ports = [], []
    for status in (SERVING, NOT_SERVING):
        server = grpc.aio.server()
        servicer = health.aio.HealthServicer()
        await servicer.set("replica", status)
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        ports.append(server.add_insecure_port("127.0.0.1:0"))
        await server.start()
        servers.append(server)
    target = "ipv4:" + ",".join(f"127.0.0.1:{port}" for port in ports)
    channel = open_channel(target, timeout=2.0)
    try:
        stub = health_pb2_grpc.HealthStub(channel)
        answers = [
            (await stub.Check(health_pb2.HealthCheckRequest(service="replica"))).status
            for _ in range(10)
        ]
    finally:
        await channel.close()
        for server in servers:
            await server.stop(0)

    # pick_first, gRPC's default, would have sent all ten to one replica.
    assert answers.count(SERVING) >= 3
    assert answers.count(NOT_SERVING) >= 3
