"""Broker resource alarms: a blocked publisher never says "not sent" for a message
that may have reached the broker.

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

from fanout_tui import cli

pytestmark = pytest.mark.timeout(120)

WATERMARK = "0.4"  # RabbitMQ's default, restored after every test


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
        monkeypatch.setattr(cli, "CONFIRM_WAIT", 1.0)
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
