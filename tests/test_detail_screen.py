"""The message detail screen, with real deliveries, driven through Pilot."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pika
import pytest
from helpers import until
from real_deliveries import receive, receive_one
from textual.app import App
from textual.widgets import Static

from fanout_tui.model.delivery import Delivery
from fanout_tui.present.bodies import hex_row, hex_row_count, pretty_json_lines
from fanout_tui.transport.consumer import delivery_from
from fanout_tui.transport.stamps import MessageProperties, stamped_properties
from fanout_tui.ui.screens.detail import SYNC_LIMIT, BodyView, MessageDetailScreen

SIZE = (120, 40)
ESC_TITLE = "\x1b]0;pwned\x07"
MARKUP = "[@click=app.quit]x[/]"


class DetailApp(App[None]):
    """Just enough app to show the screen, as the dashboard does."""

    def __init__(
        self, delivery: Delivery, title: str = "R3 · #12", origin: str | None = None
    ) -> None:
        super().__init__()
        self.delivery = delivery
        self.origin = origin
        self.detail_title = title
        self.quit_requested = False
        self.closed_at: float | None = None

    def on_mount(self) -> None:
        self.open_detail()

    def open_detail(self) -> None:
        self.closed_at = None
        self.push_screen(
            MessageDetailScreen(self.delivery, self.detail_title, origin=self.origin),
            self._detail_closed,
        )

    def _detail_closed(self, _result: None) -> None:
        self.closed_at = time.monotonic()

    def action_quit(self) -> None:  # a markup [@click=app.quit] that ran would land here
        self.quit_requested = True


def screen_of(app: App[None]) -> MessageDetailScreen:
    screen = app.screen
    assert isinstance(screen, MessageDetailScreen)
    return screen


def visible_rows(view: BodyView) -> list[str]:
    """The body view's rows as drawn (trailing padding stripped)."""
    return [view.render_line(y).text.rstrip() for y in range(view.scrollable_content_region.height)]


def summary_text(screen: MessageDetailScreen) -> str:
    return str(screen.query_one("#detail-summary", Static).render())


def bar_text(screen: MessageDetailScreen) -> str:
    return str(screen.query_one("#detail-body-bar", Static).render())


def shows_rows(screen: MessageDetailScreen) -> bool:
    return screen.body_view.mode in ("json", "text", "hex")


async def test_a_json_body_opens_pretty_printed(broker_url: str, exchange: str) -> None:
    body = json.dumps({"order": 42, "items": [{"sku": "A-1", "qty": 2}], "paid": True}).encode()
    props = pika.BasicProperties(content_type="application/json", delivery_mode=2)
    delivery = receive_one(broker_url, exchange, body, props)
    app = DetailApp(delivery)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = screen_of(app)
        assert screen.kind == "json" and screen.body_view.mode == "json"
        expected = pretty_json_lines(body)
        assert visible_rows(screen.body_view)[: len(expected)] == expected
        assert expected[:3] == ["{", '  "order": 42,', '  "items": [']
        assert "Body · JSON" in bar_text(screen) and "showing JSON, pretty" in bar_text(screen)
        summary = summary_text(screen)
        for part in (exchange, delivery.queue, f"{len(body):,} bytes", "2 (persistent)"):
            assert part in summary
        assert "R3 · #12" in str(screen.query_one("#detail-title", Static).render())
        # Highlighted: a key and a number are drawn in different styles.
        strip = screen.body_view.render_line(1)
        styles = {seg.text.strip(): seg.style for seg in strip if seg.text.strip()}
        assert styles['"order"'] != styles["42"]

        await pilot.press("t")  # the body as it came
        assert visible_rows(screen.body_view)[0] == body.decode()
        await pilot.press("h")
        assert visible_rows(screen.body_view)[0] == hex_row(body, 0)
        await pilot.press("j")
        assert visible_rows(screen.body_view)[1] == '  "order": 42,'

        await pilot.press("escape")
        assert not isinstance(app.screen, MessageDetailScreen)


async def test_a_binary_body_opens_as_hex(broker_url: str, exchange: str) -> None:
    body = bytes(range(256))
    delivery = receive_one(broker_url, exchange, body)
    app = DetailApp(delivery)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = screen_of(app)
        assert screen.kind == "binary" and screen.body_view.mode == "hex"
        rows = visible_rows(screen.body_view)
        assert rows[:16] == [hex_row(body, n) for n in range(16)]
        assert rows[0] == (
            "00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|"
        )
        assert rows[4].endswith("|@ABCDEFGHIJKLMNO|")
        assert rows[16] == ""
        assert "Body · binary" in bar_text(screen) and "16 rows" in bar_text(screen)

        # Not JSON: j is refused (and greyed out in the footer); t shows it escaped.
        assert screen.check_action("view", ("json",)) is None
        await pilot.press("j")
        assert screen.body_view.mode == "hex"
        await pilot.press("t")
        text = visible_rows(screen.body_view)
        assert text[0].startswith("\\x00\\x01\\x02")
        assert all(ch.isprintable() for line in text for ch in line)

        await pilot.press("q")
        assert not isinstance(app.screen, MessageDetailScreen)


async def test_escapes_and_markup_show_escaped_and_inert(broker_url: str, exchange: str) -> None:
    body = f"{ESC_TITLE} {MARKUP} \u202eevil\n\x9b31m".encode()
    props = pika.BasicProperties(
        content_type=MARKUP,
        headers={"x-evil": ESC_TITLE, "x-markup": MARKUP, MARKUP: "key", "x-raw": b"\x1b[2J\xff"},
    )
    delivery = receive_one(broker_url, exchange, body, props)
    app = DetailApp(delivery, title=f"R1 · {ESC_TITLE}{MARKUP}")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = screen_of(app)
        assert screen.kind == "text"
        rows = visible_rows(screen.body_view)
        assert rows[0] == f"\\x1b]0;pwned\\x07 {MARKUP} \\u202eevil"
        assert rows[1] == "\\x9b31m"
        summary = summary_text(screen)
        assert re.search(r"x-evil +\\x1b\]0;pwned\\x07\n", summary)
        assert MARKUP in summary  # shown as text, not parsed away
        assert "\\x1b[2J\\xff" in summary
        title = str(screen.query_one("#detail-title", Static).render())
        assert title == f"R1 · \\x1b]0;pwned\\x07{MARKUP}"
        # Nothing reaches the terminal raw, and no markup became an action.
        shot = app.export_screenshot()
        for raw in ("\x1b", "\x07", "\x9b", "\u202e"):
            assert raw not in shot
        for widget in (screen.query_one("#detail-summary", Static), screen.body_view):
            await pilot.click(widget)
        assert app.quit_requested is False
        for y in range(screen.body_view.scrollable_content_region.height):
            for segment in screen.body_view.render_line(y):
                assert not (segment.style and segment.style.meta.get("@click"))

        await pilot.press("h")
        assert visible_rows(screen.body_view)[0].startswith("00000000  1b 5d 30 3b")


async def test_long_lines_continue_and_scroll_sideways(broker_url: str, exchange: str) -> None:
    line = "".join(f"{n:05d} " for n in range(1000))  # 6,000 characters, one line
    delivery = receive_one(broker_url, exchange, line)
    app = DetailApp(delivery)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = screen_of(app).body_view
        assert view.row_count == 3
        rows = visible_rows(view)
        assert rows[0] == line[: view.scrollable_content_region.width]
        assert rows[1].startswith("↪ " + line[2000:2010])
        assert view.virtual_size.width == 2000 + len("↪ ")
        view.focus()
        await pilot.press("right", "right", "right")
        await until(pilot, lambda: view.scroll_offset.x == 3)
        assert visible_rows(view)[0].startswith(line[3:20])


def big_json() -> bytes:
    items = [
        {"id": i, "name": f"item {i}", "tags": ["a", "b", "c"], "value": i * 1.5, "ok": True}
        for i in range(112_000)
    ]
    body = json.dumps({"data": {"items": items}}).encode()
    assert 9.5 * 1024 * 1024 < len(body) <= 10 * 1024 * 1024
    return body


@pytest.mark.timeout(300)
async def test_a_10_mib_json_body_opens_at_once_and_formats_in_the_background(
    broker_url: str, exchange: str
) -> None:
    body = big_json()
    delivery = receive_one(broker_url, exchange, body)
    assert len(delivery.body) == len(body) > SYNC_LIMIT
    app = DetailApp(delivery)
    async with app.run_test(size=SIZE) as pilot:
        # The screen is up at once, saying it is formatting; Escape closes it promptly.
        await pilot.pause()
        screen = screen_of(app)
        assert screen.body_view.mode == "note"
        assert visible_rows(screen.body_view)[0] == "formatting…"
        assert "formatting…" in bar_text(screen)
        # (Pilot.press itself returns late while a thread keeps the CPU busy: it
        # waits for the process to go idle. The app records when it closed.)
        started = time.monotonic()
        await pilot.press("escape")
        await until(pilot, lambda: app.closed_at is not None, 5)
        assert app.closed_at is not None and app.closed_at - started < 1.0
        assert not isinstance(app.screen, MessageDetailScreen)

        # Open it again: hex is there at once, while the JSON is still being formatted.
        opened = time.monotonic()
        app.open_detail()
        await pilot.pause()
        screen = screen_of(app)
        await pilot.press("h")
        assert screen.body_view.mode == "hex"
        assert visible_rows(screen.body_view)[0] == hex_row(body, 0)
        assert screen.body_view.row_count == hex_row_count(body)
        await pilot.press("end")
        await until(pilot, lambda: screen.body_view.scroll_offset.y > 600_000)

        # Back to JSON: it appears once formatted (generous bound for a slow CI).
        await pilot.press("j")
        await until(pilot, lambda: screen.body_view.mode == "json", timeout=120)
        formatted_in = time.monotonic() - opened
        rows = visible_rows(screen.body_view)
        assert rows[:5] == ["{", '  "data": {', '    "items": [', "      {", '        "id": 0,']
        assert screen.body_view.row_count > 1_000_000
        assert "Body · JSON" in bar_text(screen)
        print(f"10 MiB JSON formatted and shown {formatted_in:.1f}s after opening")

        # The last rows render as quickly as the first: only what is on screen is built.
        await pilot.press("end")
        await until(pilot, lambda: visible_rows(screen.body_view)[-1] == "}")
        await pilot.press("escape")
        assert not isinstance(app.screen, MessageDetailScreen)


# What a line's label means -------------------------------------------------------


async def test_the_summary_says_what_the_lines_label_means(broker_url: str, exchange: str) -> None:
    """``#12``, ``cli#7`` and ``ext`` are explained on the screen a line opens,
    in the help legend's words (issue 24 item 18)."""
    ours = stamped_properties("dash0origin", 12, time.time(), MessageProperties())
    cli = stamped_properties("cli-host-42", 7, time.time(), MessageProperties())
    other_dash = stamped_properties("otherorigin", 3, time.time(), MessageProperties())
    deliveries = receive(
        broker_url,
        exchange,
        [("mine", ours), ("from the cli", cli), ("plain pika", None), ("another", other_dash)],
    )
    expected = [
        "#12: the 12th message this dashboard published",
        "cli#7: a message fanout-tui publish sent, numbered on across its runs",
        "ext: a message another program published (no stamp of this app's)",
        "ext: another fanout-tui published it (its #3), not this dashboard",
    ]
    for delivery, meaning in zip(deliveries, expected, strict=True):
        app = DetailApp(delivery, origin="dash0origin")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            summary = summary_text(screen_of(app))
            assert re.search(rf"^label +{re.escape(meaning)}$", summary, re.M), summary
            assert "stream offset" not in summary


async def test_a_stream_delivery_says_its_offset(broker_url: str, exchange: str) -> None:
    name = f"stream-{exchange}"
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        channel = connection.channel()
        channel.exchange_declare(exchange=exchange, exchange_type="fanout")
        channel.queue_declare(name, durable=True, arguments={"x-queue-type": "stream"})
        channel.queue_bind(name, exchange)
        for body in ("zero", "one"):
            channel.basic_publish(exchange, "", body.encode())
        channel.basic_qos(prefetch_count=10)
        got: list[Delivery] = []

        def on_message(ch: Any, method: Any, props: Any, body: bytes) -> None:
            got.append(delivery_from(method, props, body, name, time.time()))
            ch.basic_ack(method.delivery_tag)

        channel.basic_consume(name, on_message, arguments={"x-stream-offset": "first"})
        deadline = time.monotonic() + 15
        while len(got) < 2 and time.monotonic() < deadline:
            connection.process_data_events(time_limit=0.2)
    finally:
        if connection.is_open:
            connection.channel().queue_delete(name)
            connection.close()
    assert [d.body for d in got] == [b"zero", b"one"]
    app = DetailApp(got[1])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        summary = summary_text(screen_of(app))
        assert re.search(r"^stream offset +@1: its place in the stream$", summary, re.M), summary
