"""The body budget: a pane keeps whole bodies only for its newest, within a budget.

The bookkeeping is checked on its own (any sequence of bodies, Hypothesis);
the dashboard is checked with a real broker through Pilot: a pane fed more
than its budget keeps the newest bodies whole and the older ones as previews,
and the detail screen and the export say which were not kept.
"""

from __future__ import annotations

import json
from pathlib import Path

import pika
from helpers import running_app, until
from hypothesis import given, settings
from hypothesis import strategies as st
from textual.widgets import Static

from fanout_tui.model.body_budget import PREVIEW_BYTES, PREVIEW_CHARS, BodyBudget
from fanout_tui.model.delivery import Delivery
from fanout_tui.model.export import delivery_record
from fanout_tui.model.mailbox import Mailbox
from fanout_tui.present.text import sanitize
from fanout_tui.ui.app import FanoutApp
from fanout_tui.ui.screens.detail import MessageDetailScreen


def delivery(body: bytes, at: float = 1_700_000_000.0) -> Delivery:
    # Bookkeeping only: no AMQP is touched, so a record built by hand will do.
    return Delivery(body, pika.BasicProperties(), {}, at, "amq.gen-abc", "logs", "", False)


def body_of(size: int, tag: int) -> bytes:
    """``size`` bytes that start with ``tag``, so each body is told apart."""
    head = f"{tag:06d}:".encode()
    return (head + b"x" * size)[:size]


# The bookkeeping ----------------------------------------------------------------

LIMIT = 8 * PREVIEW_BYTES
sizes = st.integers(min_value=0, max_value=LIMIT * 2) | st.sampled_from(
    [0, PREVIEW_BYTES, PREVIEW_BYTES + 1, LIMIT - 1, LIMIT, LIMIT + 1]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(sizes, max_size=60), st.integers(min_value=0, max_value=LIMIT * 2))
def test_never_over_budget_and_the_newest_kept_whole_when_it_fits(
    body_sizes: list[int], limit: int
) -> None:
    budget = BodyBudget(limit)
    held: list[tuple[Delivery, bytes]] = []
    for tag, size in enumerate(body_sizes):
        whole = body_of(size, tag)
        got = budget.keep(delivery(whole))
        held.append((got, whole))
        # Never over budget, and the count matches the cells that still hold a body.
        assert budget.kept_bytes <= limit
        cells = [d.kept for d, _ in held if d.kept is not None]
        assert budget.kept_bytes == sum(c.size for c in cells if c.body is not None)
        assert budget.released == sum(c.body is None for c in cells)
        # The newest is kept whole whenever it alone fits (a short body always is).
        assert got.body_kept is (size <= PREVIEW_BYTES or size <= limit)
        # Every line keeps its preview and the whole size, kept or not.
        for d, body in held:
            assert d.size == len(body)
            assert d.body == body[:PREVIEW_BYTES]
            assert d.pinned().body == (body if d.body_kept else body[:PREVIEW_BYTES])
        # Newest first: what is kept is the newest that fit, with no gap, and the
        # newest body released (that could have fitted) would not fit beside them.
        counted = [d.kept for d, _ in held if d.kept is not None and d.kept.size <= limit]
        flags = [c.body is not None for c in counted]
        assert flags == sorted(flags)  # released ones, then kept ones
        released = [c for c in counted if c.body is None]
        if released:
            assert budget.kept_bytes + released[-1].size > limit


def test_a_body_larger_than_the_budget_is_not_kept_and_pushes_nothing_out() -> None:
    budget = BodyBudget(10 * PREVIEW_BYTES)
    small = budget.keep(delivery(body_of(3 * PREVIEW_BYTES, 1)))
    huge = budget.keep(delivery(body_of(11 * PREVIEW_BYTES, 2)))
    assert small.body_kept and not huge.body_kept
    assert huge.size == 11 * PREVIEW_BYTES and budget.released == 1
    assert budget.kept_bytes == 3 * PREVIEW_BYTES


def test_a_pinned_body_stays_whole_after_the_budget_releases_it() -> None:
    budget = BodyBudget(2 * PREVIEW_BYTES + 2)
    whole = body_of(PREVIEW_BYTES + 1, 1)
    first = budget.keep(delivery(whole))
    pinned = first.pinned()
    budget.keep(delivery(body_of(PREVIEW_BYTES + 2, 2)))  # first no longer fits
    assert not first.body_kept and first.pinned().body == whole[:PREVIEW_BYTES]
    assert pinned.body == whole and pinned.body_kept and pinned.size == len(whole)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=PREVIEW_BYTES + 1, max_size=PREVIEW_BYTES * 2))
def test_a_line_reads_the_same_from_the_preview(body: bytes) -> None:
    held = BodyBudget(0).keep(delivery(body))  # nothing kept: the preview only
    assert not held.body_kept
    assert sanitize(held.body, PREVIEW_CHARS, held.size) == sanitize(body, PREVIEW_CHARS)


def test_the_hand_off_holds_no_more_than_the_budget_while_nobody_drains() -> None:
    size = 10 * 1024
    mailbox = Mailbox(max_deliveries=1000, body_budget=4 * size)
    for tag in range(100):
        mailbox.put_delivery(delivery(body_of(size, tag)))
    pending = mailbox.drain_deliveries()
    assert mailbox.received == len(pending) == 100  # counts stay exact
    assert [d.body_kept for d in pending] == [False] * 96 + [True] * 4
    assert sum(len(d.pinned().body) for d in pending) == 96 * PREVIEW_BYTES + 4 * size


def test_without_a_budget_every_body_is_handed_over_whole() -> None:
    mailbox = Mailbox(max_deliveries=10)  # fanout-tui listen's
    whole = body_of(64 * 1024, 1)
    mailbox.put_delivery(delivery(whole))
    (got,) = mailbox.drain_deliveries()
    assert got.body == whole and got.kept is None and got.body_kept


def test_an_export_record_of_a_body_not_kept() -> None:
    whole = body_of(10 * 1024, 7)
    record = delivery_record(BodyBudget(1024).keep(delivery(whole)))
    assert record["body_kept"] is False and record["truncated"] is True
    assert record["size"] == len(whole)
    assert record["body"] == whole[:PREVIEW_BYTES].decode() and record["body_encoding"] == "utf-8"
    kept = delivery_record(BodyBudget(len(whole)).keep(delivery(whole)))
    assert kept["body_kept"] is True and kept["truncated"] is False
    assert kept["body"] == whole.decode()


# The dashboard, with a real broker ----------------------------------------------

BODY = 10 * 1024
BUDGET = 3 * BODY  # the newest three bodies whole
COUNT = 8


def bar_and_summary(app: FanoutApp) -> str:
    screen = app.screen
    assert isinstance(screen, MessageDetailScreen)
    text = " ".join(
        str(screen.query_one(f"#{name}", Static).render())
        for name in ("detail-body-bar", "detail-summary")
    )
    return " ".join(text.split())  # the summary pads its names


async def test_a_pane_over_its_budget_keeps_the_newest_bodies_whole(
    broker_url: str, exchange: str, pika_connection: pika.BlockingConnection, tmp_path: Path
) -> None:
    bodies = [body_of(BODY, tag) for tag in range(COUNT)]
    async with running_app(broker_url, receivers=1, exchange=exchange, body_budget=BUDGET) as (
        app,
        pilot,
    ):
        channel = pika_connection.channel()
        for body in bodies:
            channel.basic_publish(exchange=exchange, routing_key="", body=body)
        (pane,) = app.panes
        await until(pilot, lambda: pane.line_count == COUNT)
        assert pane.received == pane.mailbox.received == COUNT  # counts stay exact

        held = pane.deliveries()
        assert [d.body_kept for d in held] == [False] * (COUNT - 3) + [True] * 3
        assert [d.size for d in held] == [BODY] * COUNT
        assert [d.pinned().body for d in held[-3:]] == bodies[-3:]
        # Every line still shows its preview and the whole size.
        lines = pane.plain_lines()
        for tag, line in enumerate(lines):
            assert f"{tag:06d}:xxx" in line and "[10.0 KiB in all]" in line

        # The oldest line's details: not kept, its size, and the preview.
        pane.focus()
        await pilot.press(*["up"] * (COUNT + 1))  # from the newest up to the oldest
        assert pane.view.cursor_index == 0
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, MessageDetailScreen))
        await pilot.pause()
        text = bar_and_summary(app)
        note = "not kept (10.0 KiB; this pane keeps the newest 30.0 KiB of bodies)"
        assert f"Body {note} · preview, 1,204 B" in text  # the bar
        assert f"body {note}; the first 1,204 bytes are shown" in text  # the summary
        assert "size 10,240 bytes" in text
        screen = app.screen
        assert isinstance(screen, MessageDetailScreen)
        assert screen.body_view.row_text(0).startswith("000000:xxx")
        await pilot.press("escape")

        # The newest line's details: the whole body, nothing said of keeping.
        await pilot.press("end", "enter")  # nothing selected: the newest opens
        await until(pilot, lambda: isinstance(app.screen, MessageDetailScreen))
        await pilot.pause()
        assert "not kept" not in bar_and_summary(app)
        screen = app.screen
        assert isinstance(screen, MessageDetailScreen)
        assert screen.delivery.body == bodies[-1]
        await pilot.press("escape")

        # The export says the same, line by line.
        pane.focus()
        app.action_export()
        exports = tmp_path / "data" / "exports"
        await until(pilot, lambda: any(exports.glob("R1-*.jsonl")) if exports.exists() else False)
        await until(
            pilot, lambda: any("Exported 8 messages" in str(n.message) for n in app._notifications)
        )
        (path,) = exports.glob("R1-*.jsonl")
        records = [json.loads(line) for line in path.read_text().splitlines()]
        assert [r["body_kept"] for r in records] == [False] * (COUNT - 3) + [True] * 3
        assert [r["size"] for r in records] == [BODY] * COUNT
        assert [r["truncated"] for r in records] == [True] * (COUNT - 3) + [False] * 3
        assert records[0]["body"] == bodies[0][:PREVIEW_BYTES].decode()
        assert [r["body"] for r in records[-3:]] == [b.decode() for b in bodies[-3:]]
