"""Routing beyond fanout below the command line: the exchange-type setting, the
words of a conflict, a publish's own routing key and headers (the app's stamp
always wins), a burst's, the unroutable reason per type, and the type read
from the management API. Real brokers only.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pika
import pytest
from helpers import closed_port, consume, wait_for

from fanout_tui.cli import build_parser, dashboard_arguments
from fanout_tui.model.delivery import Delivery
from fanout_tui.model.mailbox import Mailbox
from fanout_tui.model.outcomes import Outcome
from fanout_tui.model.receiver_spec import ReceiverSpec
from fanout_tui.model.states import WorkerState
from fanout_tui.present.text import delivery_line
from fanout_tui.settings import ConfigError, load_settings
from fanout_tui.transport.broker import BrokerSettings
from fanout_tui.transport.burst import BurstWorker
from fanout_tui.transport.errors import ExchangeTypeConflict, describe_error
from fanout_tui.transport.management import ManagementSettings, exchange_type
from fanout_tui.transport.publish_result import unroutable_reason
from fanout_tui.transport.publisher import PublisherWorker
from fanout_tui.transport.publisher_sync import Publisher
from fanout_tui.transport.receiver import ReceiverWorker
from fanout_tui.transport.stamps import MessageProperties
from fanout_tui.transport.topology import exchange_problem

pytestmark = pytest.mark.timeout(60)


@contextmanager
def running(worker: threading.Thread) -> Iterator[Any]:
    """Start ``worker``; whatever happens, stop it and wait (bounded) for it to end."""
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()  # type: ignore[attr-defined]
        worker.join(15)
        assert not worker.is_alive(), f"{worker.name} still running after the test"


@contextmanager
def connected(broker: BrokerSettings) -> Iterator[Publisher]:
    publisher = Publisher(broker)
    try:
        publisher.connect()
        yield publisher
    finally:
        publisher.close()


def bound_queue(connection: pika.BlockingConnection, exchange: str, kind: str, **bind: Any) -> Any:
    """A plain pika program's exclusive queue bound to ``exchange`` (declared as ``kind``)."""
    channel = connection.channel()
    channel.exchange_declare(exchange=exchange, exchange_type=kind)
    queue = channel.queue_declare(queue="", exclusive=True).method.queue
    channel.queue_bind(exchange=exchange, queue=queue, **bind)
    return channel, queue


# The words ---------------------------------------------------------------------------


def test_a_conflict_says_where_the_wanted_type_came_from() -> None:
    asked = ExchangeTypeConflict("logs", "fanout", "topic")
    assert str(asked) == (
        "exchange 'logs' already exists as type 'topic', not 'fanout' as --exchange-type asks "
        "(drop --exchange-type to use it as it is, or choose another --exchange)"
    )
    configured = ExchangeTypeConflict("logs", "direct", "topic", "exchange_type in config file c")
    assert "as exchange_type in config file c asks (drop exchange_type in config file c" in str(
        configured
    )
    replaced = ExchangeTypeConflict("logs", "topic", "direct", "")
    assert str(replaced) == (
        "exchange 'logs' already exists as type 'direct', not 'topic' as when fanout-tui "
        "connected (it was declared again as another type)"
    )
    for conflict in (asked, configured, replaced):
        assert "\n" not in str(conflict)
        assert describe_error(conflict) == str(conflict)


@pytest.mark.parametrize(
    "name", ["amq.fanout", "amq.direct", "amq.topic", "amq.headers", "amq.match"]
)
def test_the_built_in_exchanges_are_usable(name: str) -> None:
    assert exchange_problem(name) == ""


@pytest.mark.parametrize(
    ("name", "words"),
    [("", "the default exchange"), ("amq.gen-1", "reserved"), ("amq.rabbitmq.trace", "reserved")],
)
def test_exchanges_that_can_never_work_say_why(name: str, words: str) -> None:
    assert words in exchange_problem(name)


def test_the_unroutable_reason_names_what_was_matched() -> None:
    assert unroutable_reason("fanout", "ignored") == ""  # the fanout words: "no queue is bound"
    assert unroutable_reason("direct", "") == "no binding matches routing key ''"
    assert unroutable_reason("topic", "x.y") == "no binding matches routing key 'x.y'"
    assert unroutable_reason("headers", "x.y") == "no binding matches its headers"
    assert unroutable_reason("", "k") == "no binding matches routing key 'k'"  # type unknown
    assert unroutable_reason("", "") == ""
    # A key is shown escaped: repr never lets a control character through.
    assert "\x1b" not in unroutable_reason("topic", "\x1b[2J")


def test_a_delivery_line_puts_the_key_before_the_body_only_when_asked() -> None:
    delivery = Delivery(b"boom", None, {}, 1_700_000_000.0, "q", "x", "kern.\x1bcrit", False)
    plain = delivery_line(delivery)
    keyed = delivery_line(delivery, with_key=True)
    assert plain.endswith(" boom") and "kern" not in plain
    assert keyed.endswith(" kern.\\x1bcrit:boom")


# The setting -------------------------------------------------------------------------


def test_the_exchange_type_comes_from_the_flag_or_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    assert load_settings(env={}, config_path=config).broker().exchange_type is None
    config.write_text('exchange = "t"\nexchange_type = "topic"\n', encoding="utf-8")
    from_file = load_settings(env={}, config_path=config)
    assert from_file.broker().exchange_type == "topic"
    assert from_file.broker().exchange_type_from == f"exchange_type in config file {config}, line 2"
    flag = load_settings(exchange_type="direct", env={}, config_path=config)
    assert (flag.broker().exchange_type, flag.broker().exchange_type_from) == (
        "direct",
        "--exchange-type",
    )


def test_a_bad_exchange_type_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    with pytest.raises(ConfigError) as info:
        load_settings(exchange_type="lanes", env={}, config_path=config)
    assert str(info.value) == (
        "exchange type must be one of fanout, direct, topic, headers, not 'lanes'"
    )
    config.write_text("exchange_type = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="'exchange_type' must be a string"):
        load_settings(env={}, config_path=config)


def test_serve_hands_the_exchange_type_on_to_its_sessions() -> None:
    args = build_parser().parse_args(["serve", "--exchange-type", "topic", "--exchange", "t"])
    arguments = dashboard_arguments(args)
    assert "--exchange-type=topic" in arguments
    assert build_parser().parse_args(arguments).exchange_type == "topic"


# Publishing with a key and headers ------------------------------------------------------


def test_a_publish_goes_out_with_its_own_key_and_headers_under_the_stamp(
    broker_url: str, exchange: str, pika_connection: pika.BlockingConnection
) -> None:
    channel, queue = bound_queue(pika_connection, exchange, "direct", routing_key="error")
    broker = BrokerSettings(urls=(broker_url,), exchange=exchange)
    props = MessageProperties(headers={"from-props": "p", "shared": "props"})
    with connected(broker) as publisher:
        assert publisher.exchange_type == "direct"  # found, not asked for
        missed = publisher.publish(1, b"info", props, routing_key="info")
        assert missed.status is Outcome.UNROUTABLE
        assert missed.reason == "no binding matches routing key 'info'"
        assert missed.routing_key == "info"
        assert "no binding matches routing key 'info'" in missed.describe()
        own = {"shared": "mine", "x-fanout-seq": "99", "x-fanout-origin": "forged"}
        result = publisher.publish(2, b"boom", props, routing_key="error", headers=own)
        assert result.status is Outcome.ROUTED, result.describe()
        assert result.routing_key == "error"
    [(method, properties, body)] = consume(pika_connection, channel, queue)
    assert (method.routing_key, body) == ("error", b"boom")
    headers = properties.headers
    assert headers["from-props"] == "p"
    assert headers["shared"] == "mine"  # the message's own over the properties'
    assert headers["x-fanout-seq"] == 2  # the stamp over both
    assert headers["x-fanout-origin"] == publisher.origin


def test_the_fanout_words_stay_on_a_fanout(
    broker_url: str, exchange: str, pika_connection: pika.BlockingConnection
) -> None:
    pika_connection.channel().exchange_declare(exchange=exchange, exchange_type="fanout")
    with connected(BrokerSettings(urls=(broker_url,), exchange=exchange)) as publisher:
        result = publisher.publish(1, b"nobody", MessageProperties(), routing_key="ignored")
    assert result.status is Outcome.UNROUTABLE
    assert result.reason == ""
    assert f"no queue is bound to exchange '{exchange}'" in result.describe()


def test_a_headers_exchange_routes_a_publish_by_its_headers(
    broker_url: str, exchange: str, pika_connection: pika.BlockingConnection
) -> None:
    channel, queue = bound_queue(
        pika_connection, exchange, "headers", arguments={"x-match": "any", "format": "pdf"}
    )
    broker = BrokerSettings(urls=(broker_url,), exchange=exchange, exchange_type="headers")
    with connected(broker) as publisher:
        missed = publisher.publish(1, b"zip", MessageProperties(), headers={"format": "zip"})
        assert (missed.status, missed.reason) == (
            Outcome.UNROUTABLE,
            "no binding matches its headers",
        )
        hit = publisher.publish(2, b"pdf", MessageProperties(), headers={"format": "pdf"})
        assert hit.status is Outcome.ROUTED, hit.describe()
    [(_, _, body)] = consume(pika_connection, channel, queue)
    assert body == b"pdf"


def test_the_dashboards_publisher_takes_a_key_per_message(
    broker_url: str, exchange: str, pika_connection: pika.BlockingConnection
) -> None:
    channel, queue = bound_queue(pika_connection, exchange, "topic", routing_key="kern.*")
    broker = BrokerSettings(urls=(broker_url,), exchange=exchange)
    with running(PublisherWorker(broker)) as worker:
        wait_for(lambda: worker.state.state is WorkerState.READY, 15)
        assert worker.exchange_type == "topic"
        worker.publish(b"app", routing_key="app.critical")
        worker.publish(b"kern", routing_key="kern.critical", headers={"h": "1"})
        results: list[Any] = []
        wait_for(lambda: results.extend(worker.drain_results()) or len(results) == 2, 15)
    by_body = {r.body: r for r in results}
    assert by_body[b"app"].reason == "no binding matches routing key 'app.critical'"
    assert by_body[b"kern"].status is Outcome.ROUTED
    [(method, properties, body)] = consume(pika_connection, channel, queue)
    assert (method.routing_key, body, properties.headers["h"]) == ("kern.critical", b"kern", "1")


def test_a_burst_goes_out_with_its_key_and_headers(
    broker_url: str, exchange: str, pika_connection: pika.BlockingConnection
) -> None:
    channel, queue = bound_queue(pika_connection, exchange, "direct", routing_key="bulk")
    broker = BrokerSettings(urls=(broker_url,), exchange=exchange)
    burst = BurstWorker(
        broker,
        origin="burst-test",
        first_seq=100,
        count=20,
        text="copy",
        routing_key="bulk",
        headers={"batch": "7", "x-fanout-seq": "forged"},
    )
    with running(burst):
        wait_for(lambda: burst.done, 20)
    assert (burst.error, burst.sent, burst.unroutable) == (None, 20, 0)
    got = consume(pika_connection, channel, queue, count=20)
    assert {m.routing_key for m, _, _ in got} == {"bulk"}
    assert {p.headers["batch"] for _, p, _ in got} == {"7"}
    assert sorted(p.headers["x-fanout-seq"] for _, p, _ in got) == list(range(100, 120))
    # Another key matches no binding: every copy comes back unroutable.
    elsewhere = BurstWorker(
        broker, origin="burst-test", first_seq=200, count=5, text="x", routing_key="other"
    )
    with running(elsewhere):
        wait_for(lambda: elsewhere.done, 20)
    assert (elsewhere.sent, elsewhere.unroutable) == (5, 5)


# Attaching to an existing exchange ----------------------------------------------------------


def test_workers_attach_to_an_existing_topic_exchange_as_it_is(
    broker_url: str, exchange: str, pika_connection: pika.BlockingConnection
) -> None:
    pika_connection.channel().exchange_declare(exchange=exchange, exchange_type="topic")
    broker = BrokerSettings(urls=(broker_url,), exchange=exchange)
    mailbox = Mailbox()
    spec = ReceiverSpec(keys=("kern.*",))
    with running(ReceiverWorker(broker, mailbox, reconnect=False, spec=spec)) as receiver:
        wait_for(lambda: receiver.queue != "" and receiver.exchange_type == "topic", 15)
        with connected(broker) as publisher:
            assert publisher.exchange_type == "topic"
            assert publisher.publish(1, b"k", MessageProperties(), routing_key="kern.info").ok
        deliveries: list[Delivery] = []
        wait_for(lambda: deliveries.extend(mailbox.drain_deliveries()) or deliveries, 15)
    assert [(d.routing_key, d.body) for d in deliveries] == [("kern.info", b"k")]


def test_an_exchange_replaced_by_another_type_is_a_conflict_with_the_connect_time_type(
    broker_url: str, exchange: str, pika_connection: pika.BlockingConnection
) -> None:
    """The re-check after an unroutable publish compares with the type found at
    connect, and says so (not --exchange-type, which was never given)."""
    channel = pika_connection.channel()
    channel.exchange_declare(exchange=exchange, exchange_type="topic")
    with connected(BrokerSettings(urls=(broker_url,), exchange=exchange)) as publisher:
        channel.exchange_delete(exchange=exchange)
        channel.exchange_declare(exchange=exchange, exchange_type="direct")
        result = publisher.publish(1, b"x", MessageProperties(), routing_key="a.b")
    assert result.status is Outcome.UNROUTABLE
    assert result.reason == (
        f"exchange '{exchange}' already exists as type 'direct', not 'topic' as when "
        "fanout-tui connected (it was declared again as another type)"
    )


def test_a_missing_exchange_asked_for_as_topic_is_created_as_one(
    broker_url: str, exchange: str, pika_connection: pika.BlockingConnection
) -> None:
    broker = BrokerSettings(urls=(broker_url,), exchange=exchange, exchange_type="topic")
    try:
        with connected(broker) as publisher:
            assert publisher.exchange_type == "topic"
        # A topic it is: declaring it as one passes, as another fails.
        pika_connection.channel().exchange_declare(exchange=exchange, exchange_type="topic")
        with pytest.raises(pika.exceptions.ChannelClosedByBroker):
            pika_connection.channel().exchange_declare(exchange=exchange, exchange_type="fanout")
    finally:
        if pika_connection.is_open:
            pika_connection.channel().exchange_delete(exchange=exchange)


def test_a_type_asked_for_by_the_config_is_named_in_the_conflict(
    broker_url: str, exchange: str, pika_connection: pika.BlockingConnection
) -> None:
    pika_connection.channel().exchange_declare(exchange=exchange, exchange_type="direct")
    broker = dataclasses.replace(
        BrokerSettings(urls=(broker_url,), exchange=exchange),
        exchange_type="fanout",
        exchange_type_from="exchange_type in config file c, line 1",
    )
    mailbox = Mailbox()
    with running(ReceiverWorker(broker, mailbox, reconnect=False)) as receiver:
        wait_for(lambda: not receiver.is_alive(), 15)
    assert receiver.error is not None
    assert "not 'fanout' as exchange_type in config file c, line 1 asks" in receiver.error


# The management API's word on the type -----------------------------------------------------


def test_the_management_api_tells_an_exchanges_type(management_node: Any) -> None:
    name = f"hroute-{time.monotonic_ns()}"
    connection = pika.BlockingConnection(pika.URLParameters(management_node.amqp_url))
    try:
        connection.channel().exchange_declare(exchange=name, exchange_type="topic")
        settings = ManagementSettings(url=management_node.api_url)
        assert exchange_type(settings, name) == "topic"
        assert exchange_type(settings, "amq.match") == "headers"
        assert exchange_type(settings, "amq.fanout") == "fanout"
        assert exchange_type(settings, name + "-missing") is None
        assert exchange_type(dataclasses.replace(settings, password="wrong"), name) is None
        assert exchange_type(dataclasses.replace(settings, vhost="no-such"), name) is None
        connection.channel().exchange_delete(exchange=name)
    finally:
        connection.close()
    unreachable = ManagementSettings(url=f"http://127.0.0.1:{closed_port()}")
    assert exchange_type(unreachable, name) is None
