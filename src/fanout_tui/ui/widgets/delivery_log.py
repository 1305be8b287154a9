"""The delivery log: for each message this app published, who got it and how late.

A line longer than the log is wide wraps (on words, its continuation indented)
rather than being cut: every receiver's fate stays readable however narrow the
log, and nothing is hidden behind its edge.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...model.tracking import (
    DeliveryTracker,
    Fate,
    ReceiverView,
    TrackedBurst,
    TrackedMessage,
    fates_of,
)
from ...present.outcomes import (
    REACHED_NONE,
    Routing,
    fate_text,
    ms,
    severity,
    summarize,
    summarize_burst,
)
from ...present.text import sanitize

SHOWN = 300  # most recent messages listed


def _fitting(text: str, cells: int) -> int:
    """How many of ``text``'s characters fit in ``cells`` columns."""
    used = 0
    for index, char in enumerate(text):
        used += cell_len(char)
        if used > cells:
            return index
    return len(text)


def _wrapped(text: str, width: int) -> list[str]:
    """``text`` (sanitized) in rows of at most ``width`` cells, broken between
    words where it can be; the rows after the first indented by 4."""
    if width <= 8:
        return [text]  # too narrow to wrap usefully: cut, as before it is widened
    rows: list[str] = []
    line, indent = text, ""
    while cell_len(indent + line) > width:
        fits = max(1, _fitting(line, width - len(indent)))
        space = line.rfind(" ", 0, fits + 1)
        cut = space if space > 0 else fits
        rows.append(indent + line[:cut].rstrip())
        line, indent = line[cut:].lstrip(), "    "
    rows.append(indent + line)
    return rows


def _kind(record: TrackedMessage | TrackedBurst) -> str:
    return severity(record) or "partial"  # still going out: not yet ok


class DeliveryLog(ScrollView, can_focus=True):
    """A Line API list rebuilt from the tracker when it changed (a few times a second)."""

    DEFAULT_CSS = """
    DeliveryLog {
        display: none;
        width: 64;
        max-width: 45%;
        height: 1fr;
        border: round $primary 60%;
        overflow-y: scroll;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
    }
    DeliveryLog:focus {
        border: round $accent;
    }
    DeliveryLog > .delivery-log--title {
        text-style: bold;
    }
    DeliveryLog > .delivery-log--ok {
        color: $success;
    }
    DeliveryLog > .delivery-log--partial {
        color: $warning;
    }
    DeliveryLog > .delivery-log--warning {
        color: $warning;
    }
    DeliveryLog > .delivery-log--error {
        color: $error;
    }
    DeliveryLog > .delivery-log--detail {
        color: $text-muted;
    }
    """

    COMPONENT_CLASSES = {
        "delivery-log--ok",
        "delivery-log--partial",
        "delivery-log--warning",
        "delivery-log--error",
        "delivery-log--detail",
        "delivery-log--title",
    }

    def __init__(self) -> None:
        super().__init__(id="delivery-log")
        self._lines: list[tuple[str, str]] = []  # (text, kind)
        self._rows: list[tuple[str, str]] = []  # the lines wrapped to the width
        self._wrapped_at = 0  # the width _rows were wrapped to

    @property
    def lines(self) -> list[str]:
        return [text for text, _kind in self._lines]

    def update_from(
        self,
        tracker: DeliveryTracker,
        current: Mapping[int, ReceiverView],
        routing: Routing,
    ) -> None:
        lines: list[tuple[str, str]] = [("Delivery log (ctrl+l hides it)", "title")]
        entries: list[tuple[int, list[tuple[str, str]]]] = []
        for message in tracker.recent(SHOWN):
            entries.append((message.seq, self._message_lines(tracker, message, current, routing)))
        for burst in tracker.bursts:
            entries.append((burst.first, [(summarize_burst(burst, routing), _kind(burst))]))
        entries.sort(key=lambda entry: entry[0])
        for _seq, entry in entries:
            lines.extend(entry)
        if len(lines) == 1:
            lines.append(("Nothing published yet.", "detail"))
        self._lines = lines
        self._wrap()

    def _wrap(self) -> None:
        follow = self.scroll_y >= self.max_scroll_y
        width = self.scrollable_content_region.width
        rows: list[tuple[str, str]] = []
        for text, kind in self._lines:
            rows.extend((row, kind) for row in _wrapped(sanitize(text, 1000), width))
        self._rows, self._wrapped_at = rows, width
        self.virtual_size = Size(width, len(rows))
        if follow:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        self.refresh()

    def on_resize(self) -> None:
        if self.scrollable_content_region.width != self._wrapped_at:
            self._wrap()

    @staticmethod
    def _message_lines(
        tracker: DeliveryTracker,
        message: TrackedMessage,
        current: Mapping[int, ReceiverView],
        routing: Routing,
    ) -> list[tuple[str, str]]:
        out = [(summarize(message, current, routing, names=False), _kind(message))]
        if message.outcome in REACHED_NONE and not message.got:
            return out  # a nack (reject-publish) may still have reached the others
        parts = []
        for number, fate in fates_of(message, current):
            if fate is Fate.GOT:
                parts.append(f"R{number} {ms(message.got[number])}")
            else:
                parts.append(fate_text(number, fate, routing))
        if parts:
            out.append(("    " + " · ".join(parts), "detail"))
        return out

    def render_line(self, y: int) -> Strip:
        index = round(self.scroll_y) + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if 0 <= index < len(self._rows):
            text, kind = self._rows[index]
            style: Style = base + self.get_component_rich_style(
                f"delivery-log--{kind}", partial=True
            )
            return Strip([Segment(text, style)]).crop_extend(0, width, base)
        return Strip.blank(width, base)
