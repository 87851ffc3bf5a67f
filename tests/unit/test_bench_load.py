"""The benchmark's load generator reads responses and ranks latencies correctly."""

from __future__ import annotations

import pytest

from tests.bench.load import Job, percentile, split_response

RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 5\r\n\r\n"
)


def test_a_complete_response_is_split_at_its_body_length():
    buffer = bytearray(RESPONSE + b"hello" + b"HTTP/1.1 404")

    assert split_response(buffer) == (200, len(RESPONSE) + 5)


@pytest.mark.parametrize("cut", [10, len(RESPONSE) - 2, len(RESPONSE) + 4])
def test_an_incomplete_response_waits_for_more_bytes(cut):
    assert split_response(bytearray((RESPONSE + b"hello")[:cut])) is None


def test_a_chunked_response_is_refused():
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

    with pytest.raises(ValueError, match="chunked"):
        split_response(bytearray(head))


def test_percentiles_are_nearest_rank():
    ordered = [float(n) for n in range(1, 101)]

    assert percentile(ordered, 0.50) == 50.0
    assert percentile(ordered, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0


def test_a_job_sends_its_headers():
    job = Job(mode="latency", port=8080, path="/v1/nodes", headers={"A": "b"})

    assert job.request() == (
        b"GET /v1/nodes HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nA: b\r\n\r\n"
    )
