"""Each copy has one fate: what a limited pane's queue threw away is counted once,
with its true cause, and a pane's count and depth never add up to more than
was published.

In the dashboard under Pilot, on a real broker; a private node of the test's own
where it pulls every connection.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pika
import pytest
from conftest import node_url
from helpers import running_app, until
from test_app import has_line, result_text, type_and_publish
from test_kinds_app import bodies, specs

from fanout_tui.control.dashboard import QueueDepth
from fanout_tui.model.states import WorkerState

pytestmark = pytest.mark.timeout(180)


def missed_lines(pane: Any) -> list[str]:
    return [line for line in pane.plain_lines() if "missed" in line]


async def test_copies_a_bounded_queue_dropped_are_not_missed_again_after_a_reconnect(
    fault_node: Any, exchange: str
) -> None:
    url = node_url(fault_node)
    kinds = specs("exclusive", "exclusive:max-length=10")
    async with running_app(url, exchange=exchange, timeout=60, **kinds) as (app, pilot):
        full, bounded = app.panes
        app.toggle_pause(bounded)
        await until(pilot, lambda: bounded.state.state is WorkerState.PAUSED)
        for n in range(1, 31):
            await type_and_publish(pilot, f"m{n}")
        await until(pilot, lambda: len(bodies(full)) == 30)
        app.toggle_pause(bounded)
        await until(pilot, lambda: len(bodies(bounded)) == 10, 20)
        dropped = "dropped by the broker: 20 (max-length 10, drop-head)"
        await until(pilot, lambda: dropped in bounded.stats.render().plain, 10)

        await asyncio.to_thread(fault_node.rabbitctl_output, "close_all_connections", "test")
        await until(pilot, lambda: has_line(bounded, "reconnected — new queue"), 40)
        await until(pilot, lambda: bounded.state.state is WorkerState.CONSUMING, 40)
        # Nothing was published while it was down and nothing waited in its
        # queue: the 20 the broker dropped are not missed a second time.
        assert missed_lines(bounded) == []
        assert dropped in bounded.stats.render().plain


async def test_a_paused_ttl_pane_says_expired_once_the_ttl_has_passed(
    fault_node: Any, exchange: str
) -> None:
    url = node_url(fault_node)
    kinds = specs("exclusive", "exclusive:ttl=1s")
    async with running_app(url, exchange=exchange, timeout=60, **kinds) as (app, pilot):
        full, short = app.panes
        app.toggle_pause(short)
        await until(pilot, lambda: short.state.state is WorkerState.PAUSED)
        await type_and_publish(pilot, "brief")
        await until(pilot, lambda: "R2 paused, waiting in its queue" in result_text(app))
        # No later message comes to prove it: the ttl passing is enough.
        await until(pilot, lambda: "R2 expired in its queue (ttl 1s)" in result_text(app), 10)
        assert "waiting in its queue" not in result_text(app)
        await until(pilot, lambda: "expired: 1 (ttl 1s)" in short.stats.render().plain, 5)

        # Its connection pulled: the copy that expired is not missed as well.
        await asyncio.to_thread(fault_node.rabbitctl_output, "close_all_connections", "test")
        await until(pilot, lambda: has_line(short, "reconnected — new queue"), 40)
        assert missed_lines(short) == []
        assert "expired: 1 (ttl 1s)" in short.stats.render().plain
        assert bodies(full) == ["brief"]


async def test_count_and_depth_never_add_up_to_more_than_was_published(
    broker_url: str, exchange: str
) -> None:
    total = 1500
    kinds = specs("durable:name=slow-depth,prefetch=1,delay=2ms")
    async with running_app(broker_url, exchange=exchange, **kinds) as (app, pilot):
        [pane] = app.panes
        connection = pika.BlockingConnection(pika.URLParameters(broker_url))
        try:
            channel = connection.channel()
            for n in range(total):
                channel.basic_publish(exchange=exchange, routing_key="", body=f"d{n}".encode())
        finally:
            connection.close()
        worst = 0
        seen_depth = threading.Event()

        def check() -> bool:
            nonlocal worst
            if pane.depth:
                seen_depth.set()
                worst = max(worst, pane.received + pane.depth)
            return pane.received == total

        await until(pilot, check, 60, interval=0.02)
        assert seen_depth.is_set(), "the pane never showed its queue's depth"
        assert worst <= total, f"count + depth reached {worst:,} of {total:,} published"

        # A reading that missed a round says how old it is.
        pane.set_depth(QueueDepth(7, 2.4, pane.mailbox.received))
        pane.paint()
        assert "7 queued (2 s ago)" in str(pane.border_subtitle)
        pane.set_depth(QueueDepth(7, 0.3, pane.mailbox.received))
        pane.paint()
        assert "7 queued" in str(pane.border_subtitle)
        assert "ago" not in str(pane.border_subtitle)
