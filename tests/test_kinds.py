"""Subscriber kinds against a real RabbitMQ: what a durable, shared, stream,
slow and bounded receiver keeps, splits, replays or drops.

Workers are driven directly (ReceiverWorker + Mailbox), as test_amqp.py does;
a test that closes connections does so on a private node of its own
(``fault_node``). Every queue a test creates is gone when it ends.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pika
import pytest
from conftest import node_url
from helpers import queue_exists, stays, wait_for
from test_amqp import Watch, publish_numbered, running

from fanout_tui.model.mailbox import Mailbox
from fanout_tui.model.outcomes import Outcome
from fanout_tui.model.receiver_spec import ReceiverSpec, parse_spec
from fanout_tui.model.states import StateChange, WorkerState
from fanout_tui.transport.broker import BrokerSettings
from fanout_tui.transport.publisher_sync import Publisher
from fanout_tui.transport.queues import QueueConflict, declare_arguments, queue_arguments
from fanout_tui.transport.receiver import ReceiverWorker
from fanout_tui.transport.redelivery import ShownWindow
from fanout_tui.transport.stamps import MessageProperties

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def broker(broker_url: str, exchange: str) -> BrokerSettings:
    return BrokerSettings(urls=(broker_url,), exchange=exchange)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def worker_for(
    broker: BrokerSettings, text: str, mailbox: Mailbox, **kwargs: Any
) -> ReceiverWorker:
    spec = parse_spec(text)
    return ReceiverWorker(
        broker, mailbox, spec=spec, queue=spec.queue_name(broker.exchange, 1), **kwargs
    )


def first_event(
    watch: Watch, condition: Callable[[StateChange], bool], timeout: float = 10
) -> StateChange:
    def seen() -> bool:
        watch.poll()
        return any(condition(e) for e in watch.events)

    wait_for(seen, timeout)
    return next(e for e in watch.events if condition(e))


def numbers(watch: Watch) -> list[int]:
    watch.poll()
    return [int(d.body) for d in watch.deliveries]


@contextmanager
def connection_to(url: str) -> Iterator[pika.BlockingConnection]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        yield connection
    finally:
        if connection.is_open:
            connection.close()


def gone(url: str, queue: str) -> bool:
    with connection_to(url) as connection:
        return not queue_exists(connection, queue)


# Arguments (no broker) ------------------------------------------------------------


def test_declare_arguments_per_kind() -> None:
    assert declare_arguments(ReceiverSpec(), "") == {
        "queue": "",
        "exclusive": True,
        "arguments": {"x-max-length": 100_000, "x-overflow": "drop-head"},
    }
    assert queue_arguments(ReceiverSpec(), queue_cap=0) == {}
    assert queue_arguments(parse_spec("exclusive:max-length=5,overflow=reject-publish")) == {
        "x-max-length": 5,
        "x-overflow": "reject-publish",
    }
    assert declare_arguments(parse_spec("durable:type=quorum,ttl=5s,max-bytes=9"), "q") == {
        "queue": "q",
        "durable": True,
        "arguments": {
            "x-queue-type": "quorum",
            "x-max-length-bytes": 9,
            "x-message-ttl": 5000,
        },
    }
    assert queue_arguments(parse_spec("stream:max-bytes=1000")) == {
        "x-queue-type": "stream",
        "x-max-length-bytes": 1000,
    }


def test_a_named_queue_without_a_name_given_is_the_panes_own() -> None:
    broker = BrokerSettings(exchange="logs")
    durable = ReceiverWorker(broker, Mailbox(), name="R3", spec=parse_spec("durable"))
    assert durable.queue_name == parse_spec("durable").queue_name("logs", 3) == "fanout-tui.logs.R3"
    named = ReceiverWorker(broker, Mailbox(), name="R4", spec=parse_spec("shared:name=jobs"))
    assert named.queue_name == "jobs"
    assert ReceiverWorker(broker, Mailbox()).queue_name == ""


def test_a_conflict_is_one_line_naming_the_queue_and_what_the_broker_said() -> None:
    exc = pika.exceptions.ChannelClosedByBroker(
        406,
        "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'jobs' in vhost '/': "
        "received the value '10' of type 'signedint' but current is none",
    )
    from fanout_tui.transport.queues import conflict_from

    conflict = conflict_from(exc, "jobs")
    assert isinstance(conflict, QueueConflict)
    assert str(conflict) == (
        "queue 'jobs' exists with other settings (x-max-length is none there; this pane asks "
        "for 10); delete the queue, use another name=, or ask for the settings it has"
    )


def test_a_redelivery_is_skipped_once_per_showing() -> None:
    window = ShownWindow(3)
    props = pika.BasicProperties(message_id="m1")
    for body in (b"a", b"a", b"b", b"c"):  # the first "a" falls out of the window
        window.shown(props, body)
    assert window.seen_before(props, b"a")
    assert not window.seen_before(props, b"a")  # one showing excuses one redelivery
    assert not window.seen_before(pika.BasicProperties(message_id="m2"), b"b")
    assert window.seen_before(props, b"b") and window.seen_before(props, b"c")
    assert not window.seen_before(props, b"c")


# Durable ----------------------------------------------------------------------


def test_durable_loses_nothing_across_close_all_connections(fault_node: Any, exchange: str) -> None:
    url = node_url(fault_node)
    broker = BrokerSettings(urls=(url,), exchange=exchange)
    mailbox = Mailbox(max_deliveries=100_000)  # the test reads them all
    watch = Watch(mailbox)
    total, cut = 40_200, 40_000
    # A window of 200 drains 40,000 in about 3 s: long enough for the close
    # to land mid-drain, with an ack every 50 deliveries.
    with running(worker_for(broker, "durable:prefetch=200", mailbox)) as worker:
        first = watch.event(WorkerState.CONSUMING)
        assert worker.created and not first.queue_kept
        queue = worker.queue
        assert queue == f"fanout-tui.{exchange}.R1"
        worker.set_paused(True)
        watch.event(WorkerState.PAUSED)
        publish_numbered(url, exchange, cut)  # its clean close proves all were routed
        watch.event(WorkerState.PAUSED, waiting=cut)
        # Closed mid-drain (rabbitmqctl takes most of a second to start):
        # thousands shown or in flight, and the acks of the last ones shown
        # lost with the connection, so the broker delivers those again.
        closer = threading.Thread(
            target=fault_node.rabbitctl_output, args=("close_all_connections", "trial")
        )
        closer.start()
        worker.set_paused(False)
        closer.join(20)
        assert mailbox.received < cut, "the drain ended before the connection was closed"
        with connection_to(url) as again:  # published while the receiver is away
            channel = again.channel()
            channel.confirm_delivery()
            for i in range(cut, total):
                channel.basic_publish(exchange, "", str(i).encode())
        assert watch.event(WorkerState.RECONNECTING).received < cut
        kept = first_event(watch, lambda e: e.queue_kept, 20)
        assert kept.state is WorkerState.CONSUMING and kept.queue == queue
        wait_for(
            lambda: mailbox.received >= total,
            30,
            what=f"all {total} (so far {mailbox.received}, depth {worker.depth})",
        )
    # Stopped and joined: whatever the worker showed is in the mailbox, so a
    # message shown twice is counted, however late its second copy came.
    seen = numbers(watch)
    assert len(seen) == total, f"{len(seen)} shown of {total}"
    assert sorted(seen) == list(range(total)), "a message was missed or shown twice"
    assert gone(url, queue), "the durable queue this worker created was left on the broker"


# Shared ---------------------------------------------------------------------------


def test_three_shared_panes_split_what_an_exclusive_one_gets_whole(
    broker: BrokerSettings, broker_url: str, exchange: str
) -> None:
    name = unique("jobs")
    watches = [Watch(Mailbox(max_deliveries=1000)) for _ in range(4)]
    workers = [worker_for(broker, f"shared:name={name}", w.mailbox) for w in watches[:3]]
    workers.append(worker_for(broker, "exclusive", watches[3].mailbox))
    try:
        for worker, watch in zip(workers, watches, strict=True):
            worker.start()
            watch.event(WorkerState.CONSUMING)
        assert [w.queue for w in workers[:3]] == [name] * 3
        assert [w.created for w in workers[:3]] == [True, False, False]
        publish_numbered(broker_url, exchange, 300)
        wait_for(lambda: len(numbers(watches[3])) == 300, 15)
        wait_for(lambda: sum(len(numbers(w)) for w in watches[:3]) >= 300, 15)
        # The dashboard's rule for a group: only its last pane deletes the queue.
        for worker in workers[:2]:
            worker.delete_on_stop = False
            assert worker.stop()
        assert not gone(broker_url, name)
        workers[2].delete_on_stop = True
        started = time.monotonic()
        assert workers[2].stop(1.5)  # the dashboard's quit gives all workers 1.5 s
        assert time.monotonic() - started < 1.5
    finally:
        for worker in workers:
            worker.request_stop()
        stopped = [worker.stop() for worker in workers]
    assert stopped == [True] * 4
    assert gone(broker_url, name)
    # Every worker stopped and joined: a repeat, however late, is in its mailbox.
    split = [numbers(w) for w in watches[:3]]
    assert sorted(n for part in split for n in part) == list(range(300))
    assert all(split), f"one shared pane got nothing: {[len(p) for p in split]}"
    assert numbers(watches[3]) == list(range(300))


# Stream ---------------------------------------------------------------------------


def test_a_stream_replays_from_first_and_next_shows_only_what_follows(
    broker: BrokerSettings, broker_url: str, exchange: str
) -> None:
    name = unique("stream")
    watches = [Watch(Mailbox(max_deliveries=1000)) for _ in range(3)]
    owner = worker_for(broker, f"stream:name={name}", watches[0].mailbox)
    try:
        owner.start()
        watches[0].event(WorkerState.CONSUMING)
        publish_numbered(broker_url, exchange, 200)
        wait_for(lambda: len(numbers(watches[0])) == 200, 15)
        first = worker_for(broker, f"stream:name={name},offset=first", watches[1].mailbox)
        late = worker_for(broker, f"stream:name={name},offset=next", watches[2].mailbox)
        with running(first), running(late):
            watches[1].event(WorkerState.CONSUMING)
            watches[2].event(WorkerState.CONSUMING)
            assert not first.created and not late.delete_on_stop
            wait_for(lambda: len(numbers(watches[1])) >= 200, 15)
            replayed = watches[1].deliveries
            assert [int(d.body) for d in replayed] == list(range(200))
            assert [d.headers["x-stream-offset"] for d in replayed] == list(range(200))
            assert numbers(watches[2]) == []
            publish_numbered(broker_url, exchange, 1)  # body "0" again, offset 200
            wait_for(lambda: len(numbers(watches[2])) == 1, 10)
            [new] = watches[2].deliveries
            assert new.headers["x-stream-offset"] == 200
            wait_for(lambda: len(numbers(watches[1])) == 201, 10)
    finally:
        assert owner.stop()
    assert gone(broker_url, name)


def test_a_paused_stream_resumes_after_what_it_showed(
    broker: BrokerSettings, broker_url: str, exchange: str
) -> None:
    """A stream refuses basic.reject (the connection would close), so a pause
    detaches; the resume starts after the last offset shown: none twice."""
    name = unique("stream")
    watch = Watch(Mailbox(max_deliveries=10_000))
    with running(worker_for(broker, f"stream:name={name},prefetch=50", watch.mailbox)) as worker:
        watch.event(WorkerState.CONSUMING)
        publisher = threading.Thread(target=publish_numbered, args=(broker_url, exchange, 3000))
        publisher.start()
        try:
            for _ in range(6):
                worker.set_paused(not worker.pause_requested)
                # Each toggle once the worker has acted on the last, mid-burst.
                wait_for(lambda: worker.paused == worker.pause_requested, 10)
        finally:
            publisher.join(30)
        worker.set_paused(False)
        wait_for(lambda: len(numbers(watch)) >= 3000, 20)
        stays(lambda: len(numbers(watch)) == 3000, 0.2, what="no offset shown twice")
        assert numbers(watch) == list(range(3000))
        assert not [e for e in watch.events if e.state is WorkerState.RECONNECTING]
    assert gone(broker_url, name)


# A slow consumer --------------------------------------------------------------------


def test_a_slow_consumer_lets_its_queue_grow_and_drain(
    broker: BrokerSettings, broker_url: str, exchange: str
) -> None:
    mailbox = Mailbox(max_deliveries=1000)
    watch = Watch(mailbox)
    total = 500
    depths: list[int] = []
    with running(worker_for(broker, "exclusive:delay=20ms", mailbox)) as worker:
        watch.event(WorkerState.CONSUMING)
        publish_numbered(broker_url, exchange, total)

        def drained() -> bool:
            if worker.depth is not None:
                depths.append(worker.depth)
            return mailbox.received == total

        wait_for(drained, 30, interval=0.2)
        done_at = time.time()
        wait_for(lambda: worker.depth == 0 and worker.depth_at > done_at, 5)
        assert numbers(watch) == list(range(total))
    assert max(depths) > 200, f"the depth never grew: {depths[:20]}"
    assert depths[-1] < depths[len(depths) // 3]


def test_pausing_a_slow_consumer_puts_back_what_it_had_not_shown(
    broker: BrokerSettings, broker_url: str, exchange: str
) -> None:
    mailbox = Mailbox(max_deliveries=1000)
    watch = Watch(mailbox)
    with running(worker_for(broker, "exclusive:delay=20ms,prefetch=20", mailbox)) as worker:
        watch.event(WorkerState.CONSUMING)
        publish_numbered(broker_url, exchange, 100)
        wait_for(lambda: mailbox.received >= 10, 10)
        worker.set_paused(True)
        paused = watch.event(WorkerState.PAUSED)
        wait_for(lambda: (s := mailbox.state).waiting is not None and s.received + s.waiting == 100)
        assert paused.received < 60
        worker.set_paused(False)
        wait_for(lambda: len(numbers(watch)) >= 100, 15)
        stays(lambda: len(numbers(watch)) == 100, 0.1, what="no message shown twice")
        assert sorted(numbers(watch)) == list(range(100))


# Limits ---------------------------------------------------------------------------


def test_max_length_keeps_the_last_ten(
    broker: BrokerSettings, broker_url: str, exchange: str
) -> None:
    mailbox = Mailbox(max_deliveries=1000)
    watch = Watch(mailbox)
    with running(worker_for(broker, "exclusive:max-length=10", mailbox)) as worker:
        watch.event(WorkerState.CONSUMING)
        worker.set_paused(True)
        watch.event(WorkerState.PAUSED)
        publish_numbered(broker_url, exchange, 50)
        watch.event(WorkerState.PAUSED, waiting=10)
        worker.set_paused(False)
        wait_for(lambda: len(numbers(watch)) >= 10, 10)
        shown_at = time.time()
        wait_for(lambda: worker.depth == 0 and worker.depth_at > shown_at, 5)
        assert numbers(watch) == list(range(40, 50))


def test_reject_publish_nacks_the_eleventh_while_another_queue_gets_it(
    broker: BrokerSettings, exchange: str
) -> None:
    full, other = Watch(Mailbox()), Watch(Mailbox())
    spec = "exclusive:max-length=10,overflow=reject-publish"
    with (
        running(worker_for(broker, spec, full.mailbox)) as bounded,
        running(worker_for(broker, "exclusive", other.mailbox)),
    ):
        full.event(WorkerState.CONSUMING)
        other.event(WorkerState.CONSUMING)
        bounded.set_paused(True)
        full.event(WorkerState.PAUSED)
        publisher = Publisher(broker)
        publisher.connect()
        try:
            results = [
                publisher.publish(i, str(i).encode(), MessageProperties()) for i in range(11)
            ]
        finally:
            publisher.close()
        assert [r.status for r in results] == [Outcome.ROUTED] * 10 + [Outcome.NACKED]
        assert [int(d.body) for d in other.received(11)] == list(range(11))
        full.event(WorkerState.PAUSED, waiting=10)


def test_the_apps_cap_keeps_the_newest(
    broker: BrokerSettings, broker_url: str, exchange: str
) -> None:
    mailbox = Mailbox(max_deliveries=1000)
    watch = Watch(mailbox)
    with running(worker_for(broker, "exclusive", mailbox, queue_cap=100)) as worker:
        watch.event(WorkerState.CONSUMING)
        worker.set_paused(True)
        watch.event(WorkerState.PAUSED)
        publish_numbered(broker_url, exchange, 300)
        watch.event(WorkerState.PAUSED, waiting=100)
        worker.set_paused(False)
        wait_for(lambda: len(numbers(watch)) >= 100, 10)
        shown_at = time.time()
        wait_for(lambda: worker.depth == 0 and worker.depth_at > shown_at, 5)
        assert numbers(watch) == list(range(200, 300))


# What is left on the broker -----------------------------------------------------------


def test_keep_leaves_the_queue_and_the_next_start_reattaches(
    broker: BrokerSettings, broker_url: str, exchange: str
) -> None:
    name = unique("kept")
    text = f"durable:name={name},keep=yes"
    try:
        first = Watch(Mailbox())
        with running(worker_for(broker, text, first.mailbox)) as worker:
            first.event(WorkerState.CONSUMING)
            assert worker.created and not worker.delete_on_stop
        assert not gone(broker_url, name)
        publish_numbered(broker_url, exchange, 5)  # while no pane is open
        second = Watch(Mailbox())
        with running(worker_for(broker, text, second.mailbox)) as worker:
            consuming = second.event(WorkerState.CONSUMING)
            assert not worker.created and consuming.queue == name
            assert [int(d.body) for d in second.received(5)] == list(range(5))
        assert not gone(broker_url, name)
    finally:
        with connection_to(broker_url) as connection:
            connection.channel().queue_delete(name)
    assert gone(broker_url, name)


def test_a_queue_with_other_settings_is_named_with_both_values_and_not_retried(
    broker: BrokerSettings, broker_url: str
) -> None:
    name = unique("other")
    with connection_to(broker_url) as connection:
        connection.channel().queue_declare(name, durable=True, arguments={"x-max-length": 5})
    watch = Watch(Mailbox())
    try:
        with running(worker_for(broker, f"durable:name={name}", watch.mailbox)) as worker:
            failed = watch.event(WorkerState.FAILED, detail="exists with other settings")
            assert failed.detail == (
                f"queue {name!r} exists with other settings (x-max-length is 5 there; this "
                "pane asks for none); delete the queue, use another name=, or ask for the "
                "settings it has"
            )
            # An error that cannot clear by itself is not retried.
            worker.join(5)
            assert not worker.is_alive()
            watch.poll()
            assert not any(e.state is WorkerState.RECONNECTING for e in watch.events)
    finally:
        with connection_to(broker_url) as connection:
            connection.channel().queue_delete(name)


def test_quorum_declares_a_quorum_queue(broker: BrokerSettings, broker_url: str) -> None:
    name = unique("quorum")
    watch = Watch(Mailbox())
    with running(worker_for(broker, f"durable:name={name},type=quorum", watch.mailbox)):
        watch.event(WorkerState.CONSUMING, timeout=15)
        with (
            connection_to(broker_url) as connection,
            pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused,
        ):
            connection.channel().queue_declare(
                name, durable=True, arguments={"x-queue-type": "classic"}
            )
        assert refused.value.reply_code == 406
        assert "current is 'quorum'" in refused.value.reply_text
    assert gone(broker_url, name)


# Consumer behaviour ----------------------------------------------------------------------


def test_an_auto_ack_pause_counts_what_pika_dropped(
    broker: BrokerSettings, broker_url: str, exchange: str
) -> None:
    """pika drops, without a callback, what an auto-ack consumer is sent after
    its cancel (the broker had already forgotten those). The delivery tags give
    their number: every message is shown or counted lost, none vanishes."""
    mailbox = Mailbox(max_deliveries=100)
    watch = Watch(mailbox)
    total = 20_000
    with running(worker_for(broker, "exclusive:ack=auto", mailbox)) as worker:
        watch.event(WorkerState.CONSUMING)
        worker.set_paused(True)
        watch.event(WorkerState.PAUSED)
        publish_numbered(broker_url, exchange, total)
        watch.event(WorkerState.PAUSED, waiting=total)
        worker.set_paused(False)
        wait_for(lambda: mailbox.received > 0, 10)
        worker.set_paused(True)
        wait_for(lambda: worker.paused, 10)
        worker.set_paused(False)
        publish_numbered(broker_url, exchange, 1)  # its tag reveals any gap
        wait_for(lambda: mailbox.received + worker.lost_in_flight == total + 1, 15)
        watch.poll()
        if worker.lost_in_flight:
            assert any("auto-acked deliveries" in e.detail for e in watch.events)


def test_a_binding_edit_moves_what_arrives_on_the_same_queue(
    broker_url: str, exchange: str
) -> None:
    broker = BrokerSettings(urls=(broker_url,), exchange=exchange, exchange_type="topic")
    watch = Watch(Mailbox())
    with running(worker_for(broker, "exclusive:keys=a.*", watch.mailbox)) as worker:
        watch.event(WorkerState.CONSUMING)
        queue = worker.queue
        with connection_to(broker_url) as connection:
            channel = connection.channel()
            channel.confirm_delivery()
            channel.basic_publish(exchange, "b.one", b"b1")
            channel.basic_publish(exchange, "a.one", b"a1")
            watch.received(1)
            worker.set_bindings(parse_spec("exclusive:keys=b.#"))
            wait_for(lambda: worker.bindings_applied == ({"routing_key": "b.#"},), 10)
            channel.basic_publish(exchange, "a.two", b"a2")
            channel.basic_publish(exchange, "b.two.x", b"b2")
            watch.received(2)
        edited = watch.event(WorkerState.CONSUMING, detail="bindings now")
        assert edited.detail == "bindings now: key 'b.#'"
        time.sleep(0.1)
        watch.poll()
        assert [d.body for d in watch.deliveries] == [b"a1", b"b2"]
        assert {d.queue for d in watch.deliveries} == {queue} and worker.queue == queue
