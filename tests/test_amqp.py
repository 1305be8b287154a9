"""The AMQP layer against a real RabbitMQ: receivers, publishers, topology.

Every test that starts a worker thread stops it in a ``finally`` (the
``running`` context manager), and every wait is a bounded poll.
"""

from __future__ import annotations

import dataclasses
import select
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pika
import pytest
from helpers import (
    bind_tutorial_queue,
    closed_port,
    consume,
    emit_log,
    queue_exists,
    silent_listener,
    wait_for,
)

from fanout_tui.model.delivery import ORIGIN_HEADER, SENT_HEADER, SEQ_HEADER, Delivery
from fanout_tui.model.mailbox import Mailbox
from fanout_tui.model.outcomes import Outcome
from fanout_tui.model.states import StateChange, WorkerState
from fanout_tui.transport import turns
from fanout_tui.transport.broker import BrokerSettings, mask_url
from fanout_tui.transport.errors import (
    START_HINT,
    ExchangeTypeConflict,
    ExchangeUnusable,
    describe_error,
)
from fanout_tui.transport.publish_result import PublishResult
from fanout_tui.transport.publisher import PublisherWorker
from fanout_tui.transport.publisher_sync import Publisher
from fanout_tui.transport.receiver import ReceiverWorker
from fanout_tui.transport.stamps import MessageProperties
from fanout_tui.transport.topology import declare_exchange

SECRET = "Hush-Pw-123"  # the password of every unreachable URL: it must never show


@pytest.fixture
def broker(broker_url: str, exchange: str) -> BrokerSettings:
    return BrokerSettings(urls=(broker_url,), exchange=exchange)


def unreachable(port: int, exchange: str) -> BrokerSettings:
    return BrokerSettings(urls=(f"amqp://guest:{SECRET}@127.0.0.1:{port}/%2F",), exchange=exchange)


@contextmanager
def running(worker: threading.Thread) -> Iterator[Any]:
    """Start ``worker``; whatever happens, stop it and wait (bounded) for it to end."""
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()  # type: ignore[attr-defined]
        # A worker stuck in a connect ends when the connect times out; do not
        # let it outlive the test.
        worker.join(15)
        assert not worker.is_alive(), f"{worker.name} still running after the test"


class Watch:
    """Collects what a receiver reports to its mailbox."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox
        self.events: list[StateChange] = []
        self.deliveries: list[Delivery] = []

    def poll(self) -> None:
        self.events += self.mailbox.drain_events()
        self.deliveries += self.mailbox.drain_deliveries()

    def event(self, state: WorkerState, timeout: float = 10.0, **match: Any) -> StateChange:
        """The first event in ``state`` (and whose detail contains ``match['detail']``)."""
        found: list[StateChange] = []

        def seen() -> bool:
            self.poll()
            found[:] = [
                e
                for e in self.events
                if e.state is state
                and match.get("detail", "") in e.detail
                and e.attempt >= match.get("attempt", 0)
                and ("waiting" not in match or e.waiting == match["waiting"])
            ]
            return bool(found)

        wait_for(seen, timeout)
        return found[0]

    def received(self, count: int, timeout: float = 10.0) -> list[Delivery]:
        def enough() -> bool:
            self.poll()
            return len(self.deliveries) >= count

        wait_for(enough, timeout)
        return self.deliveries


def results_of(worker: PublisherWorker, count: int, timeout: float = 10.0) -> list[PublishResult]:
    results: list[PublishResult] = []

    def enough() -> bool:
        results.extend(worker.drain_results())
        return len(results) >= count

    wait_for(enough, timeout)
    return results


def text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


# Receiver -----------------------------------------------------------------------


def test_receiver_gets_what_a_tutorial_emit_log_publishes(
    broker: BrokerSettings, broker_url: str, exchange: str
) -> None:
    mailbox = Mailbox()
    watch = Watch(mailbox)
    with running(ReceiverWorker(broker, mailbox, name="r1")) as worker:
        consuming = watch.event(WorkerState.CONSUMING)
        assert consuming.queue.startswith("amq.gen-")
        assert consuming.queue == worker.queue
        assert consuming.url == mask_url(broker_url)
        assert watch.events[0].state is WorkerState.CONNECTING

        before = time.time()
        emit_log(
            broker_url,
            exchange,
            "info: Hello World!",
            pika.BasicProperties(
                content_type="text/plain", delivery_mode=1, headers={"source": "emit_log", "n": 7}
            ),
        )
        emit_log(broker_url, exchange, b"\x00\xffraw")  # no properties at all
        first, second = watch.received(2)
        after = time.time()

    assert first.body == b"info: Hello World!"
    assert first.headers == {"source": "emit_log", "n": 7}
    assert first.properties.content_type == "text/plain"
    assert first.properties.delivery_mode == 1
    assert before <= first.received_at <= after
    assert first.queue == consuming.queue
    assert first.exchange == exchange
    assert first.routing_key == ""
    assert first.redelivered is False
    assert first.seq is None and first.sent_at is None and first.origin is None
    assert second.body == b"\x00\xffraw"
    assert second.headers == {}
    assert mailbox.received == 2


def test_every_receiver_gets_its_own_copy(
    broker: BrokerSettings, broker_url: str, exchange: str
) -> None:
    watches: list[Watch] = []
    workers: list[ReceiverWorker] = []
    try:
        for n in range(3):
            mailbox = Mailbox()
            watches.append(Watch(mailbox))
            workers.append(ReceiverWorker(broker, mailbox, name=f"r{n}"))
            workers[-1].start()
        queues = {w.event(WorkerState.CONSUMING).queue for w in watches}
        assert len(queues) == 3
        emit_log(broker_url, exchange, "to all")
        for watch in watches:
            [delivery] = watch.received(1)
            assert delivery.body == b"to all"
        assert {w.deliveries[0].queue for w in watches} == queues
    finally:
        for worker in workers:
            worker.request_stop()
        stopped = [worker.stop() for worker in workers]
    assert stopped == [True, True, True]


def test_stop_returns_true_within_2s_and_the_queue_is_gone(
    broker: BrokerSettings, pika_connection: pika.BlockingConnection
) -> None:
    mailbox = Mailbox()
    watch = Watch(mailbox)
    with running(ReceiverWorker(broker, mailbox)) as worker:
        queue = watch.event(WorkerState.CONSUMING).queue
        assert queue_exists(pika_connection, queue)

        started = time.monotonic()
        stopped = worker.stop()
        elapsed = time.monotonic() - started
        assert stopped is True
        assert elapsed < 2.0
        assert not worker.is_alive()

    # The exclusive queue dies with the connection: a passive declare gets 404.
    wait_for(lambda: not queue_exists(pika_connection, queue), 5)
    watch.poll()
    assert watch.events[-1].state is WorkerState.STOPPED
    assert watch.events[-1].detail == ""


def test_stop_from_another_thread(broker: BrokerSettings) -> None:
    mailbox = Mailbox()
    watch = Watch(mailbox)
    with running(ReceiverWorker(broker, mailbox)) as worker:
        watch.event(WorkerState.CONSUMING)
        outcome: list[bool] = []
        stopper = threading.Thread(target=lambda: outcome.append(worker.stop()))
        stopper.start()
        stopper.join(5)
        assert outcome == [True]
    watch.event(WorkerState.STOPPED, timeout=1)


def test_a_stop_before_the_thread_runs_ends_it_at_once(broker: BrokerSettings) -> None:
    mailbox = Mailbox()
    worker = ReceiverWorker(broker, mailbox)
    worker.request_stop()
    with running(worker):
        wait_for(lambda: not worker.is_alive(), 2)
    assert [e.state for e in mailbox.drain_events()] == [WorkerState.STOPPED]
    assert worker.queue == ""


def test_a_reader_that_falls_behind_never_blocks_the_receiver(
    broker: BrokerSettings, broker_url: str, exchange: str
) -> None:
    mailbox = Mailbox(max_deliveries=5)
    watch = Watch(mailbox)
    with running(ReceiverWorker(broker, mailbox)):
        watch.event(WorkerState.CONSUMING)
        connection = pika.BlockingConnection(pika.URLParameters(broker_url))
        try:
            channel = connection.channel()
            for n in range(50):
                channel.basic_publish(exchange=exchange, routing_key="", body=str(n).encode())
        finally:
            connection.close()
        # Nobody drains meanwhile: the receiver goes on, the count stays exact,
        # and the hand-off keeps only the newest.
        wait_for(lambda: mailbox.received == 50, 10)
        bodies = [d.body for d in mailbox.drain_deliveries()]
    assert bodies == [str(n).encode() for n in range(45, 50)]


def test_stop_returns_within_2s_while_the_connect_hangs(exchange: str) -> None:
    """A broker that accepts the TCP connection and then never answers."""
    listener = silent_listener()
    port = listener.getsockname()[1]
    mailbox = Mailbox()
    worker = ReceiverWorker(unreachable(port, exchange), mailbox)
    try:
        worker.start()
        # The worker's connection is queued on the listener: the AMQP
        # handshake is now waiting for an answer that never comes.
        readable, _, _ = select.select([listener], [], [], 5)
        assert readable, "the worker never tried to connect"
        assert worker.is_alive()

        started = time.monotonic()
        worker.stop()
        elapsed = time.monotonic() - started
        assert elapsed < 2.3
    finally:
        listener.close()  # resets the queued connection, so the connect fails now
        worker.request_stop()
        worker.join(15)
    assert not worker.is_alive()
    events = mailbox.drain_events()
    assert events[-1].state is WorkerState.STOPPED  # a requested stop, not a failure
    assert all(SECRET not in e.detail and SECRET not in e.url for e in events)


def test_thread_ends_by_itself_soon_after_a_stop_during_a_hanging_connect(exchange: str) -> None:
    """pika's BlockingConnection() cannot be interrupted from another thread, so a stop
    that arrives mid-connect is seen when the connect gives up: within the connect
    timeout, not at once. stop() itself still returns within 2 s (test above)."""
    listener = silent_listener()
    port = listener.getsockname()[1]
    broker = unreachable(port, exchange)
    mailbox = Mailbox()
    worker = ReceiverWorker(broker, mailbox)
    try:
        worker.start()
        readable, _, _ = select.select([listener], [], [], 5)
        assert readable, "the worker never tried to connect"
        worker.request_stop()
        worker.join(broker.connect_timeout + 3)
        assert not worker.is_alive()
        assert mailbox.drain_events()[-1].state is WorkerState.STOPPED
    finally:
        listener.close()
        worker.request_stop()
        worker.join(15)


def test_stop_within_2s_while_waiting_to_reconnect(exchange: str) -> None:
    port = closed_port()
    mailbox = Mailbox()
    watch = Watch(mailbox)
    with running(ReceiverWorker(unreachable(port, exchange), mailbox)) as worker:
        # The third failure in a row: the worker now waits 1-2 s before trying again.
        retry = watch.event(WorkerState.RECONNECTING, detail="retrying in", attempt=3)
        started = time.monotonic()
        stopped = worker.stop()
        elapsed = time.monotonic() - started
        assert stopped is True
        assert elapsed < 2.0

    masked = f"amqp://guest:***@127.0.0.1:{port}/%2F"
    assert "connection refused" in retry.detail
    assert masked in retry.detail
    assert START_HINT in retry.detail
    assert retry.url == masked
    watch.poll()
    assert watch.events[-1].state is WorkerState.STOPPED
    assert all(SECRET not in e.detail and SECRET not in e.url for e in watch.events)


def test_without_reconnect_the_first_failure_is_final(exchange: str) -> None:
    port = closed_port()
    mailbox = Mailbox()
    with running(ReceiverWorker(unreachable(port, exchange), mailbox, reconnect=False)) as w:
        wait_for(lambda: not w.is_alive(), 5)
    events = mailbox.drain_events()
    assert [e.state for e in events] == [WorkerState.CONNECTING, WorkerState.FAILED]
    assert w.error is not None
    assert events[-1].detail == w.error
    assert "connection refused" in w.error
    assert f"amqp://guest:***@127.0.0.1:{port}/%2F" in w.error
    assert SECRET not in w.error


# Publisher ----------------------------------------------------------------------


def test_publisher_routed_with_stamped_headers_and_tutorial_properties(
    broker: BrokerSettings, pika_connection: pika.BlockingConnection, exchange: str
) -> None:
    channel, queue = bind_tutorial_queue(pika_connection, exchange)
    publisher = Publisher(broker, origin="test-origin")
    try:
        publisher.connect()
        before = time.time()
        result = publisher.publish(7, b"hello", MessageProperties())
        after = time.time()
    finally:
        publisher.close()

    assert result.status is Outcome.ROUTED
    assert result.ok
    assert (result.seq, result.body, result.exchange) == (7, b"hello", exchange)
    assert before <= result.sent_at <= result.done_at <= after
    assert result.describe() == f"#7 routed to exchange {exchange!r}"

    [(method, props, body)] = consume(pika_connection, channel, queue)
    assert body == b"hello"
    assert method.exchange == exchange and method.routing_key == ""
    assert props.content_type == "text/plain"
    assert props.delivery_mode == 1
    assert props.headers[SEQ_HEADER] == 7
    assert props.headers[SENT_HEADER] == int(result.sent_at * 1_000_000)
    assert text(props.headers[ORIGIN_HEADER]) == "test-origin"


def test_publisher_properties_can_be_set_and_the_stamp_wins(
    broker: BrokerSettings, pika_connection: pika.BlockingConnection, exchange: str
) -> None:
    channel, queue = bind_tutorial_queue(pika_connection, exchange)
    publisher = Publisher(broker)
    props = MessageProperties(
        content_type="application/json",
        delivery_mode=2,
        headers={"trace": "abc", SEQ_HEADER: 999},
    )
    try:
        publisher.connect()
        result = publisher.publish(3, b"{}", props)
    finally:
        publisher.close()
    assert result.status is Outcome.ROUTED
    [(_, delivered, _)] = consume(pika_connection, channel, queue)
    assert delivered.content_type == "application/json"
    assert delivered.delivery_mode == 2
    assert text(delivered.headers["trace"]) == "abc"
    assert delivered.headers[SEQ_HEADER] == 3
    assert text(delivered.headers[ORIGIN_HEADER]) == publisher.origin


def test_properties_pika_cannot_encode_fail_that_message_and_the_connection_lives_on(
    broker: BrokerSettings, pika_connection: pika.BlockingConnection, exchange: str
) -> None:
    channel, queue = bind_tutorial_queue(pika_connection, exchange)
    publisher = Publisher(broker)
    try:
        publisher.connect()
        bad = publisher.publish(1, b"x", MessageProperties(headers={"ratio": 0.5}))
        long_type = publisher.publish(2, b"x", MessageProperties(content_type="t" * 300))
        good = publisher.publish(3, b"fine", MessageProperties())
    finally:
        publisher.close()
    assert bad.status is Outcome.FAILED
    assert "cannot be sent" in bad.reason and "\n" not in bad.reason
    assert long_type.status is Outcome.FAILED
    assert good.status is Outcome.ROUTED
    [(_, _, body)] = consume(pika_connection, channel, queue)
    assert body == b"fine"


def test_publisher_unroutable_when_no_queue_is_bound(
    broker: BrokerSettings, pika_connection: pika.BlockingConnection, exchange: str
) -> None:
    publisher = Publisher(broker)
    try:
        publisher.connect()
        lost = publisher.publish(1, b"into the void", MessageProperties())
        assert lost.status is Outcome.UNROUTABLE
        assert not lost.ok
        assert f"no queue is bound to exchange {exchange!r}" in lost.describe()
        assert lost.describe().startswith("#1 unroutable")

        # The same channel goes on working once a queue is bound.
        channel, queue = bind_tutorial_queue(pika_connection, exchange)
        routed = publisher.publish(2, b"now heard", MessageProperties())
        assert routed.status is Outcome.ROUTED
    finally:
        publisher.close()
    [(_, _, body)] = consume(pika_connection, channel, queue)
    assert body == b"now heard"


def test_publisher_redeclares_an_exchange_deleted_under_it(
    broker: BrokerSettings, pika_connection: pika.BlockingConnection, exchange: str
) -> None:
    publisher = Publisher(broker)
    try:
        publisher.connect()
        pika_connection.channel().exchange_delete(exchange)
        after_delete = publisher.publish(1, b"x", MessageProperties())
        # Redeclared, but the bindings went with the old exchange.
        assert after_delete.status is Outcome.UNROUTABLE
        channel, queue = bind_tutorial_queue(pika_connection, exchange)
        assert publisher.publish(2, b"y", MessageProperties()).status is Outcome.ROUTED
    finally:
        publisher.close()
    [(_, _, body)] = consume(pika_connection, channel, queue)
    assert body == b"y"


def test_publisher_connect_to_an_unreachable_broker_says_so(exchange: str) -> None:
    port = closed_port()
    publisher = Publisher(unreachable(port, exchange))
    try:
        with pytest.raises(pika.exceptions.AMQPConnectionError) as info:
            publisher.connect()
        reason = publisher.describe(info.value)
    finally:
        publisher.close()
    assert reason.startswith(f"cannot reach the broker at amqp://guest:***@127.0.0.1:{port}/%2F")
    assert "docker compose up -d" in reason
    assert SECRET not in reason
    assert not publisher.connected


def test_publisher_worker_unroutable_then_routed(
    broker: BrokerSettings, pika_connection: pika.BlockingConnection, exchange: str
) -> None:
    with running(PublisherWorker(broker, origin="worker-1")) as worker:
        wait_for(lambda: worker.state.state is WorkerState.READY, 10)
        assert worker.publish(b"nobody listens") == 1
        [lost] = results_of(worker, 1)
        assert (lost.seq, lost.status) == (1, Outcome.UNROUTABLE)
        assert f"no queue is bound to exchange {exchange!r}" in lost.describe()

        channel, queue = bind_tutorial_queue(pika_connection, exchange)
        assert worker.publish(b"hello") == 2
        assert worker.publish(b"plain", MessageProperties(content_type=None)) == 3
        routed = results_of(worker, 2)
        assert [(r.seq, r.status) for r in routed] == [
            (2, Outcome.ROUTED),
            (3, Outcome.ROUTED),
        ]
        assert worker.stop() is True
    assert worker.state.state is WorkerState.STOPPED

    first, second = consume(pika_connection, channel, queue, count=2)
    assert first[2] == b"hello"
    assert first[1].content_type == "text/plain"
    assert first[1].delivery_mode == 1
    assert first[1].headers[SEQ_HEADER] == 2
    assert text(first[1].headers[ORIGIN_HEADER]) == "worker-1"
    assert isinstance(first[1].headers[SENT_HEADER], int)
    assert second[2] == b"plain"
    assert second[1].content_type is None
    assert second[1].headers[SEQ_HEADER] == 3


def test_publisher_worker_reports_not_sent_when_the_broker_is_unreachable(
    exchange: str,
) -> None:
    port = closed_port()
    with running(PublisherWorker(unreachable(port, exchange))) as worker:
        seq = worker.publish(b"lost")
        [result] = results_of(worker, 1)
        wait_for(lambda: worker.state.state is WorkerState.RECONNECTING, 5)
        started = time.monotonic()
        assert worker.stop() is True
        assert time.monotonic() - started < 2.0

    assert result.seq == seq == 1
    assert result.status is Outcome.FAILED
    assert not result.ok
    described = result.describe()
    assert described.startswith(f"#{seq} not sent: ")
    assert "cannot reach the broker" in described
    assert f"amqp://guest:***@127.0.0.1:{port}/%2F" in described
    assert SECRET not in described
    assert SECRET not in worker.state.detail
    assert worker.state.state is WorkerState.STOPPED


# Exchange topology --------------------------------------------------------------


def test_an_exchange_of_another_type_is_a_conflict_naming_both_types(
    broker: BrokerSettings, pika_connection: pika.BlockingConnection, exchange: str
) -> None:
    """Only when a type was asked for (--exchange-type): otherwise the existing
    exchange's type is taken (see the next test)."""
    pika_connection.channel().exchange_declare(exchange=exchange, exchange_type="direct")
    broker = dataclasses.replace(broker, exchange_type="fanout")

    publisher = Publisher(broker)
    try:
        with pytest.raises(ExchangeTypeConflict) as info:
            publisher.connect()
    finally:
        publisher.close()
    conflict = info.value
    assert (conflict.exchange, conflict.wanted, conflict.current) == (exchange, "fanout", "direct")
    assert "'direct'" in str(conflict) and "'fanout'" in str(conflict)
    assert describe_error(conflict) == str(conflict)

    mailbox = Mailbox()
    with running(ReceiverWorker(broker, mailbox, reconnect=False)) as worker:
        wait_for(lambda: not worker.is_alive(), 10)
    assert worker.error is not None
    assert "'direct'" in worker.error and "'fanout'" in worker.error
    assert mailbox.drain_events()[-1].state is WorkerState.FAILED

    # The exchange is left as it was: declaring it as a direct one still passes.
    pika_connection.channel().exchange_declare(exchange=exchange, exchange_type="direct")


def test_an_existing_exchange_of_another_type_is_used_as_it_is(
    broker: BrokerSettings, pika_connection: pika.BlockingConnection, exchange: str
) -> None:
    pika_connection.channel().exchange_declare(exchange=exchange, exchange_type="topic")

    mailbox = Mailbox()
    with running(ReceiverWorker(broker, mailbox)) as worker:
        wait_for(lambda: mailbox.state.state is WorkerState.CONSUMING, 10, what="consuming")
        assert worker.exchange_type == "topic"
    publisher = Publisher(broker)
    try:
        publisher.connect()
        assert publisher.exchange_type == "topic"
    finally:
        publisher.close()


def test_the_publisher_worker_reports_the_conflict(
    broker: BrokerSettings, pika_connection: pika.BlockingConnection, exchange: str
) -> None:
    pika_connection.channel().exchange_declare(exchange=exchange, exchange_type="topic")
    broker = dataclasses.replace(broker, exchange_type="fanout")
    with running(PublisherWorker(broker)) as worker:
        worker.publish(b"x")
        [result] = results_of(worker, 1)
    assert result.status is Outcome.FAILED
    assert "'topic'" in result.reason and "'fanout'" in result.reason


@pytest.mark.parametrize(
    "flags",
    [{"durable": True}, {"auto_delete": True}, {"durable": True, "auto_delete": True}],
    ids=["durable", "auto_delete", "durable+auto_delete"],
)
def test_an_existing_fanout_with_other_flags_is_used_as_it_is(
    broker: BrokerSettings,
    broker_url: str,
    pika_connection: pika.BlockingConnection,
    exchange: str,
    flags: dict[str, bool],
) -> None:
    pika_connection.channel().exchange_declare(exchange=exchange, exchange_type="fanout", **flags)
    try:
        mailbox = Mailbox()
        watch = Watch(mailbox)
        with running(ReceiverWorker(broker, mailbox, reconnect=False)):
            watch.event(WorkerState.CONSUMING)
            publisher = Publisher(broker)
            try:
                publisher.connect()
                result = publisher.publish(1, b"durable ok", MessageProperties())
            finally:
                publisher.close()
            assert result.status is Outcome.ROUTED
            [delivery] = watch.received(1)
            assert delivery.body == b"durable ok"
            # Left as it was: redeclaring it with its own flags is accepted
            # (look while the receiver is bound: an auto_delete exchange goes
            # with its last binding).
            pika_connection.channel().exchange_declare(
                exchange=exchange, exchange_type="fanout", **flags
            )
        assert not any(e.state is WorkerState.FAILED for e in watch.events)
    finally:
        pika_connection.channel().exchange_delete(exchange)


@pytest.mark.parametrize(("name", "current"), [("amq.direct", "direct"), ("amq.topic", "topic")])
def test_built_in_exchanges_of_another_type_are_refused(
    broker_url: str, name: str, current: str
) -> None:
    """When a fanout is asked for (--exchange-type); without, they are used as they are."""
    broker = BrokerSettings(urls=(broker_url,), exchange=name, exchange_type="fanout")
    publisher = Publisher(broker)
    try:
        with pytest.raises(ExchangeTypeConflict) as info:
            publisher.connect()
    finally:
        publisher.close()
    assert info.value.current == current
    assert "'fanout'" in str(info.value)


def test_the_default_exchange_is_refused_whatever_is_asked(broker_url: str) -> None:
    publisher = Publisher(BrokerSettings(urls=(broker_url,), exchange=""))
    try:
        with pytest.raises(ExchangeUnusable) as info:
            publisher.connect()
    finally:
        publisher.close()
    assert "the default exchange" in str(info.value)
    assert describe_error(info.value) == str(info.value)


def test_the_built_in_amq_fanout_works(
    broker_url: str, pika_connection: pika.BlockingConnection
) -> None:
    channel, queue = bind_tutorial_queue(pika_connection, "amq.fanout", declare=False)
    publisher = Publisher(BrokerSettings(urls=(broker_url,), exchange="amq.fanout"))
    try:
        publisher.connect()
        assert publisher.publish(1, b"built in", MessageProperties()).ok
    finally:
        publisher.close()
    [(_, _, body)] = consume(pika_connection, channel, queue)
    assert body == b"built in"


def test_declare_exchange_creates_a_missing_one_like_the_tutorial(
    pika_connection: pika.BlockingConnection, exchange: str
) -> None:
    channel = declare_exchange(pika_connection, exchange)
    assert channel.is_open
    # Non-durable fanout: an identical active declare is accepted.
    pika_connection.channel().exchange_declare(
        exchange=exchange, exchange_type="fanout", durable=False
    )


def test_a_broker_that_never_answers_the_handshake_is_described_like_any_unreachable_one(
    exchange: str,
) -> None:
    listener = silent_listener()
    port = listener.getsockname()[1]
    # The shortest stack timeout the settings allow (connect_timeout + 5 s).
    settings = BrokerSettings(
        urls=(f"amqp://guest:{SECRET}@127.0.0.1:{port}/%2F",),
        exchange=exchange,
        connect_timeout=0.1,
    )
    publisher = Publisher(settings)
    try:
        with pytest.raises(Exception) as info:
            publisher.connect()
        reason = publisher.describe(info.value)
    finally:
        publisher.close()
        listener.close()
    assert SECRET not in reason
    assert f"amqp://guest:***@127.0.0.1:{port}/%2F" in reason
    assert START_HINT in reason


# Pause and resume ---------------------------------------------------------------


def test_a_paused_receiver_keeps_its_queue_which_fills_and_drains_on_resume(
    broker: BrokerSettings, broker_url: str, exchange: str
) -> None:
    mailbox = Mailbox(max_deliveries=10_000)
    watch = Watch(mailbox)
    with running(ReceiverWorker(broker, mailbox)) as worker:
        consuming = watch.event(WorkerState.CONSUMING)
        for i in range(3):
            emit_log(broker_url, exchange, f"before {i}")
        watch.received(3)
        worker.set_paused(True)
        watch.event(WorkerState.PAUSED)
        for i in range(7):
            emit_log(broker_url, exchange, f"while paused {i}")
        # The depth comes from a passive declare about once a second.
        seen = watch.event(WorkerState.PAUSED, timeout=10, waiting=7)
        assert seen.queue == consuming.queue  # same queue: the connection lived on
        assert mailbox.received == 3
        worker.set_paused(False)
        got = watch.received(10)
        assert [text(d.body) for d in got] == [f"before {i}" for i in range(3)] + [
            f"while paused {i}" for i in range(7)
        ]
        assert mailbox.received == 10
        assert watch.events[-1].state is WorkerState.CONSUMING


def wait_until_accounted_for(watch: Watch, mailbox: Mailbox, total: int) -> None:
    """Paused, with every one of ``total`` messages handed over or waiting in the queue."""

    def settled() -> bool:
        watch.poll()
        waiting = mailbox.state.waiting  # only a PAUSED report carries it
        return waiting is not None and mailbox.received + waiting == total

    try:
        wait_for(settled, 15)
    except AssertionError:
        raise AssertionError(f"{mailbox.received} received, state {mailbox.state}") from None


def publish_numbered(
    url: str, exchange: str, total: int, during: Callable[[int], object] = lambda i: None
) -> None:
    """Publish bodies "0" .. str(total - 1); ``during(i)`` runs after each."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for i in range(total):
            channel.basic_publish(exchange=exchange, routing_key="", body=str(i).encode())
            during(i)
    finally:
        connection.close()


def test_a_pause_during_a_burst_loses_nothing(
    broker: BrokerSettings, broker_url: str, exchange: str
) -> None:
    """Deliveries in flight when the consumer is cancelled are handed over
    during the cancel; they are counted, and the rest waits in the queue."""
    mailbox = Mailbox(max_deliveries=100)
    watch = Watch(mailbox)
    total = 5000
    with running(ReceiverWorker(broker, mailbox)) as worker:
        watch.event(WorkerState.CONSUMING)
        publish_numbered(
            broker_url, exchange, total, lambda i: i == total // 5 and worker.set_paused(True)
        )
        paused = watch.event(WorkerState.PAUSED, timeout=10)
        assert paused.received <= total
        wait_until_accounted_for(watch, mailbox, total)
        worker.set_paused(False)
        wait_for(lambda: mailbox.received == total, 15)


def test_a_pause_right_after_resuming_onto_a_backlog_loses_nothing(
    broker: BrokerSettings, broker_url: str, exchange: str
) -> None:
    """On resume the broker pushes the whole backlog at once, so when the pause
    follows, thousands of auto-acked deliveries are in flight. pika drops those
    that land between basic.cancel and cancel-ok; the receiver must keep them."""
    mailbox = Mailbox(max_deliveries=100)
    watch = Watch(mailbox)
    total = 20_000
    with running(ReceiverWorker(broker, mailbox)) as worker:
        watch.event(WorkerState.CONSUMING)
        worker.set_paused(True)
        watch.event(WorkerState.PAUSED)
        publish_numbered(broker_url, exchange, total)
        watch.event(WorkerState.PAUSED, timeout=10, waiting=total)
        worker.set_paused(False)
        wait_for(lambda: mailbox.received > 0, 10)
        worker.set_paused(True)
        # Often much of the backlog is in flight when the cancel goes out, and
        # sometimes all of it: then everything arrives during the cancel and
        # nothing waits. Either way nothing may be missing (without the catch,
        # thousands were, on every run).
        wait_until_accounted_for(watch, mailbox, total)


def test_pausing_again_and_again_during_a_heavy_burst_shows_each_message_exactly_once(
    broker: BrokerSettings, broker_url: str, exchange: str
) -> None:
    """Manual acks make a pause lossless without touching pika's internals: what
    was handed over is acked before the cancel, and what the broker sends after
    it pika rejects back into the queue. Pause and resume every few dozen
    milliseconds under a burst: afterwards every number arrived exactly once."""
    total = 30_000
    mailbox = Mailbox(max_deliveries=total)
    watch = Watch(mailbox)
    seen: list[int] = []
    pauses = 0
    with running(ReceiverWorker(broker, mailbox)) as worker:
        watch.event(WorkerState.CONSUMING)
        publisher = threading.Thread(target=publish_numbered, args=(broker_url, exchange, total))
        publisher.start()
        try:
            while publisher.is_alive() or (pauses < 10 and len(seen) < total):
                worker.set_paused(not worker.pause_requested)
                pauses += worker.pause_requested
                # Paced by the worker: the next toggle once it has done this one
                # (a cancel-ok, or a consume sent), as fast as the broker answers.
                wait_for(lambda: worker.paused == worker.pause_requested, 10, 0.005, what="toggled")
                seen.extend(int(d.body) for d in mailbox.drain_deliveries())
        finally:
            publisher.join(60)
        worker.set_paused(False)

        def all_seen() -> bool:
            seen.extend(int(d.body) for d in mailbox.drain_deliveries())
            return len(seen) >= total

        wait_for(all_seen, 30, what="every message shown after the last resume")
    assert pauses >= 10
    assert len(seen) == total, f"{len(seen)} of {total} shown"
    assert sorted(seen) == list(range(total)), "a message was shown twice or not at all"


def test_receivers_take_turns_and_one_stopped_or_cancelled_mid_burst_holds_up_no_other(
    broker: BrokerSettings, broker_url: str, exchange: str, broker_node: Any
) -> None:
    """Receiver threads hand over deliveries one at a time (``turns.TURN``). A
    thread that stops, or whose queue is deleted, in the middle of a read must
    pass the turn on: the survivor gets the whole burst and the turn ends free."""
    total = 20_000
    mailboxes = [Mailbox(max_deliveries=100) for _ in range(3)]
    watches = [Watch(m) for m in mailboxes]
    workers = [ReceiverWorker(broker, m, name=f"r{n}") for n, m in enumerate(mailboxes)]
    seen_held: list[bool] = []

    def during(i: int) -> None:
        if i % 100 == 0:
            seen_held.append(turns.TURN.locked())
        if i == total // 4:
            assert mailboxes[0].received < total
            assert workers[0].stop()

    try:
        for worker, watch in zip(workers, watches, strict=True):
            worker.start()
            watch.event(WorkerState.CONSUMING)
        publish_numbered(broker_url, exchange, total, during)
        assert any(seen_held), "no receiver ever held the turn during the burst"
        broker_node.rabbitctl_output("delete_queue", workers[1].queue)
        watches[1].event(WorkerState.RECONNECTING, detail="cancelled the consumer")
        wait_for(lambda: mailboxes[2].received == total, 30)
    finally:
        for worker in workers:
            worker.request_stop()
        stopped = [worker.stop() for worker in workers]
    assert stopped == [True, True, True]
    assert mailboxes[2].received == total
    assert not turns.TURN.locked()


def test_the_mailbox_works_out_latency_and_tracks_only_this_apps_messages(
    broker: BrokerSettings, broker_url: str, exchange: str
) -> None:
    """pika decodes the 64-bit send stamp as a subclass of int; only our own stamp
    counts toward latency, another fanout-tui's does not."""
    publisher = Publisher(broker)
    mailbox = Mailbox(origin=publisher.origin)
    watch = Watch(mailbox)
    with running(ReceiverWorker(broker, mailbox)):
        watch.event(WorkerState.CONSUMING)
        try:
            publisher.connect()
            assert publisher.publish(7, b"ours", MessageProperties()).ok
        finally:
            publisher.close()
        other = Publisher(broker)  # another fanout-tui: stamped, not ours
        try:
            other.connect()
            assert other.publish(8, b"theirs", MessageProperties()).ok
        finally:
            other.close()
        emit_log(broker_url, exchange, "unstamped")
        watch.received(3)
    tracked = mailbox.drain_tracked()
    assert [seq for seq, _ in tracked] == [7]
    assert 0 <= tracked[0][1] < 5
    assert mailbox.stamped == 1 and mailbox.recent_latencies() == [tracked[0][1]]
