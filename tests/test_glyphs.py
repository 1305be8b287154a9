"""Every symbol the UI shows renders in a terminal and in the browser's font.

The symbols are read from the string literals of the modules that build what
is on screen (not from comments). Each must be one cell wide for Rich (what
Textual lays out) and draw in Chromium with the font stack textual-serve's page
gives its terminal: a glyph no installed font has draws as the missing-glyph
box, the same picture as a code point no font has (U+10FFFD).
"""

from __future__ import annotations

import io
import tokenize
import unicodedata
from pathlib import Path

import pytest
from browser import chromium, have_browser
from rich.cells import cell_len

import fanout_tui

PACKAGE = Path(fanout_tui.__file__).parent
# Where on-screen text is made; present/text.py's literals are the characters
# the sanitizer escapes, which are never shown as themselves.
SOURCES = [*sorted((PACKAGE / "ui").rglob("*.py")), PACKAGE / "present" / "outcomes.py"]
SOURCES += [PACKAGE / "control" / "dashboard.py", PACKAGE / "present" / "fit.py"]
# textual-serve's page sets this on its xterm.js terminal (static/js/textual.js).
PAGE_FONT = "'Roboto Mono', Monaco, 'Courier New', monospace"


def ui_symbols() -> list[str]:
    found: set[str] = set()
    for path in SOURCES:
        source = path.read_text(encoding="utf-8")
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.STRING:
                found.update(ch for ch in token.string if ord(ch) > 127)
    # Marks and format characters are not drawn on their own.
    return sorted(ch for ch in found if unicodedata.category(ch)[0] not in "MC")


def test_the_symbols_are_found() -> None:
    symbols = ui_symbols()
    assert {"·", "…", "✕", "▶", "‖"} <= set(symbols), symbols
    assert "⏸" not in symbols  # no browser font here has it: an empty box in the page


@pytest.mark.parametrize("symbol", ui_symbols())
def test_each_symbol_is_one_cell_wide(symbol: str) -> None:
    assert cell_len(symbol) == 1, f"{symbol!r} ({unicodedata.name(symbol, '?')})"


DRAW = """
const [symbols, font] = arguments;
function picture(text) {
  const canvas = document.createElement("canvas");
  canvas.width = 48; canvas.height = 48;
  const ctx = canvas.getContext("2d");
  ctx.font = "32px " + font;
  ctx.fillStyle = "#000";
  ctx.fillText(text, 4, 36);
  return Array.from(ctx.getImageData(0, 0, 48, 48).data).join(",");
}
const missing = picture("\\u{10FFFD}");
const blank = picture(" ");
return symbols.map(s => [s, picture(s) !== missing && picture(s) !== blank]);
"""


@pytest.mark.timeout(120)
@pytest.mark.skipif(not have_browser(), reason="needs Debian's chromium and chromium-driver")
def test_each_symbol_draws_in_the_browsers_font(tmp_path: Path) -> None:
    with chromium(tmp_path) as driver:
        driver.get("data:text/html;charset=utf-8,<html><body></body></html>")
        drawn = dict(driver.execute_script(DRAW, [*ui_symbols(), "⏸"], PAGE_FONT))
    # The check can fail: the glyph this project stopped using draws as a box here.
    assert drawn.pop("⏸") is False
    missing = [f"{s!r} {unicodedata.name(s, '?')}" for s, ok in drawn.items() if not ok]
    assert missing == [], missing
