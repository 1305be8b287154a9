"""Characters whose width terminals disagree on never move a pane's border.

Variation selectors, ZWJ sequences, regional indicators, skin-tone modifiers
and Hangul fillers are joined with their neighbours by some terminals (and by
Rich's layout) and not by others, so a line holding them ends where the
terminal, not the layout, decides. The sanitizer escapes them; every line's
width is then the plain sum of its characters' widths, which terminals agree on.
"""

from __future__ import annotations

import pika
from helpers import emit_log, running_app, until
from hypothesis import example, given
from hypothesis import strategies as st
from real_deliveries import receive_one
from rich.cells import cell_len, get_character_cell_size
from test_detail_screen import DetailApp, bar_text, screen_of, visible_rows

from fanout_tui.present.text import UNSTABLE_WIDTH, escape_text, sanitize

RISKY_BODIES = [
    "👍🏽🇩🇪 thumbs and a flag",
    "ㅤᅠﾠ Hangul fillers",
    "❤️☺️☁︎ variation selectors",
    "👨‍👩‍👧 a ZWJ family, 1️⃣ a keycap",
    "日本語 🐇 wide but agreed",
]
UNSTABLE = sorted(UNSTABLE_WIDTH)


def agreed_width(text: str) -> int:
    """Cells as a terminal counts them: each character on its own."""
    return sum(get_character_cell_size(ch) for ch in text)


text_with_risky = st.text(
    alphabet=st.one_of(st.characters(), st.sampled_from(UNSTABLE), st.sampled_from("日🐇a ")),
    max_size=200,
)


@given(text=text_with_risky)
@example(text="".join(RISKY_BODIES))
def test_sanitized_text_has_no_unstable_character_and_its_width_is_the_sum(text: str) -> None:
    for shown in (
        sanitize(text),
        sanitize(text.encode("utf-8", "surrogatepass")),
        escape_text(text),
    ):
        assert UNSTABLE_WIDTH.isdisjoint(shown), ascii(shown)
        assert cell_len(shown) == agreed_width(shown), ascii(shown)


def test_unstable_characters_are_escaped_and_wide_ones_kept() -> None:
    assert sanitize("👍🏽🇩🇪") == "👍\\U0001f3fd\\U0001f1e9\\U0001f1ea"
    assert sanitize("ㅤᅠﾠ") == "\\u3164\\u1160\\uffa0"
    assert sanitize("❤️☺️☁︎") == "❤\\ufe0f☺\\ufe0f☁\\ufe0e"
    assert sanitize("日本語 🐇 한국어") == "日本語 🐇 한국어"  # precomposed Hangul is fine


async def test_panes_keep_their_borders_whatever_the_bodies_hold(broker_url: str) -> None:
    async with running_app(broker_url, receivers=2, size=(100, 30)) as (app, pilot):
        exchange = app.dashboard.broker.exchange
        for body in [*RISKY_BODIES, *(b * 4 for b in RISKY_BODIES)]:
            emit_log(broker_url, exchange, body, pika.BasicProperties())
        await until(pilot, lambda: all(p.received == 2 * len(RISKY_BODIES) for p in app.panes))
        await pilot.pause(0.3)
        update = app.screen._compositor.render_full_update()
        lines = ["".join(strip.text for strip in row) for row in update.strips]
        left, right = app.panes
        top, bottom = left.region.y, left.region.bottom
        assert right.region.y == top  # side by side
        borders = {left.region.x, left.region.right - 1, right.region.x, right.region.right - 1}
        for y in range(top + 1, bottom - 1):
            line = lines[y]
            assert UNSTABLE_WIDTH.isdisjoint(line), (y, ascii(line))
            # Where a terminal, counting each character on its own, draws the borders.
            columns, at = set(), 0
            for ch in line:
                if ch == "│":
                    columns.add(at)
                at += get_character_cell_size(ch)
            assert borders <= columns, (y, line)
            assert at == app.size.width, (y, line)


async def test_the_detail_screen_says_what_was_escaped_and_hex_keeps_the_bytes(
    broker_url: str, exchange: str
) -> None:
    delivery = receive_one(broker_url, exchange, "👍🏽 ok".encode())
    async with DetailApp(delivery).run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = screen_of(pilot.app)
        assert visible_rows(screen.body_view)[0] == "👍\\U0001f3fd ok"
        assert "characters of uncertain width" in bar_text(screen)
        await pilot.press("h")
        assert visible_rows(screen.body_view)[0].startswith("00000000  f0 9f 91 8d f0 9f 8f bd")
        assert "uncertain width" not in bar_text(screen)
