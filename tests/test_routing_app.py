"""Routing in the dashboard: the tutorials' topic patterns on three panes, and
who was expected to get each message against who did (a real broker)."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pika
import pytest
from helpers import running_app, until
from test_app import has_line, result_text, status_text
from test_broadcast_view import fill_burst_form
from textual import events
from textual.widgets import Input, Label

from fanout_tui.model.receiver_spec import parse_spec
from fanout_tui.model.states import WorkerState
from fanout_tui.transport.stamps import MessageProperties
from fanout_tui.ui.app import FanoutApp
from fanout_tui.ui.screens.bindings import BindingsScreen
from fanout_tui.ui.screens.forms import BurstScreen
from fanout_tui.ui.widgets.publish_input import PublishInput, RoutingKeyInput

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def topic_exchange(pika_connection: pika.BlockingConnection, exchange: str) -> Iterator[str]:
    """An existing topic exchange, as the tutorial's emit_log_topic.py declares it."""
    channel = pika_connection.channel()
    channel.exchange_declare(exchange=exchange, exchange_type="topic")
    yield exchange
    channel.exchange_delete(exchange=exchange)


def patterns(*keys: str) -> dict[str, Any]:
    specs = tuple(parse_spec(f"exclusive:keys={k}") for k in keys)
    return {"receivers": len(specs), "receiver_specs": specs}


async def publish_keyed(app: FanoutApp, pilot: Any, key: str, text: str) -> None:
    app.query_one(RoutingKeyInput).value = key
    box = app.query_one(PublishInput)
    box.focus()
    box.value = text
    await pilot.press("enter")
    await until(pilot, lambda: box.value == "", what=f"{text!r} taken")


def keys_of(pane: Any) -> list[str]:
    return [d.routing_key for d in pane.deliveries()]


async def test_the_tutorials_topic_patterns_expected_against_actual(
    broker_url: str, topic_exchange: str
) -> None:
    kinds = patterns("kern.*", "*.critical", "app.*")
    async with running_app(broker_url, exchange=topic_exchange, **kinds) as (app, pilot):
        kern, critical, apps = app.panes
        await until(pilot, lambda: "(topic)" in status_text(app), what="the header names topic")
        await until(pilot, lambda: "kern.*" in str(kern.border_title))
        assert "*.critical" in str(critical.border_title)

        await publish_keyed(app, pilot, "kern.critical", "disk on fire")
        await until(
            pilot,
            lambda: (
                result_text(app).startswith('#1 kern.critical "disk on fire" → 2/2 expected')
                and "(R1 kern.*, R2 *.critical) · R3 not matching (app.*)" in result_text(app)
            ),
            what="kern.critical expected by R1 and R2",
        )
        await publish_keyed(app, pilot, "kern.info", "booted")
        await until(
            pilot,
            lambda: result_text(app).startswith('#2 kern.info "booted" → 1/1 expected'),
        )
        await publish_keyed(app, pilot, "app.critical", "oom")
        await until(pilot, lambda: '#3 app.critical "oom" → 2/2 expected' in result_text(app))
        assert keys_of(kern) == ["kern.critical", "kern.info"]
        assert keys_of(critical) == ["kern.critical", "app.critical"]
        assert keys_of(apps) == ["app.critical"]

        await publish_keyed(app, pilot, "x.y", "nobody")
        await until(
            pilot,
            lambda: (
                "unroutable" in result_text(app)
                and "no binding matches routing key 'x.y'" in result_text(app)
            ),
        )


async def test_editing_a_panes_bindings_moves_what_it_gets_on_the_same_queue(
    broker_url: str, topic_exchange: str
) -> None:
    async with running_app(broker_url, exchange=topic_exchange, **patterns("a.*")) as (
        app,
        pilot,
    ):
        [pane] = app.panes
        queue = pane.state.queue
        await publish_keyed(app, pilot, "a.one", "first")
        await until(pilot, lambda: keys_of(pane) == ["a.one"])
        receiver = pane.receiver
        app.dashboard.edit_bindings(receiver, receiver.spec.with_bindings(("b.#",), "all", ()))
        await until(pilot, lambda: has_line(pane, "bindings now"), what="the edit applied")
        await publish_keyed(app, pilot, "a.two", "not any more")
        await publish_keyed(app, pilot, "b.x.y", "now this")
        await until(pilot, lambda: keys_of(pane) == ["a.one", "b.x.y"])
        assert pane.state.queue == queue  # the same queue, re-bound
        assert "b.#" in str(pane.border_title)


async def test_on_a_direct_exchange_a_pane_without_keys_says_what_it_gets(
    broker_url: str, pika_connection: pika.BlockingConnection, exchange: str
) -> None:
    """The tutorial's severities: R1 binds info and warning; R2 gives no key, so
    it is bound with the empty key and says so."""
    channel = pika_connection.channel()
    channel.exchange_declare(exchange=exchange, exchange_type="direct")
    specs = (parse_spec("exclusive:keys=info;warning"), parse_spec("exclusive"))
    try:
        async with running_app(
            broker_url, exchange=exchange, receivers=2, receiver_specs=specs
        ) as (app, pilot):
            severities, bare = app.panes
            assert has_line(bare, "no key given: bound with the empty key")
            await publish_keyed(app, pilot, "warning", "low disk")
            await until(
                pilot,
                lambda: (
                    '#1 warning "low disk" → 1/1 expected' in result_text(app)
                    and "R2 not matching ('')" in result_text(app)
                ),
            )
            await publish_keyed(app, pilot, "", "no severity")
            await until(pilot, lambda: keys_of(bare) == [""])
            assert keys_of(severities) == ["warning"]
    finally:
        channel.exchange_delete(exchange=exchange)


def _api(api_url: str, method: str, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        f"{api_url}{path}",
        data=json.dumps(body).encode(),
        method=method,
        headers={
            "Authorization": "Basic " + base64.b64encode(b"guest:guest").decode(),
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=5):
        pass


async def test_a_user_who_may_not_declare_learns_the_type_from_the_management_api(
    management_node: Any,
) -> None:
    """Over AMQP only a declare tells the type, and this user may not declare
    the exchange (configure on server-named queues only): the header still
    names its type, from the management API."""
    exchange = f"locked-{uuid.uuid4().hex[:8]}"
    user = f"locked-{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.URLParameters(management_node.amqp_url))
    connection.channel().exchange_declare(exchange=exchange, exchange_type="topic")
    api = management_node.api_url
    _api(api, "PUT", f"/api/users/{user}", {"password": "pw", "tags": "management"})
    _api(
        api,
        "PUT",
        f"/api/permissions/%2F/{user}",
        {"configure": r"^amq\.gen.*", "write": ".*", "read": ".*"},
    )
    port = urlsplit(management_node.amqp_url).port
    url = f"amqp://{user}:pw@127.0.0.1:{port}/%2F"
    try:
        async with running_app(
            url,
            exchange=exchange,
            receivers=1,
            management_url=f"http://{user}:pw@127.0.0.1:{urlsplit(api).port}",
        ) as (app, pilot):
            assert app.dashboard.publisher.exchange_type == ""  # AMQP would not say
            await until(pilot, lambda: "(topic)" in status_text(app), what="the API's type")
            assert app.dashboard.exchange_type == "topic"
    finally:
        connection.channel().exchange_delete(exchange=exchange)
        connection.close()
        _api(api, "DELETE", f"/api/users/{user}", {})


async def test_a_routing_key_over_255_bytes_is_refused_and_nothing_else_is_affected(
    broker_url: str, topic_exchange: str
) -> None:
    kinds = patterns("a.*", "b.*")
    async with running_app(broker_url, exchange=topic_exchange, **kinds) as (app, pilot):
        first, _ = app.panes
        await until(pilot, lambda: "(topic)" in status_text(app), what="the header names topic")
        app.query_one(RoutingKeyInput).value = "a." + "x" * 254  # 256 bytes
        box = app.query_one(PublishInput)
        box.focus()
        box.value = "too long a key"
        await pilot.press("enter")
        await until(
            pilot,
            lambda: "the routing key is 256 bytes; AMQP allows at most 255" in result_text(app),
            what="the long key refused with the reason",
        )
        # The broker had no part in it: the line says what is wrong, not a block.
        assert result_text(app) == (
            '"too long a key" not sent: the routing key is 256 bytes; AMQP allows at most 255 '
            "(nothing was written; the message stays in the input)"
        )
        assert "blocking" not in status_text(app)
        assert box.value == "too long a key"  # the text stays, to be sent with a valid key
        assert app.dashboard.publisher.state.state is WorkerState.READY
        # The same text with a valid key goes, and so does everything after it.
        await publish_keyed(app, pilot, "a.x", "too long a key")
        await until(pilot, lambda: [d.body for d in first.deliveries()] == [b"too long a key"])
        await until(pilot, lambda: "1/1 expected" in result_text(app))
        await publish_keyed(app, pilot, "a.y", "next")
        await until(pilot, lambda: len(first.deliveries()) == 2)
        assert app.dashboard.publisher.state.state is WorkerState.READY


async def test_a_burst_publishes_with_the_key_field_s_key_and_says_who_does_not_match(
    broker_url: str, topic_exchange: str
) -> None:
    kinds = patterns("a.*", "b.*")
    async with running_app(broker_url, exchange=topic_exchange, **kinds) as (app, pilot):
        matching, other = app.panes
        await until(pilot, lambda: "(topic)" in status_text(app), what="the header names topic")
        app.query_one(RoutingKeyInput).value = "a.x"
        app.action_burst()
        await until(pilot, lambda: isinstance(app.screen, BurstScreen) and app.screen.is_mounted)
        form = app.screen
        shown = str(form.query_one("#burst-key", Label).render())
        assert "Routing key: 'a.x', from the key field" in shown
        form.query_one("#burst-count", Input).value = "300"
        app.post_message(events.Key("enter", None))
        await until(pilot, lambda: app.screen is not form)
        await until(pilot, lambda: app.dashboard.burst is None, 60)
        await until(pilot, lambda: matching.received == 300, 30)
        await until(
            pilot,
            lambda: (
                "R1 300/300" in result_text(app) and "R2 not matching (b.*)" in result_text(app)
            ),
            what="the burst's summary",
        )
        assert "unroutable" not in result_text(app)
        assert "R2 0/" not in result_text(app)
        assert all(d.routing_key == "a.x" for d in matching.deliveries())
        assert other.received == 0


async def test_without_the_api_the_bindings_screen_shows_the_keys_the_broker_has(
    broker_url: str, broker_node: Any, topic_exchange: str
) -> None:
    kinds = patterns("kern.*;*.critical", "app.*")
    async with running_app(broker_url, exchange=topic_exchange, **kinds) as (app, pilot):
        await until(pilot, lambda: "(topic)" in status_text(app), what="the header names topic")
        await pilot.press("ctrl+b")
        screen = app.screen
        assert isinstance(screen, BindingsScreen)
        await until(pilot, lambda: screen.refreshes >= 1)
        assert "not reachable" in screen.note and "not visible" in screen.note
        listing = await asyncio.to_thread(
            broker_node.rabbitctl_output,
            "list_bindings",
            "source_name",
            "destination_name",
            "routing_key",
            "--quiet",
            "--no-table-headers",
        )
        on_broker = {
            tuple(line.split("\t")[1:3])
            for line in str(listing).splitlines()
            if line.split("\t")[0] == topic_exchange
        }
        shown = {(row[1], row[2]) for row in screen.rows}
        assert len(on_broker) == 3
        assert shown == on_broker


def queue_keys(node: Any, exchange: str, queue: str) -> set[str]:
    """The routing keys ``queue`` is bound to ``exchange`` with, as rabbitmqctl says."""
    listing = node.rabbitctl_output(
        "list_bindings",
        "source_name",
        "destination_name",
        "routing_key",
        "--quiet",
        "--no-table-headers",
    )
    rows = [line.split("\t") for line in str(listing).splitlines()]
    return {row[2] for row in rows if row[:2] == [exchange, queue]}


async def test_an_edit_on_one_pane_of_a_work_queue_is_the_queue_s_and_every_title_says_so(
    broker_url: str, broker_node: Any, topic_exchange: str
) -> None:
    name = f"jobs-{uuid.uuid4().hex[:8]}"
    specs = tuple(parse_spec(f"shared:name={name},keys=a.*") for _ in range(2))
    kinds = {"receivers": 2, "receiver_specs": specs}
    async with running_app(broker_url, exchange=topic_exchange, **kinds) as (app, pilot):
        first, second = app.panes
        assert await asyncio.to_thread(queue_keys, broker_node, topic_exchange, name) == {"a.*"}
        receiver = first.receiver
        app.dashboard.edit_bindings(receiver, receiver.spec.with_bindings(("b.*",), "all", ()))
        await until(
            pilot, lambda: has_line(first, "bindings now") and has_line(second, "bindings now")
        )
        # Longer than a topology check: no pane binds back what the queue no longer has.
        await pilot.pause(4.0)
        assert await asyncio.to_thread(queue_keys, broker_node, topic_exchange, name) == {"b.*"}
        for pane in (first, second):
            assert "b.*" in str(pane.border_title) and "a.*" not in str(pane.border_title)
        await publish_keyed(app, pilot, "b.x", "to the queue")
        await until(pilot, lambda: len(first.deliveries()) + len(second.deliveries()) == 1)


async def test_a_key_or_a_message_utf8_cannot_carry_is_refused_and_nothing_else_is_affected(
    broker_url: str, topic_exchange: str
) -> None:
    """A lone surrogate (a browser session can send one) has no UTF-8 form: the
    key or the message is refused before it is written, with the reason, and the
    publisher goes on (it used to end the publisher thread, or the app)."""
    kinds = patterns("a.*")
    async with running_app(broker_url, exchange=topic_exchange, **kinds) as (app, pilot):
        [pane] = app.panes
        await until(pilot, lambda: "(topic)" in status_text(app), what="the header names topic")
        key = app.query_one(RoutingKeyInput)
        box = app.query_one(PublishInput)
        key.value = "a.\ud800"
        box.focus()
        box.value = "bad key"
        await pilot.press("enter")
        await until(
            pilot,
            lambda: "not sent: the routing key has a character UTF-8" in result_text(app),
            what="the key refused",
        )
        assert "'\\ud800' at position 3" in result_text(app)
        assert box.value == "bad key" and key.value == "a.\ud800"
        key.value = "a.x"
        box.value = "bad text \udce9"
        await pilot.press("enter")
        await until(
            pilot,
            lambda: "not sent: the message has a character UTF-8 cannot carry" in result_text(app),
            what="the text refused",
        )
        assert box.value == "bad text \udce9"
        assert app.dashboard.publisher.state.state is WorkerState.READY
        await publish_keyed(app, pilot, "a.x", "after them")
        await until(pilot, lambda: [d.body for d in pane.deliveries()] == [b"after them"])
        await until(pilot, lambda: "1/1 expected" in result_text(app))
        assert app.dashboard.publisher.state.state is WorkerState.READY


async def test_a_burst_says_not_matching_for_a_work_queue_its_key_does_not_match(
    broker_url: str, topic_exchange: str
) -> None:
    """A work queue's panes are one receiver: one its key does not match is
    `not matching`, as a single pane is, never `0/300`, which reads as loss."""
    name = f"jobs-{uuid.uuid4().hex[:8]}"
    specs = (
        parse_spec("exclusive:keys=a.*"),
        *(parse_spec(f"shared:name={name},keys=b.*") for _ in range(2)),
    )
    kinds = {"receivers": 3, "receiver_specs": specs}
    async with running_app(broker_url, exchange=topic_exchange, **kinds) as (app, pilot):
        matching, *workers = app.panes
        await until(pilot, lambda: "(topic)" in status_text(app), what="the header names topic")
        app.query_one(RoutingKeyInput).value = "a.x"
        await fill_burst_form(pilot, app, "300")
        await until(pilot, lambda: app.dashboard.burst is None, 60)
        await until(pilot, lambda: matching.received == 300, 30)
        await until(
            pilot,
            lambda: (
                "R1 300/300" in result_text(app)
                and f"work queue {name!r} not matching (b.*)" in result_text(app)
            ),
            what="the burst's summary",
        )
        assert " 0/" not in result_text(app)  # no count that reads as loss
        assert all(w.received == 0 for w in workers)


async def test_a_burst_on_a_headers_exchange_carries_the_key_the_field_shows(
    broker_url: str, pika_connection: pika.BlockingConnection, exchange: str
) -> None:
    """The key field shows on every type but fanout; a burst goes out with the
    key it shows, and its form says so, as on a topic exchange (it sent '')."""
    channel = pika_connection.channel()
    channel.exchange_declare(exchange=exchange, exchange_type="headers")
    try:
        kinds = {"receivers": 1, "receiver_specs": (parse_spec("exclusive:h.team=ops"),)}
        async with running_app(broker_url, exchange=exchange, **kinds) as (app, pilot):
            [pane] = app.panes
            await until(pilot, lambda: "(headers)" in status_text(app), what="headers")
            key = app.query_one(RoutingKeyInput)
            await until(pilot, lambda: key.display, what="the key field")
            key.value = "a.x"
            app.dashboard.set_properties(MessageProperties(headers={"team": "ops"}))
            app.action_burst()
            await until(
                pilot, lambda: isinstance(app.screen, BurstScreen) and app.screen.is_mounted
            )
            form = app.screen
            shown = str(form.query_one("#burst-key", Label).render())
            assert "Routing key: 'a.x', from the key field" in shown
            form.query_one("#burst-count", Input).value = "50"
            app.post_message(events.Key("enter", None))
            await until(pilot, lambda: app.screen is not form)
            await until(pilot, lambda: app.dashboard.burst is None, 60)
            await until(pilot, lambda: pane.received == 50, 30)
            assert set(keys_of(pane)) == {"a.x"}
    finally:
        channel.exchange_delete(exchange=exchange)
