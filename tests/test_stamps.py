"""Latency counts only this app's own stamps, against a real broker.

Any program can publish a header named ``x-fanout-sent-us``: a stamp that is
not this app's (another origin, or none) must not move a pane's latency, and
neither must one of ours that is in the future or absurdly old.
"""

from __future__ import annotations

import re
import time

import pika
from helpers import emit_log, running_app, until
from test_app import type_and_publish

from fanout_tui.model.delivery import ORIGIN_HEADER, SENT_HEADER, SEQ_HEADER
from fanout_tui.ui.widgets.receiver_pane import ReceiverPane

HOUR_US = 3600 * 1_000_000


def stats_text(pane: ReceiverPane) -> str:
    return str(pane.stats.render())


def last_latency_seconds(text: str) -> float:
    """The first figure of the stats line (``last 12 ms · p50 …``) in seconds."""
    match = re.match(r"\s*last ([\d,.]+) (ms|s) ·", text)
    assert match, text
    value = float(match.group(1).replace(",", ""))
    return value / 1000 if match.group(2) == "ms" else value


async def test_stamps_not_ours_or_out_of_bounds_never_count_toward_latency(
    broker_url: str,
) -> None:
    async with running_app(broker_url, receivers=1) as (app, pilot):
        pane = app.panes[0]
        exchange, origin = app.dashboard.broker.exchange, app.dashboard.origin
        now_us = int(time.time() * 1_000_000)
        stamps: list[dict[str, object]] = [
            {SENT_HEADER: 1},  # another program: one microsecond after the epoch
            {SENT_HEADER: now_us, ORIGIN_HEADER: "another-fanout-tui", SEQ_HEADER: 5},
            {SENT_HEADER: now_us + HOUR_US, ORIGIN_HEADER: origin},  # ours, from the future
            {SENT_HEADER: now_us - 2 * HOUR_US, ORIGIN_HEADER: origin},  # ours, too old
        ]
        for headers in stamps:
            emit_log(broker_url, exchange, "stamped", pika.BasicProperties(headers=headers))
        await until(pilot, lambda: pane.received == len(stamps))
        await pilot.pause(0.2)  # a paint or two
        assert "p50" not in stats_text(pane), stats_text(pane)
        assert pane.mailbox.recent_latencies() == []

        await type_and_publish(pilot, "ours")
        await until(pilot, lambda: pane.received == len(stamps) + 1)
        await until(pilot, lambda: "p99" in stats_text(pane))
        text = stats_text(pane)
        # Only our own message is in the window: last, p50 and p99 are all its latency.
        assert 0 <= last_latency_seconds(text) < 30, text
        assert len(pane.mailbox.recent_latencies()) == 1
