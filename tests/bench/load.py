"""A lean HTTP/1.1 load generator for 127.0.0.1: one client's latency, many's rate.

Usage: python -m tests.bench.load < job.json   (prints the result as JSON)

It runs in a process of its own so that its CPU time can be told apart from
the servers'. One client uses a blocking socket and `time.perf_counter`, with
nothing between the two but a send and the reads of one response; many
clients share one uvloop event loop, each a bare protocol on its own
keep-alive connection sending its next request as soon as the last is read.
Responses must carry a Content-Length (no chunked bodies); requests are never
pipelined.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import socket
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal, cast

import uvloop

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Job:
    mode: Literal["latency", "rate"]
    port: int
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    # latency: untimed requests first, then at most `count` timed ones, stopping
    # early once `max_seconds` have passed.
    warmup: int = 200
    count: int = 2000
    max_seconds: float = 10.0
    # rate: `clients` connections for `warmup_seconds` uncounted, then `seconds`.
    clients: int = 32
    warmup_seconds: float = 1.0
    seconds: float = 10.0

    def request(self) -> bytes:
        lines = [f"GET {self.path} HTTP/1.1", f"Host: {HOST}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass(frozen=True)
class Result:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    requests_per_second: float
    # CPU this process used while measuring, in seconds.
    cpu_seconds: float


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of values sorted in ascending order."""
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarise(
    latencies: list[float], errors: int, seconds: float, cpu_seconds: float
) -> Result:
    ordered = sorted(latencies)
    if not ordered:
        raise RuntimeError(f"no successful response ({errors} errors)")
    return Result(
        requests=len(ordered),
        errors=errors,
        seconds=seconds,
        p50_ms=percentile(ordered, 0.50) * 1000,
        p99_ms=percentile(ordered, 0.99) * 1000,
        mean_ms=statistics.fmean(ordered) * 1000,
        requests_per_second=len(ordered) / seconds,
        cpu_seconds=cpu_seconds,
    )


def split_response(buffer: bytearray) -> tuple[int, int] | None:
    """(status, length in bytes) of the response at the start of `buffer`, or None
    while it is incomplete."""
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    lines = bytes(buffer[:head_end]).split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    body_length: int | None = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            body_length = int(value)
        elif name == b"transfer-encoding":
            raise ValueError("chunked responses are not supported")
    if body_length is None:
        raise ValueError("a response without Content-Length")
    length = head_end + 4 + body_length
    return (status, length) if len(buffer) >= length else None


class _BlockingConnection:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=5.0)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = bytearray()

    def exchange(self, request: bytes) -> int:
        """Send one request and read its whole response; returns the status."""
        self.sock.sendall(request)
        while (parsed := split_response(self.buffer)) is None:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk
        status, length = parsed
        del self.buffer[:length]
        return status

    def close(self) -> None:
        self.sock.close()


def measure_latency(job: Job) -> Result:
    request = job.request()
    connection = _BlockingConnection(job.port)
    try:
        for _ in range(job.warmup):
            connection.exchange(request)
        latencies: list[float] = []
        errors = 0
        cpu_start = time.process_time()
        start = time.perf_counter()
        stop_at = start + job.max_seconds
        for _ in range(job.count):
            sent = time.perf_counter()
            status = connection.exchange(request)
            done = time.perf_counter()
            if status == 200:
                latencies.append(done - sent)
            else:
                errors += 1
            if done >= stop_at:
                break
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
    finally:
        connection.close()
    return summarise(latencies, errors, seconds, cpu_seconds)


class _Tally:
    """Responses completed inside the counted window."""

    def __init__(self, count_from: float, stop_at: float) -> None:
        self.count_from = count_from
        self.stop_at = stop_at
        self.latencies: list[float] = []
        self.errors = 0

    def add(self, sent: float, done: float, status: int) -> None:
        if sent < self.count_from or done > self.stop_at:
            return
        if status == 200:
            self.latencies.append(done - sent)
        else:
            self.errors += 1


class _Client(asyncio.Protocol):
    def __init__(self, request: bytes, tally: _Tally, finished: asyncio.Future[None]):
        self.request = request
        self.tally = tally
        self.finished = finished
        self.buffer = bytearray()
        self.sent = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def send(self) -> None:
        assert self.transport is not None
        self.sent = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        try:
            parsed = split_response(self.buffer)
        except ValueError as exc:
            self._fail(exc)
            return
        if parsed is None:
            return
        status, length = parsed
        del self.buffer[:length]
        done = time.perf_counter()
        self.tally.add(self.sent, done, status)
        if done < self.tally.stop_at:
            self.send()
        elif not self.finished.done():
            self.finished.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionError("the server closed the connection"))

    def _fail(self, exc: Exception) -> None:
        if not self.finished.done():
            self.finished.set_exception(exc)


async def _measure_rate(job: Job) -> Result:
    loop = asyncio.get_running_loop()
    request = job.request()
    clients: list[_Client] = []
    finished: list[asyncio.Future[None]] = []
    # The window is set once every connection is open; until then nothing is sent.
    tally = _Tally(math.inf, math.inf)
    try:
        for _ in range(job.clients):
            future: asyncio.Future[None] = loop.create_future()
            _, client = await loop.create_connection(
                functools.partial(_Client, request, tally, future), HOST, job.port
            )
            clients.append(client)
            finished.append(future)
        cpu_start = time.process_time()
        start = time.perf_counter()
        tally.count_from = start + job.warmup_seconds
        tally.stop_at = tally.count_from + job.seconds
        for client in clients:
            client.send()
        async with asyncio.timeout(job.warmup_seconds + job.seconds + 10.0):
            await asyncio.gather(*finished)
        cpu_seconds = time.process_time() - cpu_start
    finally:
        for client in clients:
            if client.transport is not None:
                client.transport.close()
    return summarise(tally.latencies, tally.errors, job.seconds, cpu_seconds)


def run(job: Job) -> Result:
    if job.mode == "latency":
        return measure_latency(job)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_measure_rate(job))


def main() -> None:
    job = Job(**json.load(sys.stdin))
    if job.port <= 0 or not job.path.startswith("/"):
        raise SystemExit("load: a job needs a port and an absolute path")
    json.dump(asdict(run(job)), sys.stdout)


if __name__ == "__main__":
    main()
