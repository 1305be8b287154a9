"""The dashboard against a real broker, driven through Textual's Pilot."""

from __future__ import annotations

import threading
import time

import pika
import pytest
from helpers import all_consuming, queue_exists, running_app, until
from textual.command import Command, CommandInput, CommandList
from textual.pilot import Pilot
from textual.widgets import Static

from fanout_tui.model.states import WorkerState
from fanout_tui.settings import MAX_RECEIVERS, Settings
from fanout_tui.ui.app import FanoutApp
from fanout_tui.ui.screens.detail import MessageDetailScreen
from fanout_tui.ui.screens.help import HelpScreen
from fanout_tui.ui.widgets.publish_input import PublishInput
from fanout_tui.ui.widgets.receiver_grid import grid_shape
from fanout_tui.ui.widgets.receiver_pane import ReceiverPane
from fanout_tui.ui.widgets.stats_line import sparkline

SIZE = (160, 48)


def make_app(url: str, exchange: str, receivers: int = 3) -> FanoutApp:
    return FanoutApp(Settings(urls=(url,), exchange=exchange, receivers=receivers))


def has_line(pane: ReceiverPane, *parts: str) -> bool:
    return any(all(part in line for part in parts) for line in pane.plain_lines())


def result_text(app: FanoutApp) -> str:
    return str(app.query_one("#result", Static).render())


def status_text(app: FanoutApp) -> str:
    return str(app.query_one("#status", Static).render())


def reached_all(app: FanoutApp) -> bool:
    """The result line says the last message reached every receiver."""
    n = len(app.panes)
    return f"{n}/{n} receivers" in result_text(app)


def drawn(pane: ReceiverPane) -> str:
    """The pane's view as rendered for the terminal, row after row."""
    return "\n".join(pane.view.render_line(y).text for y in range(pane.view.size.height))


def worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("fanout-tui ") and t.is_alive()]


def tutorial_emit(connection: pika.BlockingConnection, exchange: str, body: bytes) -> None:
    """What the tutorial's emit_log.py does."""
    channel = connection.channel()
    channel.exchange_declare(exchange=exchange, exchange_type="fanout")
    channel.basic_publish(exchange=exchange, routing_key="", body=body)
    channel.close()


async def type_and_publish(pilot: Pilot, text: str) -> None:
    await pilot.click("#publish")
    await pilot.press(*text)
    await pilot.press("enter")


def test_the_rate_sparkline_scales_between_the_lowest_and_highest_bucket() -> None:
    assert sparkline([], 16) == sparkline([5.0], 16) == ""  # one point is no trend
    assert sparkline([0.0, 7.0], 16) == "▁█"
    assert sparkline([3.0, 3.0, 3.0], 16) == "▁▁▁"  # flat: the lowest bar, not a full one
    # More points than columns: each bar is the largest of its share.
    assert sparkline([0, 1, 0, 0, 0, 0, 9, 0], 4) == "▂▁▁█"
    assert len(sparkline([float(i) for i in range(60)], 16)) == 16


def test_grid_shape_is_near_square() -> None:
    shapes = {n: grid_shape(n) for n in (1, 2, 3, 4, 5, 6, 7, 9, 10, 64)}
    assert shapes == {
        1: (1, 1),
        2: (2, 1),
        3: (2, 2),
        4: (2, 2),
        5: (3, 2),
        6: (3, 2),
        7: (3, 3),
        9: (3, 3),
        10: (4, 3),
        64: (8, 8),
    }


async def test_typed_message_appears_in_every_pane(broker_url: str) -> None:
    async with running_app(broker_url, receivers=3) as (app, pilot):
        assert isinstance(app.focused, PublishInput), "focus starts in the input"
        await type_and_publish(pilot, "hello fanout")
        await until(pilot, lambda: all(has_line(p, "#1", "hello fanout") for p in app.panes))
        await until(pilot, lambda: reached_all(app))
        assert result_text(app).startswith('#1 "hello fanout" → 3/3 receivers, slowest ')
        assert app.query_one(PublishInput).value == ""
        for pane in app.panes:
            assert pane.received == 1
            assert pane.state.queue.startswith("amq.gen-")
            assert pane.border_title is not None and pane.state.queue in pane.border_title
            assert "1 recv" in str(pane.border_subtitle)


async def test_message_from_tutorial_program_is_marked_ext(
    broker_url: str, exchange: str, pika_connection: pika.BlockingConnection
) -> None:
    async with running_app(broker_url, receivers=2, exchange=exchange) as (app, pilot):
        tutorial_emit(pika_connection, exchange, b"info: Hello World!")
        await until(pilot, lambda: all(has_line(p, "ext", "info: Hello World!") for p in app.panes))
        assert not any(has_line(p, "#") for p in app.panes)


async def test_add_and_remove_receivers_live(
    broker_url: str, pika_connection: pika.BlockingConnection
) -> None:
    async with running_app(broker_url, receivers=2) as (app, pilot):
        await type_and_publish(pilot, "before")
        await until(pilot, lambda: all(has_line(p, "before") for p in app.panes))

        await pilot.press("ctrl+n")
        await until(pilot, lambda: len(app.panes) == 3 and all_consuming(app))
        newest = app.panes[-1]
        await type_and_publish(pilot, "after")
        await until(pilot, lambda: all(has_line(p, "after") for p in app.panes))
        assert newest.plain_lines() and not has_line(newest, "before")
        assert newest.received == 1

        # Focus is in the input, so ctrl+r removes the newest pane.
        removed_queue = newest.state.queue
        await pilot.press("ctrl+r")
        await until(pilot, lambda: len(app.panes) == 2)
        await until(pilot, lambda: not newest.receiver.worker.is_alive(), timeout=3)
        assert not queue_exists(pika_connection, removed_queue)

        await type_and_publish(pilot, "still here")
        await until(pilot, lambda: all(has_line(p, "still here") for p in app.panes))
        assert app.query_one("#grid").styles.grid_size_columns == 2


async def test_remove_focused_pane_and_mouse_controls(broker_url: str) -> None:
    async with running_app(broker_url, receivers=3) as (app, pilot):
        first = app.panes[0]
        first.focus()
        await pilot.pause()
        await pilot.press("ctrl+r")
        await until(pilot, lambda: first not in app.panes)
        assert [p.number for p in app.panes] == [2, 3]

        await pilot.click("#add")
        await until(pilot, lambda: len(app.panes) == 3)
        assert app.panes[-1].number == 4

        # The ✕ at the end of a pane's border title closes that pane.
        target = app.panes[0]
        await until(pilot, lambda: target.state.state is WorkerState.CONSUMING)
        # The title up to the ✕ (its markup is the click on the ✕ itself).
        before_close = str(target.border_title).split("[@click=close_pane]")[0]
        await pilot.click(target, offset=(3 + len(before_close), 0))
        await until(pilot, lambda: target not in app.panes)
        assert len(app.panes) == 2


async def test_publish_with_no_receivers_is_unroutable(broker_url: str, exchange: str) -> None:
    async with running_app(broker_url, receivers=0, exchange=exchange) as (app, pilot):
        assert app.query_one("#empty").display
        await type_and_publish(pilot, "into the void")
        await until(pilot, lambda: "unroutable" in result_text(app))
        assert (
            f"unroutable — no queue is bound to exchange '{exchange}'; the message was dropped"
            in result_text(app)
        )


async def test_escape_sequences_and_markup_are_shown_escaped(
    broker_url: str, exchange: str, pika_connection: pika.BlockingConnection
) -> None:
    hostile = "\x1b]0;title\x07 \x1b[2J \x9b31m [bold]x[/] [@click=app.quit]q[/]".encode()
    async with running_app(broker_url, receivers=2, exchange=exchange) as (app, pilot):
        tutorial_emit(pika_connection, exchange, hostile)
        await until(pilot, lambda: all(p.received == 1 for p in app.panes))
        # Drawn: the rendered rows below are the line's, not a blank view's.
        await until(pilot, lambda: all("\\x1b]0;title\\x07" in drawn(p) for p in app.panes))
        for pane in app.panes:
            (line,) = pane.plain_lines()
            assert "\\x1b]0;title\\x07" in line
            assert "\\x1b[2J" in line
            assert "\\x9b31m" in line
            assert "[bold]x[/] [@click=app.quit]q[/]" in line
            assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in line)
            # What reaches the terminal: no raw escape in the rendered lines either.
            assert "\x1b" not in drawn(pane)
        # Clicking the markup text must not run app.quit. The click is handled
        # (it opens the message) after any action in the text's markup would have run.
        view = app.panes[0].view
        markup_at = view.render_line(0).text.index("[@click=")
        await pilot.click(view, offset=(markup_at, 0))
        await until(pilot, lambda: isinstance(app.screen, MessageDetailScreen))
        assert app.is_running and app.return_code is None


async def test_broker_unreachable_app_opens_and_keeps_text(exchange: str) -> None:
    app = make_app("amqp://guest:secret@127.0.0.1:1/%2F", exchange, receivers=2)
    async with app.run_test(size=SIZE) as pilot:
        status = app.query_one("#status", Static)
        await until(pilot, lambda: "cannot reach the broker" in str(status.render()))
        assert "secret" not in str(status.render())
        await until(
            pilot, lambda: all(p.state.state is WorkerState.RECONNECTING for p in app.panes)
        )
        assert all(has_line(p, "cannot reach the broker") for p in app.panes)
        await type_and_publish(pilot, "keep me")
        await until(pilot, lambda: "not sent" in result_text(app))
        assert app.query_one(PublishInput).value == "keep me"
        assert app.is_running


async def test_history_recall_persists_across_runs(broker_url: str, exchange: str) -> None:
    async with running_app(broker_url, receivers=1, exchange=exchange) as (app, pilot):
        await type_and_publish(pilot, "first")
        await pilot.press("enter")  # empty input publishes nothing...
        await type_and_publish(pilot, "second")  # ...so this one is #2 and the 2nd to arrive
        await until(pilot, lambda: has_line(app.panes[0], "second"))
        assert has_line(app.panes[0], "#2", "second")
        assert app.panes[0].received == 2

    again = make_app(broker_url, exchange, receivers=0)
    async with again.run_test(size=SIZE) as pilot:
        box = again.query_one(PublishInput)
        await pilot.press("up")
        assert box.value == "second"
        await pilot.press("up")
        assert box.value == "first"
        await pilot.press("down")
        assert box.value == "second"
        await pilot.press("down")
        assert box.value == ""


async def test_help_screen_opens_and_closes(broker_url: str) -> None:
    async with running_app(broker_url, receivers=0) as (app, pilot):
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        assert "fanout exchange" in app.screen.text()
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        # '?' types into the input rather than opening help.
        await pilot.press("question_mark")
        assert app.query_one(PublishInput).value == "?"


def offered_first(app: FanoutApp) -> str | None:
    """The command the open palette has highlighted (Enter runs it)."""
    commands = app.screen.query_one(CommandList)
    if commands.highlighted is None:
        return None
    option = commands.get_option_at_index(commands.highlighted)
    return option.hit.text if isinstance(option, Command) else None


async def test_palette_commands_add_and_remove(broker_url: str) -> None:
    async with running_app(broker_url, receivers=0) as (app, pilot):
        for command, expected in (("Add receiver", 1), ("Add receiver", 2), ("Remove receiver", 1)):
            await pilot.press("ctrl+p")
            await until(pilot, lambda: isinstance(app.focused, CommandInput))
            await pilot.press(*command)
            # The palette searches asynchronously: Enter once it offers the command first.
            await until(pilot, lambda command=command: offered_first(app) == command)
            await pilot.press("enter")
            await until(pilot, lambda expected=expected: len(app.panes) == expected)
        assert [p.number for p in app.panes] == [1]


async def test_quit_with_16_receivers_is_quick_and_leaves_no_thread(broker_url: str) -> None:
    async with running_app(broker_url, receivers=16, timeout=30) as (_app, pilot):
        assert len(worker_threads()) == 18  # the receivers, the publisher, the depths reader
        started = time.monotonic()
        await pilot.press("ctrl+q")
    elapsed = time.monotonic() - started
    assert worker_threads() == []
    assert elapsed < 2.0, f"quit took {elapsed:.2f}s"


@pytest.mark.timeout(180)
async def test_receiver_limit_and_quit_with_64(broker_url: str) -> None:
    async with running_app(broker_url, receivers=MAX_RECEIVERS, timeout=90) as (app, pilot):
        await pilot.press("ctrl+n")
        await until(
            pilot,
            lambda: any(f"At most {MAX_RECEIVERS}" in str(n.message) for n in app._notifications),
        )
        assert len(app.panes) == MAX_RECEIVERS
        started = time.monotonic()
        await pilot.press("ctrl+q")
    elapsed = time.monotonic() - started
    assert worker_threads() == []
    assert elapsed < 2.0, f"quit took {elapsed:.2f}s"


async def test_scrollback_is_bounded_counts_exact_and_follow_stops_when_scrolled_up(
    broker_url: str, exchange: str, pika_connection: pika.BlockingConnection
) -> None:
    async with running_app(
        broker_url,
        receivers=1,
        exchange=exchange,
        scrollback=50,
    ) as (app, pilot):
        (pane,) = app.panes
        channel = pika_connection.channel()
        for i in range(1, 1501):
            channel.basic_publish(exchange=exchange, routing_key="", body=f"burst {i}".encode())
        await until(pilot, lambda: pane.received == 1500, timeout=30)
        await until(pilot, lambda: has_line(pane, "burst 1500"))
        assert pane.line_count == 50
        assert pane.plain_lines()[0].endswith("burst 1451")
        # A busy pane is painted about once a second; the final count follows.
        await until(pilot, lambda: "1,500 recv" in str(pane.border_subtitle), timeout=5)
        assert pane.following

        # Scrolled up, the view stays put while new messages arrive...
        pane.view.scroll_to(y=5, animate=False, immediate=True)
        await pilot.pause()
        first_visible = pane.view.render_line(0).text
        assert "burst 1456" in first_visible
        for i in range(1501, 1506):
            channel.basic_publish(exchange=exchange, routing_key="", body=f"burst {i}".encode())
        await until(pilot, lambda: pane.received == 1505)
        await until(pilot, lambda: has_line(pane, "burst 1505"))
        assert not pane.following
        # Five old lines fell off the top; the line being read stays where it was.
        assert pane.view.render_line(0).text == first_visible
        # ...and End follows the newest again.
        pane.focus()
        await pilot.press("end")
        await pilot.pause()
        assert pane.following
        last_row = pane.view.size.height - 1
        assert "burst 1505" in pane.view.render_line(last_row).text


async def test_messages_not_sent_are_kept_in_order_whatever_is_typed(exchange: str) -> None:
    app = make_app("amqp://guest:guest@127.0.0.1:1/%2F", exchange, receivers=1)
    async with app.run_test(size=SIZE) as pilot:
        box = app.query_one(PublishInput)
        await until(pilot, lambda: app.panes[0].state.state is WorkerState.RECONNECTING)
        # Two failures before either comes back: the first in the input, the second kept.
        app.dashboard.publish("one")
        app.dashboard.publish("two")
        await until(pilot, lambda: [e.text for e in box.kept] == ["two"])
        assert box.value == "one"
        await until(pilot, lambda: "1 more message not sent, kept" in result_text(app))
        # A failure while something is typed leaves the typing alone.
        box.value = "typing"
        app.dashboard.publish("three")
        await until(pilot, lambda: [e.text for e in box.kept] == ["two", "three"])
        assert box.value == "typing"
        # Sending brings the next one back, in order; nothing is ever dropped.
        box.focus()
        await pilot.press("enter")
        await until(pilot, lambda: [e.text for e in box.kept] == ["three", "typing"])
        assert box.value == "two"
        assert "2 more messages not sent, kept" in result_text(app)
