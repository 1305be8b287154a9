"""The publisher over a path that dies and a connection the broker blocks.

A dead path is the fault proxy blackholing both ways while every socket stays
open (``faultproxy.py``, the ``fault_link`` fixture), in front of the session's
own node; alarms are raised on a
private node (``fault_node``) and always lowered again.
"""

from __future__ import annotations

import time
from typing import Any

import pika
import pytest
from conftest import node_url
from faultproxy import FaultProxy
from helpers import bind_tutorial_queue, consume, wait_for
from pika.adapters.select_connection import IOLoop
from test_alarms import memory_alarm
from test_amqp import results_of, running

from fanout_tui.model.outcomes import Outcome
from fanout_tui.model.states import WorkerState
from fanout_tui.transport.broker import BrokerSettings
from fanout_tui.transport.burst import BurstWorker
from fanout_tui.transport.publisher import PublisherWorker

pytestmark = pytest.mark.timeout(120)

HEARTBEAT = 1  # seconds: a dead path must be noticed within 2 x this + 1 s


def relayed(link: FaultProxy, broker_url: str, exchange: str) -> BrokerSettings:
    return BrokerSettings(urls=(link.url(broker_url),), exchange=exchange, heartbeat=HEARTBEAT)


def test_the_broker_goes_on_sending_heartbeats_to_a_blocked_connection(
    fault_node: Any, exchange: str
) -> None:
    """What the publisher's watchdog rests on: a blocked connection is not read
    by the broker, but is still written to, so bytes keep arriving and silence
    means a dead path even while blocked (no exemption is needed)."""
    params = pika.URLParameters(node_url(fault_node))
    params.heartbeat = HEARTBEAT
    loop = IOLoop()
    seen: dict[str, Any] = {}

    def opened(connection: Any) -> None:
        connection.add_on_connection_blocked_callback(blocked)
        connection.channel(on_open_callback=publish)

    def publish(channel: Any) -> None:
        # The broker blocks a connection when it publishes during an alarm.
        channel.basic_publish("amq.fanout", "", b"blocks me")

    def blocked(connection: Any, _frame: Any) -> None:
        seen["blocked_at"] = connection.bytes_received
        loop.call_later(4 * HEARTBEAT, lambda: measured(connection))

    def measured(connection: Any) -> None:
        seen["later"] = connection.bytes_received
        loop.stop()

    with memory_alarm(fault_node):
        connection = pika.SelectConnection(params, on_open_callback=opened, custom_ioloop=loop)
        loop.call_later(30, loop.stop)  # a bound, whatever happens
        loop.start()
        assert "later" in seen, "the broker never blocked the connection"
        # Heartbeat frames are 8 bytes; several intervals went by.
        assert seen["later"] - seen["blocked_at"] >= 16
    connection.close()
    loop.call_later(5, loop.stop)
    loop.start()
    loop.close()


def test_a_blocked_publisher_outlives_many_heartbeat_intervals_and_then_delivers(
    fault_node: Any, exchange: str
) -> None:
    url = node_url(fault_node)
    broker = BrokerSettings(urls=(url,), exchange=exchange, heartbeat=HEARTBEAT)
    listener = pika.BlockingConnection(pika.URLParameters(url))
    try:
        with running(PublisherWorker(broker)) as worker:
            wait_for(lambda: worker.state.state is WorkerState.READY, 30)
            channel, queue = bind_tutorial_queue(listener, exchange)
            with memory_alarm(fault_node):
                worker.publish(b"held across the block")
                [held] = results_of(worker, 1)
                assert held.status is Outcome.HELD
                time.sleep(4 * HEARTBEAT)  # well past what would count as a dead path
                assert worker.state.state is WorkerState.READY
                assert worker.drain_results() == []
            [routed] = results_of(worker, 1, timeout=30)
            assert (routed.seq, routed.status) == (held.seq, Outcome.ROUTED)
            [(_, _, body)] = consume(listener, channel, queue)
            assert body == b"held across the block"
    finally:
        listener.close()


def test_a_dead_path_is_noticed_in_two_heartbeats_and_what_was_written_is_unknown(
    fault_link: FaultProxy, broker_url: str, exchange: str
) -> None:
    with running(PublisherWorker(relayed(fault_link, broker_url, exchange))) as worker:
        wait_for(lambda: worker.state.state is WorkerState.READY, 10)
        fault_link.set(blackhole=True)
        cut_at = time.monotonic()
        seq = worker.publish(b"into a dead path")
        [result] = results_of(worker, 1, timeout=10)
        noticed = time.monotonic() - cut_at
        assert result.seq == seq
        # Written, so it may have reached the broker: never "not sent".
        assert result.status is Outcome.UNKNOWN
        assert "the network path is down" in result.reason
        assert noticed < 2 * HEARTBEAT + 1
        assert worker.state.state is not WorkerState.READY
        # Stopping over the dead path (the reconnect waits on it) is quick.
        started = time.monotonic()
        assert worker.stop() is True
        assert time.monotonic() - started < 2.0


def test_a_stop_over_a_dead_path_is_quick_before_the_watchdog_sees_it(
    fault_link: FaultProxy, broker_url: str, exchange: str
) -> None:
    with running(PublisherWorker(relayed(fault_link, broker_url, exchange))) as worker:
        wait_for(lambda: worker.state.state is WorkerState.READY, 10)
        fault_link.set(blackhole=True)
        worker.publish(b"unanswered")
        started = time.monotonic()
        assert worker.stop() is True
        assert time.monotonic() - started < 2.0
    assert worker.state.state is WorkerState.STOPPED


def test_a_routing_key_too_long_fails_that_message_only(broker_url: str, exchange: str) -> None:
    broker = BrokerSettings(urls=(broker_url,), exchange=exchange)
    listener = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        with running(PublisherWorker(broker)) as worker:
            wait_for(lambda: worker.state.state is WorkerState.READY, 30)
            channel, queue = bind_tutorial_queue(listener, exchange)
            worker.publish(b"bad key", routing_key="k" * 256)
            [refused] = results_of(worker, 1)
            assert refused.status is Outcome.FAILED
            assert "the routing key is 256 bytes" in refused.reason
            worker.publish(b"after it")
            [routed] = results_of(worker, 1)
            assert routed.status is Outcome.ROUTED
            assert worker.state.state is WorkerState.READY
            [(_, _, body)] = consume(listener, channel, queue)
            assert body == b"after it"
    finally:
        listener.close()


def test_a_local_error_while_writing_fails_that_message_only(
    broker_url: str, exchange: str
) -> None:
    """Whatever the checks before writing miss, an error pika raises while it
    encodes one message (here a body with a lone surrogate, which has no UTF-8
    form) fails that message, honestly not sent, and the worker goes on."""
    broker = BrokerSettings(urls=(broker_url,), exchange=exchange)
    listener = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        with running(PublisherWorker(broker)) as worker:
            wait_for(lambda: worker.state.state is WorkerState.READY, 30)
            channel, queue = bind_tutorial_queue(listener, exchange)
            worker.publish("caf\udce9")  # not bytes: pika encodes it, and cannot
            [refused] = results_of(worker, 1)
            assert refused.status is Outcome.FAILED
            assert refused.describe().startswith("#1 not sent: the message could not be encoded")
            assert "UnicodeEncodeError" in refused.reason
            worker.publish(b"after it")
            [routed] = results_of(worker, 1)
            assert routed.status is Outcome.ROUTED and routed.seq == 2
            assert worker.state.state is WorkerState.READY
            [(_, _, body)] = consume(listener, channel, queue)
            assert body == b"after it"
    finally:
        listener.close()


def test_a_burst_stopped_by_a_local_error_says_so_never_connection_lost(
    broker_url: str, exchange: str
) -> None:
    """An error raised while the burst encodes its copies (here a text with a
    lone surrogate, which the form refuses but the worker does not check) is
    the app's, not the broker's: the burst stops and says what it was, where it
    used to say `connection lost` (pika takes an error raised in a callback as
    the connection's)."""
    broker = BrokerSettings(urls=(broker_url,), exchange=exchange)
    listener = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        channel, queue = bind_tutorial_queue(listener, exchange)
        burst = BurstWorker(broker, origin="o", first_seq=1, count=1_000, text="caf\udce9")
        with running(burst):
            wait_for(lambda: burst.done, 20)
        assert burst.error is not None
        assert "connection lost" not in burst.error
        assert burst.error.startswith("a local error, not the broker's: UnicodeEncodeError")
        assert burst.sent == 0
        assert channel.queue_declare(queue, passive=True).method.message_count == 0
        # The broker and the exchange are fine: the next burst goes out whole.
        fine = BurstWorker(broker, origin="o", first_seq=2_000, count=600, text="fine")
        with running(fine):
            wait_for(lambda: fine.done, 20)
        assert (fine.error, fine.sent, fine.unroutable) == (None, 600, 0)
    finally:
        listener.close()
