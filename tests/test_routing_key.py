"""The routing-key field beside the publish input: hidden on a fanout exchange,
shown on one that routes by key, remembered in the history with its message."""

from __future__ import annotations

import json
from pathlib import Path

import pika
import pytest
from helpers import running_app, until

from fanout_tui.model.history import Entry, History
from fanout_tui.ui.app import FanoutApp
from fanout_tui.ui.widgets.publish_input import PublishInput, RoutingKeyInput, routes_by_key

pytestmark = pytest.mark.timeout(60)


def keys_received(app: FanoutApp) -> list[str]:
    """The routing keys of what the first pane received, oldest first."""
    return [d.routing_key for d in app.panes[0].deliveries()]


def test_which_types_show_the_field() -> None:
    assert [t for t in ("fanout", "direct", "topic", "headers", "") if routes_by_key(t)] == [
        "direct",
        "topic",
        "headers",
    ]


def test_history_keeps_the_key_and_reads_old_files(tmp_path: Path) -> None:
    path = tmp_path / "history.txt"
    # A file as earlier versions wrote it: one JSON string per line.
    path.write_text(json.dumps("old one") + "\n" + json.dumps("old two") + "\n", encoding="utf-8")
    history = History(path)
    history.load()
    assert history.entries == [Entry("old one"), Entry("old two")]
    history.add("kern down", "kern.critical")
    history.add("plain")
    lines = path.read_text(encoding="utf-8").splitlines()
    # Without a key a line stays a plain string, so an older version still reads it.
    assert [json.loads(line) for line in lines[-2:]] == [
        {"text": "kern down", "routing_key": "kern.critical"},
        "plain",
    ]
    again = History(path)
    again.load()
    assert again.entries[-2:] == [Entry("kern down", "kern.critical"), Entry("plain")]
    assert again.previous() == Entry("plain")
    assert again.previous() == Entry("kern down", "kern.critical")
    assert again.next() == Entry("plain")
    assert again.next() == Entry("")  # past the newest: an empty input and key


def test_the_same_text_with_another_key_is_a_new_entry(tmp_path: Path) -> None:
    history = History(tmp_path / "h")
    history.add("x", "a")
    history.add("x", "a")
    history.add("x", "b")
    assert history.entries == [Entry("x", "a"), Entry("x", "b")]


def test_damaged_lines_cost_only_themselves(tmp_path: Path) -> None:
    path = tmp_path / "h"
    lines = ['"ok"', "{not json", '{"text": 5}', '{"routing_key": "k"}', '{"text": "t"}']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    history = History(path)
    history.load()
    assert history.entries == [Entry("ok"), Entry("t")]


async def test_the_key_field_stays_hidden_on_a_fanout(broker_url: str) -> None:
    async with running_app(broker_url, receivers=1) as (app, pilot):
        await until(pilot, lambda: app.dashboard.exchange_type == "fanout")
        await pilot.pause(1.2)  # a tick of _every_second, which would show it
        assert not app.query_one(RoutingKeyInput).display
        await pilot.click("#publish")
        await pilot.press(*"hello", "enter")
        await until(pilot, lambda: app.dashboard.history.entries[-1:] == [Entry("hello")])
        await until(pilot, lambda: keys_received(app) == [""])  # the tutorial's ""


async def test_the_key_field_shows_on_a_topic_exchange_and_history_recalls_it(
    broker_url: str, exchange: str, pika_connection: pika.BlockingConnection
) -> None:
    channel = pika_connection.channel()
    channel.exchange_declare(exchange=exchange, exchange_type="topic")
    try:
        async with running_app(broker_url, receivers=1, exchange=exchange) as (app, pilot):
            key_box = app.query_one(RoutingKeyInput)
            await until(pilot, lambda: key_box.display, what="the key field shown")
            assert app.dashboard.exchange_type == "topic"
            box = app.query_one(PublishInput)
            key_box.focus()
            await pilot.press(*"kern.critical")
            await pilot.press("enter")  # on to the message
            await until(pilot, lambda: app.focused is box)
            await pilot.press(*"disk full", "enter")
            await until(pilot, lambda: box.value == "")
            assert app.dashboard.history.entries[-1] == Entry("disk full", "kern.critical")
            key_box.value = "app.info"
            await pilot.press(*"started", "enter")
            # Published with each key: the pane (bound with '#') got both, as keyed.
            await until(pilot, lambda: keys_received(app) == ["kern.critical", "app.info"])
            key_box.value = ""
            await pilot.press("up")
            await until(pilot, lambda: box.value == "started")
            assert key_box.value == "app.info"
            await pilot.press("up")
            await until(pilot, lambda: box.value == "disk full")
            assert key_box.value == "kern.critical"
            await pilot.press("down", "down")
            await until(pilot, lambda: box.value == "" and key_box.value == "")
    finally:
        channel.exchange_delete(exchange=exchange)
