"""Broker resource alarms: a blocked publisher never says "not sent" for a message
that may have reached the broker; one typed once the block is known is not
written at all and stays in the input; a burst pauses, says why, and resumes.

Alarms are raised on a private node of the test's own (``fault_node``), with a
memory watermark no node can meet, and always lowered again; the shared broker's
settings are never touched.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pika
import pytest
from conftest import node_url
from helpers import wait_for
from test_app import (
    SIZE,
    all_consuming,
    has_line,
    make_app,
    reached_all,
    result_text,
    status_text,
    type_and_publish,
    until,
    worker_threads,
)
from textual.widgets import Input, Static

from fanout_tui import cli
from fanout_tui.cli import publish as cli_publish
from fanout_tui.ui.screens.forms import BurstScreen

pytestmark = pytest.mark.timeout(120)

WATERMARK = "0.4"  # RabbitMQ's default, restored after every test
BLOCKED_LONG = 12.0  # seconds: past BrokerSettings' blocked-connection timeout (>= 10 s)


def raise_alarm(node: Any) -> None:
    node.rabbitctl_output("set_vm_memory_high_watermark", "0.00001")


def clear_alarm(node: Any) -> None:
    node.rabbitctl_output("set_vm_memory_high_watermark", WATERMARK)


@contextlib.contextmanager
def memory_alarm(node: Any) -> Iterator[None]:
    raise_alarm(node)
    try:
        yield
    finally:
        clear_alarm(node)


async def test_a_message_written_before_the_block_is_held_then_delivered_once(
    fault_node: Any, exchange: str
) -> None:
    app = make_app(node_url(fault_node), exchange, receivers=2)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_consuming(app), timeout=30)
        await type_and_publish(pilot, "before the alarm")
        await until(pilot, lambda: reached_all(app))
        box = app.query_one("PublishInput")
        with memory_alarm(fault_node):
            # The broker blocks a connection when it next publishes: this one is
            # written, then held.
            await type_and_publish(pilot, "held one")
            await until(pilot, lambda: "held by the broker (low on memory)" in result_text(app))
            blocking = "broker is blocking publishers: low on memory"
            await until(pilot, lambda: blocking in status_text(app))
            assert "not sent" not in result_text(app)
            assert box.value == ""  # it was written: offering it again could duplicate it
            # A new message is not written to a blocked connection: honestly not sent.
            await type_and_publish(pilot, "while blocked")
            await until(pilot, lambda: "not sent: the broker is blocking" in result_text(app))
            assert box.value == "while blocked"
        # The alarm clears: the held message's confirm arrives and it is delivered, once.
        await until(pilot, lambda: all(has_line(p, "held one") for p in app.panes), timeout=30)
        box.value = ""
        await until(pilot, lambda: "● connected" in status_text(app))
        held = app.dashboard.tracker.get(2)
        assert held is not None
        await until(pilot, lambda: held.outcome.value == "routed", timeout=10)
        assert all(p.received == 2 for p in app.panes)


async def test_quit_while_blocked_is_quick(fault_node: Any, exchange: str) -> None:
    app = make_app(node_url(fault_node), exchange, receivers=1)
    with memory_alarm(fault_node):
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: all_consuming(app), timeout=30)
            await type_and_publish(pilot, "held at quit")
            await until(pilot, lambda: "held by the broker" in result_text(app))
            started = time.monotonic()
            await pilot.press("ctrl+q")
        assert time.monotonic() - started < 2.0
        assert worker_threads() == []


def test_cli_publish_held_by_an_alarm_exits_5_and_is_delivered_later(
    fault_node: Any,
    exchange: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = node_url(fault_node)
    listener = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = listener.channel()
        channel.exchange_declare(exchange, "fanout")
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, exchange)
        monkeypatch.setattr(cli_publish, "CONFIRM_WAIT", 1.0)
        with memory_alarm(fault_node):
            code = cli.main(["publish", "--url", url, "--exchange", exchange, "held from cli"])
        assert code == cli.EXIT_UNCONFIRMED
        err = capsys.readouterr().err
        assert "held by the broker (low on memory)" in err
        assert "not sent" not in err
        got: list[bytes] = []

        def arrived() -> bool:
            method, _props, body = channel.basic_get(queue, auto_ack=True)
            if method is not None:
                got.append(body)
            return bool(got)

        wait_for(arrived, timeout=20, interval=0.1)
        assert got == [b"held from cli"]
    finally:
        listener.close()


def lines_with(pane: Any, text: str) -> int:
    return sum(1 for line in pane.plain_lines() if text in line)


async def test_a_message_typed_while_blocked_stays_in_the_input_then_goes_once(
    fault_node: Any, exchange: str
) -> None:
    app = make_app(node_url(fault_node), exchange, receivers=2)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_consuming(app), timeout=30)
        box = app.query_one("PublishInput", Input)
        typed = "typed while blocked"
        with memory_alarm(fault_node):
            await type_and_publish(pilot, "tells the broker to block")  # written, held
            blocking = "broker is blocking publishers: low on memory"
            await until(pilot, lambda: blocking in status_text(app), timeout=30)
            await type_and_publish(pilot, typed)
            await until(pilot, lambda: "press Enter again once it clears" in result_text(app))
            assert result_text(app) == (
                f'"{typed}" not sent: the broker is blocking publishers (low on memory); '
                "press Enter again once it clears"
            )
            assert box.value == typed  # never left the input
            assert app.dashboard.tracker.get(2) is None  # never given a number: not written
        await until(pilot, lambda: "● connected" in status_text(app), timeout=30)
        await until(pilot, lambda: all(has_line(p, "tells the broker") for p in app.panes))
        assert not any(has_line(p, typed) for p in app.panes)
        box.focus()
        await pilot.press("enter")  # the same text, now that the alarm has cleared
        await until(pilot, lambda: all(has_line(p, typed) for p in app.panes), timeout=30)
        await until(pilot, lambda: reached_all(app))
        assert box.value == ""
        assert all(lines_with(p, typed) == 1 for p in app.panes)
        assert all(p.received == 2 for p in app.panes)


def burst_label(app: Any) -> str:
    return str(app.query_one("#burst-label", Static).render())


@pytest.mark.timeout(180)
async def test_a_burst_pauses_while_blocked_says_why_and_resumes_by_itself(
    fault_node: Any, exchange: str
) -> None:
    count = 10_000
    app = make_app(node_url(fault_node), exchange, receivers=2)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_consuming(app), timeout=30)
        await app.run_action("burst")
        await until(
            pilot,
            lambda: isinstance(app.screen, BurstScreen) and bool(app.screen.query("#burst-rate")),
        )
        app.screen.query_one("#burst-text", Input).value = "paced"
        app.screen.query_one("#burst-count", Input).value = str(count)
        rate = app.screen.query_one("#burst-rate", Input)
        rate.value = "1000"  # ten seconds at least, so the alarm comes mid-burst
        rate.focus()
        await pilot.press("enter")
        await until(pilot, lambda: app.dashboard.burst is not None)
        burst = app.dashboard.burst
        assert burst is not None
        await until(pilot, lambda: burst.sent >= 1_000, timeout=30)
        with memory_alarm(fault_node):
            await until(pilot, lambda: burst.blocked != "", timeout=30)
            blocked_at = time.monotonic()
            paused = "paused: the broker is blocking publishers (low on memory) · resumes by itself"
            await until(pilot, lambda: paused in burst_label(app))
            # The result line says why too, not a silent "publishing…".
            await until(
                pilot,
                lambda: (
                    "(paused: the broker is blocking publishers (low on memory)" in result_text(app)
                ),
            )
            assert burst_label(app).startswith(f"burst {burst.sent:,}/{count:,} · ")
            # All of it on screen: the paused bar gives the reason the whole row.
            await until(
                pilot,
                lambda: app.query_one("#burst-label").size.width >= len(burst_label(app)),
            )
            # The header says it too, though only the burst's connection was told.
            blocking = "broker is blocking publishers: low on memory"
            await until(pilot, lambda: blocking in status_text(app))
            # No further batch goes out while blocked.
            stopped_at = burst.sent
            await pilot.pause(2.0)
            assert burst.sent == stopped_at < count
            assert not burst.done and burst.error is None
            # A message typed meanwhile is not written either.
            await type_and_publish(pilot, "during the paused burst")
            await until(pilot, lambda: "press Enter again once it clears" in result_text(app))
            assert app.query_one("PublishInput", Input).value == "during the paused burst"
            # Longer than pika's blocked-connection timeout (at least 10 s) would
            # allow: the burst waits a block out, however long.
            await pilot.pause(max(0.0, BLOCKED_LONG - (time.monotonic() - blocked_at)))
            assert not burst.done and burst.error is None and burst.blocked
        await until(pilot, lambda: burst.blocked == "", timeout=30)
        await until(pilot, lambda: "Escape cancels" in burst_label(app) or burst.done)
        await until(pilot, lambda: burst.done, timeout=90)
        assert burst.error is None and burst.sent == count and burst.unroutable == 0
        await until(pilot, lambda: all(p.received == count for p in app.panes), timeout=60)
        record = app.dashboard.tracker.bursts[-1]
        assert all(record.got.get(p.number, 0) == count for p in app.panes)
        await pilot.pause(0.5)  # nothing more arrives: each pane got each copy once
        assert all(p.received == count for p in app.panes)
        assert "● connected" in status_text(app)


@pytest.mark.timeout(150)
async def test_a_burst_started_during_an_alarm_says_why_it_waits_then_goes_on(
    fault_node: Any, exchange: str
) -> None:
    """The issue's case: the alarm is on before the burst starts, and the broker
    tells the burst's connection only once its first batch (500) is written.
    Neither the bar nor the result line may sit at a silent `publishing…`."""
    count = 2_000
    app = make_app(node_url(fault_node), exchange, receivers=1)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_consuming(app), timeout=30)
        with memory_alarm(fault_node):
            await app.run_action("burst")
            await until(
                pilot,
                lambda: (
                    isinstance(app.screen, BurstScreen) and bool(app.screen.query("#burst-rate"))
                ),
            )
            app.screen.query_one("#burst-count", Input).value = str(count)
            app.screen.query_one("#burst-rate", Input).focus()
            await pilot.press("enter")
            await until(pilot, lambda: app.dashboard.burst is not None)
            burst = app.dashboard.burst
            assert burst is not None
            started = time.monotonic()
            paused = "paused: the broker is blocking publishers (low on memory)"
            await until(pilot, lambda: paused in result_text(app), timeout=10)
            await until(pilot, lambda: paused in burst_label(app), timeout=5)
            assert time.monotonic() - started < 10.0
            assert "publishing…" not in result_text(app)
            assert burst.sent == 500 and not burst.done  # the first batch, then no more
            await pilot.pause(BLOCKED_LONG)  # a long block: still paused, still saying why
            assert paused in result_text(app) and paused in burst_label(app)
            assert not burst.done and burst.error is None and burst.sent == 500
        await until(pilot, lambda: burst.done, timeout=60)
        assert (burst.error, burst.sent, burst.unroutable) == (None, count, 0)
        await until(pilot, lambda: app.panes[0].received == count, timeout=60)
        await until(pilot, lambda: f"{count:,}/{count:,} sent" in result_text(app))
        assert "paused" not in result_text(app) and "connection lost" not in result_text(app)
