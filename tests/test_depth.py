"""Queue depths read live from a connection of their own (transport/depth.py).

Against a real broker: the session's node for reads, the test's own private
node (``fault_node``) where a test stops it. Every queue is named per test and
deleted at the end.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pika
import pytest
from conftest import node_url
from helpers import closed_port, wait_for

from fanout_tui.transport import depth as depth_module
from fanout_tui.transport.broker import BrokerSettings
from fanout_tui.transport.depth import CONNECTION_NAME, Depth, QueueDepths, Unreadable

pytestmark = pytest.mark.timeout(60)

SEEN = 3.0  # a round each second: a change shows within two, with a margin


def unique(prefix: str = "depth") -> str:
    return f"fanout-tui-test-{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def depths(broker_url: str) -> Iterator[QueueDepths]:
    worker = QueueDepths(BrokerSettings(urls=(broker_url,)))
    worker.start()
    yield worker
    assert worker.stop(timeout=2.0), "the depth thread did not end"


@pytest.fixture
def channel(pika_connection: pika.BlockingConnection) -> Any:
    return pika_connection.channel()


@pytest.fixture
def queue(channel: Any) -> Iterator[str]:
    name = unique()
    channel.queue_declare(name, durable=True)
    yield name
    channel.queue_delete(name)


def fill(channel: Any, queue: str, count: int) -> None:
    for i in range(count):
        channel.basic_publish("", queue, f"m{i}".encode())


def depth_is(depths: QueueDepths, queue: str, messages: int, consumers: int = 0) -> bool:
    got = depths.get(queue)
    return isinstance(got, Depth) and (got.messages, got.consumers) == (messages, consumers)


def test_a_filled_queue_shows_its_messages_then_its_consumers(
    depths: QueueDepths, channel: Any, queue: str, pika_connection: pika.BlockingConnection
) -> None:
    assert depths.get(queue) is None  # never read: unknown
    depths.watch(queue)
    wait_for(lambda: depth_is(depths, queue, 0), timeout=SEEN)
    fill(channel, queue, 250)
    wait_for(lambda: depth_is(depths, queue, 250), timeout=SEEN)
    reading = depths.get(queue)
    assert isinstance(reading, Depth) and time.time() - reading.at < SEEN
    # A consumer that takes nothing (prefetch 1, no acks): one message in flight.
    consumer = pika_connection.channel()
    consumer.basic_qos(prefetch_count=1)
    consumer.basic_consume(queue, lambda *_: None, auto_ack=False)
    wait_for(lambda: depth_is(depths, queue, 249, consumers=1), timeout=SEEN)
    consumer.close()  # the unacked one goes back
    wait_for(lambda: depth_is(depths, queue, 250, consumers=0), timeout=SEEN)
    assert depths.connected and depths.error == ""


def test_a_deleted_queue_becomes_missing_and_the_others_are_still_read(
    depths: QueueDepths, channel: Any, queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(depth_module, "LANES", 1)  # both queues on one channel
    doomed = unique("doomed")
    channel.queue_declare(doomed, durable=True)
    # The doomed queue first, so its 404 comes before the other's read in a round.
    depths.watch(doomed)
    depths.watch(queue)
    wait_for(lambda: depth_is(depths, doomed, 0) and depth_is(depths, queue, 0), timeout=SEEN)
    channel.queue_delete(doomed)
    wait_for(lambda: isinstance(depths.get(doomed), Unreadable), timeout=SEEN)
    gone = depths.get(doomed)
    assert isinstance(gone, Unreadable) and gone.missing and not gone.locked
    fill(channel, queue, 7)  # after the 404 closed the channel, a new one reads on
    wait_for(lambda: depth_is(depths, queue, 7), timeout=SEEN)
    # Declared again, it is read again.
    channel.queue_declare(doomed, durable=True)
    try:
        wait_for(lambda: depth_is(depths, doomed, 0), timeout=SEEN)
    finally:
        channel.queue_delete(doomed)


def test_64_queues_are_read_every_second(depths: QueueDepths, channel: Any) -> None:
    names = [unique(f"many{i}") for i in range(64)]
    try:
        for i, name in enumerate(names):
            channel.queue_declare(name, durable=True)
            fill(channel, name, i)  # each its own count, so no reading is another's
            depths.watch(name)
        wait_for(
            lambda: all(depth_is(depths, n, i) for i, n in enumerate(names)),
            timeout=SEEN,
            what="64 depths",
        )
        fill(channel, names[-1], 5)
        wait_for(lambda: depth_is(depths, names[-1], 68), timeout=SEEN)
        rounds = depths.rounds
        wait_for(lambda: depths.rounds >= rounds + 2, timeout=SEEN, what="rounds each second")
        assert 0 < depths.round_seconds < 1.0  # a round ends well within its second
    finally:
        for name in names:
            channel.queue_delete(name)


def test_an_unwatched_queue_is_forgotten_and_never_read_back(
    depths: QueueDepths, channel: Any, queue: str
) -> None:
    depths.watch(queue)
    wait_for(lambda: depth_is(depths, queue, 0), timeout=SEEN)
    depths.unwatch(queue)
    assert depths.get(queue) is None
    assert queue not in depths.watched
    rounds = depths.rounds
    other = unique("other")
    channel.queue_declare(other, durable=True)
    try:
        depths.watch(other)  # rounds go on, for another queue only
        wait_for(lambda: depths.rounds >= rounds + 2, timeout=SEEN)
        assert depths.get(queue) is None
    finally:
        channel.queue_delete(other)


def test_another_connections_exclusive_queue_is_locked_not_retried_each_round(
    depths: QueueDepths, channel: Any, queue: str
) -> None:
    exclusive = channel.queue_declare("", exclusive=True).method.queue
    depths.watch(exclusive)  # what the dashboard must not do (see depth.py)
    depths.watch(queue)
    wait_for(lambda: isinstance(depths.get(exclusive), Unreadable), timeout=SEEN)
    locked = depths.get(exclusive)
    assert isinstance(locked, Unreadable) and locked.locked  # RabbitMQ's 405 RESOURCE_LOCKED
    wait_for(lambda: depth_is(depths, queue, 0), timeout=SEEN)
    rounds = depths.rounds
    wait_for(lambda: depths.rounds >= rounds + 2, timeout=SEEN)
    assert depths.get(exclusive) == locked  # not read again within LOCKED_RECHECK


def test_a_name_no_queue_can_have_is_refused_at_once(depths: QueueDepths) -> None:
    with pytest.raises(ValueError, match="needs a name"):
        depths.watch("")
    with pytest.raises(ValueError, match="at most 255 bytes"):
        depths.watch("q" * 256)
    assert depths.watched == ()


def test_the_connection_is_named_for_the_management_ui(broker_url: str) -> None:
    params = BrokerSettings(urls=(broker_url,)).parameters(broker_url, CONNECTION_NAME)
    assert params.client_properties == {"connection_name": "fanout-tui depths"}


def test_stop_joins_quickly_connected_unreachable_or_never_started(
    depths: QueueDepths, queue: str
) -> None:
    depths.watch(queue)
    wait_for(lambda: depth_is(depths, queue, 0), timeout=SEEN)
    started = time.monotonic()
    assert depths.stop(timeout=1.5)
    assert time.monotonic() - started < 1.0
    assert depths.get(queue) is None and not depths.connected

    nowhere = QueueDepths(BrokerSettings(urls=(f"amqp://guest:guest@127.0.0.1:{closed_port()}/",)))
    nowhere.start()
    nowhere.watch("q")
    wait_for(lambda: nowhere.error != "", timeout=10)
    assert "retrying in" in nowhere.error
    assert nowhere.get("q") is None
    started = time.monotonic()
    assert nowhere.stop(timeout=1.5)
    assert time.monotonic() - started < 1.0

    never = QueueDepths(BrokerSettings(urls=(f"amqp://guest:guest@127.0.0.1:{closed_port()}/",)))
    never.request_stop()
    never.start()
    never.join(1.0)
    assert not never.is_alive()


@pytest.mark.timeout(180)
def test_a_lost_connection_makes_every_depth_unknown_until_it_reconnects(
    fault_node: Any,
) -> None:
    url = node_url(fault_node)
    name = unique("outage")
    setup = pika.BlockingConnection(pika.URLParameters(url))
    channel = setup.channel()
    channel.queue_declare(name, durable=True)
    for i in range(12):  # persistent, so the restart keeps them
        channel.basic_publish("", name, f"m{i}".encode(), pika.BasicProperties(delivery_mode=2))
    setup.close()
    depths = QueueDepths(BrokerSettings(urls=(url,)))
    depths.start()
    try:
        depths.watch(name)
        wait_for(lambda: depth_is(depths, name, 12), timeout=SEEN)
        fault_node.stop()
        # Unknown, not the last value passed off as live.
        wait_for(lambda: depths.get(name) is None and not depths.connected, timeout=30)
        wait_for(lambda: "retrying in" in depths.error, timeout=30)
        assert depths.is_alive()
        fault_node.start()
        wait_for(lambda: depth_is(depths, name, 12), timeout=60, what="the depth read again")
        assert depths.connected and depths.error == ""
    finally:
        assert depths.stop(timeout=2.0)
        if not fault_node.running():
            fault_node.start()
        cleanup = pika.BlockingConnection(pika.URLParameters(url))
        cleanup.channel().queue_delete(name)
        cleanup.close()
