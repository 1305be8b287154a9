"""A pane's lines, newest at the bottom: styled only when they reach the screen.

Rendering is the expensive part of the dashboard (docs/architecture.md, "From
the broker to the screen"), and under a burst every millisecond the UI thread
holds the GIL is taken from the consumer threads. So arriving deliveries are
only appended to a bounded deque; a line is turned into a pre-styled ``Strip``
the first time it is on screen, and cached.
Most lines of a burst scroll past unseen and are never styled at all.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.events import Click, Resize
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...model.body_budget import PREVIEW_CHARS
from ...model.delivery import Delivery
from ...present.text import sanitize, seq_label, stream_offset
from ..compat import (
    set_scroll_y_quietly,
    set_virtual_size_quietly,
    update_scrollbars,
)
from ..labels import Labels

COMPACT_WIDTH = 44  # narrower than this, a pane line leaves out the receive time
_STRIP_CACHE = 512  # styled lines kept per pane: a few screens' worth


class Marker(str):
    """A line the pane adds itself (a failure, a reconnect), not a delivery."""

    __slots__ = ()


class MessageView(ScrollView, can_focus=False):
    """The pane's lines, newest at the bottom, with an optional selected line.

    Not focusable: the pane is, so its keys, pause and palette commands act on it.
    """

    COMPONENT_CLASSES = {
        "message-view--seq",
        "message-view--ext",
        "message-view--time",
        "message-view--body",
        "message-view--marker",
        "message-view--cursor",
    }

    class Clicked(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    DEFAULT_CSS = """
    MessageView {
        height: 1fr;
        scrollbar-size-vertical: 1;
        /* Always shown: a scrollbar that appears and disappears costs a layout. */
        overflow-y: scroll;
        overflow-x: hidden;
    }
    MessageView > .message-view--seq {
        color: $accent;
        text-style: bold;
    }
    MessageView > .message-view--ext {
        color: $warning;
        text-style: bold;
    }
    MessageView > .message-view--time {
        color: $text-muted;
    }
    MessageView > .message-view--marker {
        color: $warning;
        text-style: italic;
    }
    MessageView > .message-view--cursor {
        background: $accent 30%;
    }
    """

    def __init__(self, scrollback: int, origin: str | None, labels: Labels) -> None:
        super().__init__(classes="message-view")
        self.origin = origin
        self.labels = labels
        self._lines: deque[Delivery | Marker] = deque(maxlen=scrollback)
        self._strips: LRUCache[int, tuple[Delivery | Marker, Strip]] = LRUCache(_STRIP_CACHE)
        self._styles: dict[str, Style] = {}
        self._render_style = Style()
        self._render_width = 0
        # The selected line, counted from the first line ever added (so it stays
        # on its message as old lines fall off the front); None: no selection.
        self._dropped = 0
        self.cursor: int | None = None
        self._follow = True  # show the newest line as lines arrive (End sets it again)
        self._compact = False  # too narrow for the receive time (see on_resize)
        self._scrollbar_shows: tuple[Size, Size, float] | None = None  # as of the last sync

    # Reading -------------------------------------------------------------------
    @property
    def lines(self) -> deque[Delivery | Marker]:
        return self._lines

    def plain_lines(self) -> list[str]:
        return [self._strip(item).text for item in self._lines]

    @property
    def following(self) -> bool:
        return self._follow and self.cursor is None

    @property
    def cursor_index(self) -> int | None:
        """Index into ``lines`` of the selected line, if it is still there."""
        if self.cursor is None:
            return None
        index = self.cursor - self._dropped
        return index if 0 <= index < len(self._lines) else None

    def selected(self) -> Delivery | Marker | None:
        index = self.cursor_index
        return self._lines[index] if index is not None else None

    # Styling -------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = {}  # restyle every line from the new styles
        self._strips.clear()

    def _line_styles(self) -> dict[str, Style]:
        if self._styles:
            return self._styles
        # Lines keep the style they were built with; the base style is folded
        # in once here rather than applied to every line on every render.
        base = self.rich_style
        self._styles = {
            name: base + self.get_component_rich_style(f"message-view--{name}", partial=True)
            for name in ("seq", "ext", "time", "body", "marker", "cursor")
        }
        return self._styles

    def _strip(self, item: Delivery | Marker) -> Strip:
        """The styled line for ``item``, built on first sight and cached."""
        key = id(item)
        cached = self._strips.get(key)
        if cached is not None and cached[0] is item:
            return cached[1]
        styles = self._line_styles()
        if isinstance(item, Marker):
            strip = Strip([Segment(sanitize(item, 1000), styles["marker"])])
        else:
            label = seq_label(item, self.origin)
            seq = styles["ext" if label == "ext" else "seq"]
            text = sanitize(item.body, PREVIEW_CHARS, item.size)
            body = Segment(f" {stream_offset(item)}{text}", styles["body"])
            if self._compact:  # the body matters more than the time in a narrow pane
                strip = Strip([Segment(f"{label:>5}", seq), body])
            else:
                time = Segment(self.labels.clock(item.received_at), styles["time"])
                strip = Strip([Segment(f"{label:>6} ", seq), time, body])
        self._strips[key] = (item, strip)
        return strip

    # Updating ------------------------------------------------------------------
    def append(self, items: Sequence[Delivery | Marker]) -> None:
        """Take new lines; what shows on screen changes at the next paint().

        The line count and scroll position are set quietly here (no watchers):
        assigning them the usual way repaints the pane and its scrollbar on every
        drain, and a new virtual size even lays out the whole screen. sync()
        brings the scrollbar up to date when the grid decides.
        """
        if not items:
            return
        follow = self.following
        before = len(self._lines)
        self._lines.extend(items)
        dropped = before + len(items) - len(self._lines)
        self._dropped += dropped
        height = len(self._lines)
        if self.virtual_size.height != height:
            size = Size(self.scrollable_content_region.width, height)
            set_virtual_size_quietly(self, size)
        if follow:
            self._quiet_scroll_y(self.max_scroll_y)
        elif dropped:
            # Keep the lines the user is reading in place as old ones fall off.
            self._quiet_scroll_y(self.scroll_y - dropped)

    def _quiet_scroll_y(self, y: float) -> None:
        set_scroll_y_quietly(self, max(0, min(y, self.max_scroll_y)))

    def sync(self) -> None:
        """Give the scrollbar the line count and position set quietly by append()."""
        # Only when they changed: Textual repaints the scrollbar on every update
        # (1.2 ms for a full-screen pane, measured), and once the scrollback is
        # full a pane following a burst keeps the same size and position.
        shown = (self.virtual_size, self.container_size, self.scroll_y)
        if shown != self._scrollbar_shows:
            self._scrollbar_shows = shown
            update_scrollbars(self)
            if self.show_vertical_scrollbar:
                self.vertical_scrollbar.position = self.scroll_y
        self.refresh()

    def set_scroll_y(self, y: float) -> None:
        """Scroll where the user asked; at the bottom, the pane follows again."""
        # Set directly rather than through scroll_to(), which defers or refuses a
        # move until the next layout has caught up with the virtual size.
        self.scroll_target_y = self.scroll_y = max(0, min(y, self.max_scroll_y))

    def follow(self) -> None:
        self.cursor = None
        self.set_scroll_y(self.max_scroll_y)
        self.refresh()

    def move_cursor(self, delta: int) -> None:
        """Select the line ``delta`` away (from the newest when nothing is selected)."""
        if not self._lines:
            return
        index = self.cursor_index
        if index is None:
            index = len(self._lines) if delta < 0 else len(self._lines) - 1
        index = max(0, min(len(self._lines) - 1, index + delta))
        self.select(index)

    def select(self, index: int) -> None:
        self.cursor = self._dropped + index
        height = self.scrollable_content_region.height
        if index < self.scroll_y:
            self.set_scroll_y(index)
        elif height and index >= self.scroll_y + height:
            self.set_scroll_y(index - height + 1)
        self.refresh()

    # Rendering -----------------------------------------------------------------
    def render_lines(self, crop: Region) -> list[Strip]:
        # rich_style walks the DOM and blends colours: once per render, not per line.
        self._render_style = self.rich_style
        self._render_width = self.scrollable_content_region.width
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        index = round(self.scroll_y) + y
        style, width = self._render_style, self._render_width
        if 0 <= index < len(self._lines):
            strip = self._strip(self._lines[index]).crop_extend(0, width, style)
            if index == self.cursor_index:
                strip = strip.apply_style(self._line_styles()["cursor"])
            return strip
        return Strip.blank(width, style)

    def on_resize(self, event: Resize) -> None:
        # Following is the user's choice, not where the old size left the scroll:
        # a new height moves the bottom, and a following pane goes with it.
        width = self.scrollable_content_region.width
        compact = width < COMPACT_WIDTH
        if compact != self._compact:
            self._compact = compact
            self._strips.clear()  # every line is laid out anew
        self.virtual_size = Size(width, len(self._lines))
        if self.following:
            self.set_scroll_y(self.max_scroll_y)
        self._scrollbar_shows = None  # the next sync brings the scrollbar up to date

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        # Every scroll but append()'s quiet ones lands here (keys, wheel, scrollbar):
        # reading back stops following, and back at the bottom it follows again.
        super().watch_scroll_y(old_value, new_value)
        self._follow = new_value >= self.max_scroll_y

    def on_click(self, event: Click) -> None:
        index = round(self.scroll_y) + event.y
        if 0 <= index < len(self._lines):
            self.select(index)
            self.post_message(self.Clicked(index))
