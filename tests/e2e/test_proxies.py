"""Exactly once through what sits between the agent and the collector, on both gRPC clients:
Debian's nginx (`grpc_pass` over h2c) sending GOAWAY every third request
(`keepalive_requests 3`) and answering 502 while its upstream is down, with batches over the
64 KiB HTTP/2 window; and a grpcio server that ends its connections by age
(`max_connection_age_ms`). The agent's own exporter (queue, sender thread, client) pushes
numbered cycles; the receiver counts every point."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cycles import drained, exactly_once, exporter, push
from tests.harness import wait_until
from tests.nginx import Nginx
from tests.otlp_receiver import Receiver

CLIENTS = ["h2", "grpcio"]


@pytest.fixture
def nginx3(receiver: Receiver, tmp_path: Path) -> Iterator[Nginx]:
    with Nginx(receiver.port, tmp_path / "nginx", keepalive_requests=3) as proxy:
        yield proxy


@pytest.mark.parametrize("client", CLIENTS)
def test_nginx_goaway_every_third_request(nginx3: Nginx, receiver: Receiver,
                                          client: str) -> None:
    """nginx sends GOAWAY with the third request's stream as the last one and then answers
    it: the call is complete, not failed, and is not sent again."""
    with exporter(nginx3.endpoint, grpc_client=client) as exp:
        push(exp, range(12), metrics=2, points=20)
        assert drained(exp), exp.status
        status = exp.status
    assert exactly_once(receiver.points(), range(12), 2, 20) == []
    assert (status.failures, status.rejected) == (0, 0), status.last_error
    assert status.exports == 12


@pytest.mark.parametrize("client", CLIENTS)
def test_nginx_upstream_down_and_back_with_large_batches(nginx3: Nginx, receiver: Receiver,
                                                         client: str) -> None:
    """Upstream killed: nginx answers 502 at once and resets the stream (NO_ERROR) while the
    client still sends its 200 KB batch. Those are failures the queue retries, not rejections;
    once the upstream is back, every cycle arrives once."""
    shape = {"metrics": 4, "points": 500, "pad": 80}  # ~200 KB a batch
    with exporter(nginx3.endpoint, grpc_client=client) as exp:
        push(exp, range(3), **shape)
        assert drained(exp), exp.status
        receiver.stop()
        push(exp, range(3, 6), **shape)
        assert wait_until(lambda: exp.status.failures >= 2, 20), exp.status
        assert exp.status.rejected == 0 and "502" in (exp.status.last_error or ""), exp.status
        receiver.start()
        push(exp, range(6, 8), **shape)
        assert drained(exp), exp.status
        status = exp.status
    assert exactly_once(receiver.points(), range(8), 4, 500) == []
    assert status.rejected == 0 and status.rejected_points == 0


@pytest.mark.parametrize("client", CLIENTS)
def test_connections_ended_by_age(client: str) -> None:
    """A grpc server with max_connection_age_ms sends GOAWAY (2^31-1, PING, then the real
    last stream) every few hundred milliseconds while calls are in flight."""
    options = (("grpc.max_connection_age_ms", 150), ("grpc.max_connection_age_grace_ms", 10_000))
    with Receiver(options=options) as aged, exporter(f"http://{aged.endpoint}",
                                                      grpc_client=client) as exp:
        for start in range(0, 60, 6):  # a steady stream of calls across several ages
            push(exp, range(start, start + 6), metrics=3, points=400, pad=20)
            assert drained(exp), exp.status
        status = exp.status
        points = aged.points()
    assert exactly_once(points, range(60), 3, 400) == []
    assert (status.failures, status.rejected) == (0, 0), status.last_error


@pytest.mark.parametrize("client", CLIENTS)
def test_nginx_413_splits_batches_over_its_body_limit(receiver: Receiver, tmp_path: Path,
                                                      client: str) -> None:
    """nginx's client_max_body_size answers 413 (UNKNOWN to a gRPC client): the batch is split
    and arrives whole, in parts."""
    shape = {"metrics": 4, "points": 300, "pad": 40}  # ~80 KB a batch
    with Nginx(receiver.port, tmp_path / "nginx", max_body="24k") as proxy, exporter(
            proxy.endpoint, grpc_client=client) as exp:
        push(exp, range(2), **shape)
        assert drained(exp), exp.status
        status = exp.status
    assert exactly_once(receiver.points(), range(2), 4, 300) == []
    assert status.failures > 0 and status.rejected == 0
