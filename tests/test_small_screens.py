"""Resizes and small terminals: a following pane keeps following, and 8 panes
at 80x24 stay readable. Real broker, real panes under Pilot."""

from __future__ import annotations

from helpers import emit_log, running_app, until
from hypothesis import given
from hypothesis import strategies as st

from fanout_tui.ui.app import FanoutApp
from fanout_tui.ui.widgets.receiver_pane import ReceiverPane
from fanout_tui.ui.widgets.status_line import fit_status


def shows_newest(pane: ReceiverPane) -> bool:
    """The pane's newest line is on screen: it follows."""
    view = pane.view
    height = view.scrollable_content_region.height
    return bool(view.lines) and round(view.scroll_y) + height >= len(view.lines)


def last_line(pane: ReceiverPane) -> str:
    return pane.plain_lines()[-1] if pane.line_count else ""


async def fill(app: FanoutApp, pilot, url: str, count: int) -> None:  # type: ignore[no-untyped-def]
    exchange = app.dashboard.broker.exchange
    before = [p.received for p in app.panes]
    for n in range(count):
        emit_log(url, exchange, f"line {n}")
    await until(pilot, lambda: [p.received for p in app.panes] == [b + count for b in before])


async def test_panes_keep_following_through_a_terminal_resize(broker_url: str) -> None:
    async with running_app(broker_url, receivers=8, size=(160, 48)) as (app, pilot):
        await fill(app, pilot, broker_url, 40)
        await until(pilot, lambda: all(shows_newest(p) for p in app.panes))
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        await fill(app, pilot, broker_url, 1)
        await until(pilot, lambda: all(shows_newest(p) for p in app.panes), what="following")
        await pilot.resize_terminal(160, 48)
        await fill(app, pilot, broker_url, 1)
        await until(pilot, lambda: all(shows_newest(p) for p in app.panes), what="following")


async def test_panes_keep_following_as_panes_come_and_go(broker_url: str) -> None:
    async with running_app(broker_url, receivers=2, size=(120, 30)) as (app, pilot):
        await fill(app, pilot, broker_url, 40)
        for _ in range(4):
            await pilot.press("ctrl+n")
        await until(pilot, lambda: len(app.panes) == 6)
        for _ in range(3):
            await pilot.press("ctrl+r")
        await until(pilot, lambda: len(app.panes) == 3)
        await fill(app, pilot, broker_url, 1)
        first = app.panes[0]
        await until(pilot, lambda: shows_newest(first), what="the first pane following")


async def test_a_pane_scrolled_up_stays_where_it_was(broker_url: str) -> None:
    async with running_app(broker_url, receivers=1, size=(100, 30)) as (app, pilot):
        await fill(app, pilot, broker_url, 60)
        (pane,) = app.panes
        pane.focus()
        await pilot.press("home")
        await pilot.resize_terminal(90, 26)
        await fill(app, pilot, broker_url, 1)
        assert pane.view.scroll_y == 0
        await pilot.press("end")
        await until(pilot, lambda: shows_newest(pane))


async def test_eight_panes_at_80x24_show_bodies_and_the_header_keeps_the_state(
    broker_url: str,
) -> None:
    long_exchange = "orders.eu-west.production.fanout.audit." + "x" * 40
    async with running_app(broker_url, receivers=8, size=(80, 24), exchange=long_exchange) as (
        app,
        pilot,
    ):
        emit_log(broker_url, long_exchange, "hello, fanout")
        await until(pilot, lambda: all(p.received == 1 for p in app.panes))
        await until(pilot, lambda: all("hello, fanout" in last_line(p) for p in app.panes))
        await until(pilot, lambda: "● connected" in str(app.query_one("#status").render()))
        status = str(app.query_one("#status").render())
        assert "8/8 consuming" in status
        assert "…" in status  # the names gave way, not the state
        title = str(app.panes[0].border_title)
        assert title.startswith("R1 · amq.") and "…" in title


async def test_a_reason_longer_than_the_pane_is_shown_whole_on_enter(broker_url: str) -> None:
    from helpers import closed_port

    from fanout_tui.settings import Settings

    url = f"amqp://guest:guest@127.0.0.1:{closed_port()}/%2F"
    app = FanoutApp(Settings(urls=(url,), receivers=4))
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.panes[0]
        await until(pilot, lambda: any(line.startswith("⚠") for line in pane.plain_lines()))
        (marker,) = [line for line in pane.plain_lines() if line.startswith("⚠")]
        assert len(marker) > pane.view.scrollable_content_region.width  # cut on screen
        pane.focus()
        await pilot.press("up", "enter")
        await until(pilot, lambda: any(marker in str(n.message) for n in app._notifications))


@given(
    st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=120),
    st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=120),
    st.sampled_from(["● connected", "○ connecting", "✗ " + "cannot reach the broker " * 4]),
    st.integers(min_value=60, max_value=240),
)
def test_the_status_line_keeps_the_state_and_counts_in_any_width(
    url: str, name: str, link: str, width: int
) -> None:
    line = fit_status(url, repr(name), link, (8, 3), width)
    assert len(line) <= width
    assert link[:8] in line and "3" in line and "8" in line
    assert line.endswith(("8 receivers, 3 consuming", "3/8 consuming"))
