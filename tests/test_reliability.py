"""Fault injection against real brokers: connections closed, nodes stopped,
killed and restarted, fail-over between two nodes, exchange and queue deleted
under the app, hostile input, and quitting in every state.

Nodes the tests stop or kill are private ones of their own (``fault_node``,
``second_fault_node``); the session's main node is only ever disrupted, never
stopped.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import pika
import pytest
from conftest import node_url
from helpers import queue_exists
from test_app import (
    SIZE,
    all_consuming,
    has_line,
    make_app,
    reached_all,
    result_text,
    type_and_publish,
    until,
    worker_threads,
)

from fanout_tui.model.states import WorkerState
from fanout_tui.settings import Settings
from fanout_tui.transport.broker import node_of
from fanout_tui.ui.app import FanoutApp
from fanout_tui.ui.widgets.publish_input import PublishInput

# Backoff tops out at 10 s and a restarted node takes a few seconds to listen.
RECOVERY = 40.0


async def restart_and_recover(pilot: Any, app: FanoutApp, node: Any) -> None:
    """Start ``node`` again and wait until every worker is back on it."""
    await asyncio.to_thread(node.start)
    await until(
        pilot,
        lambda: all_consuming(app) and app.dashboard.publisher.state.state is WorkerState.READY,
        timeout=RECOVERY,
    )


async def test_close_all_connections_then_everyone_reconnects(
    broker_url: str, exchange: str, broker_node: Any
) -> None:
    app = make_app(broker_url, exchange, receivers=3)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_consuming(app))
        await type_and_publish(pilot, "before the outage")
        await until(pilot, lambda: all(has_line(p, "before the outage") for p in app.panes))
        old_queues = {p.state.queue for p in app.panes}

        broker_node.rabbitctl_output("close_all_connections", "fault injection")
        await until(
            pilot, lambda: any(p.state.state is not WorkerState.CONSUMING for p in app.panes)
        )
        await until(
            pilot,
            lambda: all_consuming(app) and not ({p.state.queue for p in app.panes} & old_queues),
            timeout=5,
        )
        await until(
            pilot, lambda: app.dashboard.publisher.state.state is WorkerState.READY, timeout=5
        )
        for pane in app.panes:
            await until(pilot, lambda pane=pane: has_line(pane, "reconnected — new queue"))

        await type_and_publish(pilot, "after the outage")
        await until(pilot, lambda: all(has_line(p, "after the outage") for p in app.panes))
        assert all(p.received == 2 for p in app.panes)
    # The private node is still fine for the tests that follow.
    pika.BlockingConnection(pika.URLParameters(broker_url)).close()


@pytest.mark.timeout(180)
async def test_node_stopped_then_started_the_kept_message_is_sent(
    fault_node: Any, exchange: str
) -> None:
    app = make_app(node_url(fault_node), exchange, receivers=2)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_consuming(app), timeout=30)
        await asyncio.to_thread(fault_node.stop)
        await until(
            pilot,
            lambda: (
                app.dashboard.publisher.state.state is not WorkerState.READY
                and all(p.state.state is WorkerState.RECONNECTING for p in app.panes)
            ),
        )
        await type_and_publish(pilot, "kept while down")
        await until(pilot, lambda: "not sent" in result_text(app))
        box = app.query_one(PublishInput)
        assert box.value == "kept while down"
        assert app.is_running

        await restart_and_recover(pilot, app, fault_node)
        box.focus()
        await pilot.press("enter")  # the kept text, sent now
        await until(pilot, lambda: all(has_line(p, "kept while down") for p in app.panes))
        await until(pilot, lambda: reached_all(app))


@pytest.mark.timeout(180)
async def test_node_killed_then_restarted_the_app_recovers(fault_node: Any, exchange: str) -> None:
    app = make_app(node_url(fault_node), exchange, receivers=2)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_consuming(app), timeout=30)
        await asyncio.to_thread(fault_node.kill, True, signal.SIGKILL)
        await until(
            pilot, lambda: all(p.state.state is WorkerState.RECONNECTING for p in app.panes)
        )
        assert app.is_running
        await restart_and_recover(pilot, app, fault_node)
        await type_and_publish(pilot, "after the crash")
        await until(pilot, lambda: all(has_line(p, "after the crash") for p in app.panes))


@pytest.mark.timeout(180)
async def test_fail_over_to_the_second_node(
    fault_node: Any, second_fault_node: Any, exchange: str
) -> None:
    first, second = node_url(fault_node), node_url(second_fault_node)
    app = FanoutApp(Settings(urls=(first, second), exchange=exchange, receivers=3))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_consuming(app), timeout=30)
        assert all(node_of(p.state.url) == node_of(first) for p in app.panes)
        assert node_of(first) in str(app.panes[0].border_subtitle)

        await asyncio.to_thread(fault_node.stop)
        await until(
            pilot,
            lambda: (
                all_consuming(app)
                and all(node_of(p.state.url) == node_of(second) for p in app.panes)
                and app.dashboard.publisher.state.state is WorkerState.READY
            ),
            timeout=RECOVERY,
        )
        assert node_of(second) in app.dashboard.publisher.state.url
        await type_and_publish(pilot, "via the second node")
        await until(pilot, lambda: all(has_line(p, "via the second node") for p in app.panes))
        await until(pilot, lambda: node_of(second) in str(app.panes[0].border_subtitle))


async def test_exchange_deleted_under_the_app_is_declared_again(
    broker_url: str, exchange: str, pika_connection: pika.BlockingConnection
) -> None:
    app = make_app(broker_url, exchange, receivers=2)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_consuming(app))
        queues = [p.state.queue for p in app.panes]
        pika_connection.channel().exchange_delete(exchange=exchange)
        for pane in app.panes:
            await until(pilot, lambda pane=pane: has_line(pane, "was deleted"), timeout=10)
        assert [p.state.queue for p in app.panes] == queues  # same queues, bound again
        await type_and_publish(pilot, "after the delete")
        await until(pilot, lambda: all(has_line(p, "after the delete") for p in app.panes))
        await until(pilot, lambda: reached_all(app))


async def test_queue_deleted_by_an_operator_gets_a_new_queue(
    broker_url: str, exchange: str, broker_node: Any, pika_connection: pika.BlockingConnection
) -> None:
    app = make_app(broker_url, exchange, receivers=2)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_consuming(app))
        victim, other = app.panes
        old_queue = victim.state.queue
        await asyncio.to_thread(broker_node.rabbitctl_output, "delete_queue", old_queue)
        await until(
            pilot,
            lambda: (
                victim.state.state is WorkerState.CONSUMING
                and victim.state.queue not in ("", old_queue)
            ),
            timeout=15,
        )
        assert has_line(victim, "⚠ its queue was deleted (the broker cancelled the consumer)")
        assert has_line(victim, "its queue was deleted; declared a new one")
        # One line a person reads: no Python class name, and no disconnect that never was.
        assert not has_line(victim, "QueueCancelled")
        assert not has_line(victim, "disconnected")
        assert not queue_exists(pika_connection, old_queue)
        await type_and_publish(pilot, "after the queue went")
        await until(pilot, lambda: all(has_line(p, "after the queue went") for p in app.panes))
        assert other.received == 1


async def test_hostile_and_odd_input_is_shown_and_nothing_is_lost(
    broker_url: str, exchange: str, pika_connection: pika.BlockingConnection
) -> None:
    app = make_app(broker_url, exchange, receivers=2)
    big = b"B" * (10 * 1024 * 1024)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_consuming(app))
        channel = pika_connection.channel()
        channel.basic_publish(exchange=exchange, routing_key="", body=b"\xff\xfe\x00 not utf-8")
        channel.basic_publish(exchange=exchange, routing_key="", body=big)
        await until(pilot, lambda: all(p.received == 2 for p in app.panes), timeout=30)
        await until(pilot, lambda: all(has_line(p, "10.0 MiB in all") for p in app.panes))
        assert all(has_line(p, "\\xff\\xfe\\x00 not utf-8") for p in app.panes)
        assert max(len(line) for line in app.panes[0].plain_lines()) < 1000

        box = app.query_one(PublishInput)
        box.focus()
        box.value = "L" * 100_000
        await pilot.press("enter")
        await until(pilot, lambda: all(p.received == 3 for p in app.panes), timeout=30)
        await pilot.press("enter")  # empty: nothing is published...
        await type_and_publish(pilot, "   ")  # ...and whitespace is a message like any other,
        # so it is this app's #2 and the 4th to arrive
        await until(pilot, lambda: result_text(app).startswith('#2 "   " → 2/2 receivers'))
        assert all(p.received == 4 for p in app.panes)
        assert app.is_running


async def test_unwritable_data_dir_says_so_and_publishing_goes_on(
    broker_url: str, exchange: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_dir = tmp_path / "file-in-the-way"
    not_a_dir.write_text("")
    monkeypatch.setenv("FANOUT_TUI_DATA_DIR", str(not_a_dir / "data"))
    app = make_app(broker_url, exchange, receivers=1)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_consuming(app))
        await type_and_publish(pilot, "still published")
        await until(pilot, lambda: has_line(app.panes[0], "still published"))
        assert any("history not saved" in str(n.message) for n in app._notifications)
        await pilot.press("up")
        assert app.query_one(PublishInput).value == "still published"  # kept in memory


async def test_quit_while_reconnecting_is_quick(exchange: str) -> None:
    app = make_app("amqp://guest:guest@127.0.0.1:1/%2F", exchange, receivers=8)
    async with app.run_test(size=SIZE) as pilot:
        await until(
            pilot, lambda: all(p.state.state is WorkerState.RECONNECTING for p in app.panes)
        )
        started = time.monotonic()
        await pilot.press("ctrl+q")
    assert time.monotonic() - started < 2.0
    assert worker_threads() == []


async def test_quit_mid_burst_is_quick(broker_url: str, exchange: str) -> None:
    app = make_app(broker_url, exchange, receivers=8)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_consuming(app))
        connection = pika.BlockingConnection(pika.URLParameters(broker_url))
        channel = connection.channel()
        for i in range(5000):
            channel.basic_publish(exchange=exchange, routing_key="", body=f"m{i}".encode())
        connection.close()
        await until(pilot, lambda: sum(p.mailbox.received for p in app.panes) > 1000)
        started = time.monotonic()
        await pilot.press("ctrl+q")
    assert time.monotonic() - started < 2.0
    assert worker_threads() == []


async def test_exchange_replaced_with_another_type_is_reported(
    broker_url: str, exchange: str, pika_connection: pika.BlockingConnection
) -> None:
    app = make_app(broker_url, exchange, receivers=2)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_consuming(app))
        channel = pika_connection.channel()
        channel.exchange_delete(exchange=exchange)
        channel.exchange_declare(exchange=exchange, exchange_type="direct")
        for pane in app.panes:
            await until(
                pilot,
                lambda pane=pane: has_line(pane, "already exists as type 'direct'"),
                timeout=15,
            )
            assert pane.state.state is WorkerState.RECONNECTING  # and it keeps trying
        assert app.is_running
        # Put the fanout back: the receivers recover by themselves.
        channel.exchange_delete(exchange=exchange)
        await until(pilot, lambda: all_consuming(app), timeout=RECOVERY)
        await type_and_publish(pilot, "fanout again")
        await until(pilot, lambda: all(has_line(p, "fanout again") for p in app.panes))


async def test_tracking_counts_what_a_receiver_missed_when_its_queue_went(
    broker_url: str, exchange: str, broker_node: Any
) -> None:
    """Messages waiting in a paused receiver's queue die with the queue; once the
    receiver is back on a new queue, the pane and the delivery log say which."""
    app = make_app(broker_url, exchange, receivers=2)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_consuming(app))
        victim, other = app.panes
        app.toggle_pause(victim)
        await until(pilot, lambda: victim.state.state is WorkerState.PAUSED)
        for i in range(3):
            await type_and_publish(pilot, f"doomed {i}")
        await until(pilot, lambda: victim.state.waiting == 3)
        old_queue = victim.state.queue
        await asyncio.to_thread(broker_node.rabbitctl_output, "delete_queue", old_queue)
        # The depth check finds the queue gone; the receiver comes back paused
        # (as the user left it) on a new queue, and counts the loss.
        await until(
            pilot,
            lambda: victim.state.queue not in ("", old_queue) and victim.paused,
            timeout=15,
        )
        await until(
            pilot,
            lambda: has_line(
                victim, "missed 3 of this app's messages with its deleted queue (#1..#3)"
            ),
        )
        assert not has_line(victim, "disconnected")
        assert other.received == 3
        assert "R1 lost: its queue was gone before delivery" in result_text(app)
        app.toggle_pause(victim)
        await type_and_publish(pilot, "after")
        await until(pilot, lambda: has_line(victim, "after"))
        assert victim.received == 1
