"""The fault-injection path itself, against the session's real node: it passes
AMQP untouched, adds the delay it is told, holds bytes in a blackhole without
closing anything and lets them through when the path returns, and throttles.

The broker answers the AMQP protocol header with ``connection.start``, so a
raw socket shows exactly when bytes cross the path.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pika
import pytest
from faultproxy import DOWN, UP, FaultProxy
from helpers import bind_tutorial_queue

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"


@pytest.fixture
def proxy(broker_url: str) -> Iterator[FaultProxy]:
    parts = urlsplit(broker_url)
    with FaultProxy(parts.hostname or "127.0.0.1", parts.port or 5672) as path:
        yield path
    assert not any(t.name == "fault proxy" for t in threading.enumerate())


def _hello(proxy: FaultProxy) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    sock.sendall(PROTOCOL_HEADER)
    return sock


@pytest.mark.timeout(30)
def test_amqp_passes_through_untouched(proxy: FaultProxy, broker_url: str, exchange: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(proxy.url(broker_url)))
    try:
        channel, queue = bind_tutorial_queue(connection, exchange)
        channel.basic_publish(exchange=exchange, routing_key="", body=b"through the proxy")
        got = None
        deadline = time.monotonic() + 5
        while got is None and time.monotonic() < deadline:
            _method, _props, got = channel.basic_get(queue, auto_ack=True)
        assert got == b"through the proxy"
    finally:
        connection.close()
    assert proxy.accepted == 1 and proxy.passed[UP] > 0 and proxy.passed[DOWN] > 0


@pytest.mark.timeout(30)
def test_delay_is_added_each_way(proxy: FaultProxy) -> None:
    proxy.set(delay=0.2)
    started = time.monotonic()
    with _hello(proxy) as sock:
        assert sock.recv(1) == b"\x01"  # the first byte of connection.start, a method frame
        took = time.monotonic() - started
    assert 0.4 <= took < 3.0, took


@pytest.mark.timeout(30)
def test_a_blackhole_holds_bytes_with_the_socket_open_and_lets_them_through(
    proxy: FaultProxy,
) -> None:
    with _hello(proxy) as sock:
        assert sock.recv(1)  # the path works: the broker answered
    proxy.set(blackhole=True)
    with _hello(proxy) as sock:
        sock.settimeout(1.5)
        with pytest.raises(TimeoutError):
            sock.recv(1)  # nothing arrives, and nothing is closed either
        sock.sendall(b"")  # still open for writing
        proxy.clear()
        sock.settimeout(5)
        assert sock.recv(1)  # the held bytes went through when the path returned


@pytest.mark.timeout(60)
def test_throttle_caps_the_rate(proxy: FaultProxy, broker_url: str, exchange: str) -> None:
    size = 100_000
    direct = pika.BlockingConnection(pika.URLParameters(broker_url))
    slow = pika.BlockingConnection(pika.URLParameters(proxy.url(broker_url)))
    try:
        channel, queue = bind_tutorial_queue(slow, exchange)
        direct.channel().basic_publish(exchange=exchange, routing_key="", body=b"x" * size)
        proxy.set((DOWN,), rate=50_000)
        started = time.monotonic()
        got = None
        while got is None and time.monotonic() - started < 20:
            _method, _props, got = channel.basic_get(queue, auto_ack=True)
        took = time.monotonic() - started
        assert got == b"x" * size
        assert 1.5 <= took < 10, took  # 100 kB at 50 kB/s: about 2 s
    finally:
        proxy.clear()
        slow.close()
        direct.close()
