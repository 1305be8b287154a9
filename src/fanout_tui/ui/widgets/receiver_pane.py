"""One receiver's pane: a Line API view of its messages, newest at the bottom.

Rendering is the expensive part of the dashboard (see DESIGN.md), and under a
burst every millisecond the UI thread holds the GIL is taken from the consumer
threads. So arriving deliveries are only appended to a bounded deque; a line is
turned into a pre-styled ``Strip`` the first time it is on screen, and cached.
Most lines of a burst scroll past unseen and are never styled at all.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.cache import LRUCache
from textual.content import Content
from textual.events import Resize
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...amqp.broker import node_of
from ...amqp.display import sanitize, seq_label, time_of_day
from ...amqp.events import Delivery, Mailbox, StateChange, WorkerState
from ...amqp.receiver import ReceiverWorker

PREVIEW_CHARS = 300  # a pane line is a preview; the full body lives in the delivery
_STRIP_CACHE = 512  # styled lines kept per pane: a few screens' worth


# Our own markup, parsed once; the click runs the pane's close action.
_CLOSE = Content.from_markup("[@click=close_pane]✕[/]")


class Marker(str):
    """A line the pane adds itself (a failure, a reconnect), not a delivery."""

    __slots__ = ()


class ReceiverPane(ScrollView, can_focus=True):
    """Shows what one :class:`ReceiverWorker` got, and its state."""

    COMPONENT_CLASSES = {
        "receiver-pane--seq",
        "receiver-pane--ext",
        "receiver-pane--time",
        "receiver-pane--body",
        "receiver-pane--marker",
    }

    BINDINGS = [
        Binding("end", "follow", "Follow newest", show=False),
    ]

    class CloseRequested(Message):
        def __init__(self, pane: ReceiverPane) -> None:
            super().__init__()
            self.pane = pane

    def __init__(
        self,
        number: int,
        worker: ReceiverWorker,
        *,
        scrollback: int = 1000,
        origin: str | None = None,
    ) -> None:
        super().__init__(id=f"receiver-{number}", classes="receiver-pane")
        self.number = number
        self.worker = worker
        self.show_node = len(worker.broker.urls) > 1  # which node, when there is a choice
        self.origin = origin
        self._lines: deque[Delivery | Marker] = deque(maxlen=scrollback)
        self._strips: LRUCache[int, tuple[Delivery | Marker, Strip]] = LRUCache(_STRIP_CACHE)
        self._styles: dict[str, Style] = {}
        self._title_key: tuple[int, str] | None = None
        self._subtitle = ""
        self._not_consuming: bool | None = None
        self._render_style = Style()
        self._render_width = 0
        # Paint scheduling, managed by the app's drain timer.
        self.dirty = False
        self.busy_until = 0.0
        self.next_paint = 0.0
        self.window_start = 0.0
        self.window_count = 0
        self.received = 0
        self.state: StateChange = StateChange(WorkerState.CONNECTING)
        self._rate = 0.0
        self._rate_mark: tuple[float, int] | None = None
        self._last_marker = ""
        self._was_consuming = False
        self._update_titles()

    # Reading -------------------------------------------------------------------
    @property
    def mailbox(self) -> Mailbox:
        return self.worker.mailbox

    @property
    def line_count(self) -> int:
        return len(self._lines)

    def plain_lines(self) -> list[str]:
        """The pane's lines as text (tests and export use it)."""
        return [self._strip(item).text for item in self._lines]

    @property
    def following(self) -> bool:
        return self.scroll_y >= self.max_scroll_y

    # Updating (UI thread, from the app's drain timer) --------------------------
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
            name: base + self.get_component_rich_style(f"receiver-pane--{name}", partial=True)
            for name in ("seq", "ext", "time", "body", "marker")
        }
        return self._styles

    def add_deliveries(self, deliveries: list[Delivery]) -> None:
        self._append(deliveries)

    def add_marker(self, text: str) -> None:
        self._append([Marker(text)])

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
            fmt_time = getattr(self.app, "time_label", time_of_day)
            strip = Strip(
                [
                    Segment(f"{label:>6} ", styles["ext" if label == "ext" else "seq"]),
                    Segment(fmt_time(item.received_at), styles["time"]),
                    Segment(" " + sanitize(item.body, PREVIEW_CHARS), styles["body"]),
                ]
            )
        self._strips[key] = (item, strip)
        return strip

    def _append(self, items: Sequence[Delivery | Marker]) -> None:
        """Take new lines; what shows on screen changes at the next paint().

        The line count and scroll position are set quietly here (set_reactive, no
        watchers): assigning them the usual way repaints the pane and its
        scrollbar on every drain, and a new virtual size even lays out the whole
        screen. paint() brings the scrollbar up to date when the app decides.
        """
        if not items:
            return
        follow = self.following
        before = len(self._lines)
        self._lines.extend(items)
        dropped = before + len(items) - len(self._lines)
        height = len(self._lines)
        if self.virtual_size.height != height:
            size = Size(self.scrollable_content_region.width, height)
            self.set_reactive(ReceiverPane.virtual_size, size)
        if follow:
            self._quiet_scroll_y(self.max_scroll_y)
        elif dropped:
            # Keep the lines the user is reading in place as old ones fall off.
            self._quiet_scroll_y(self.scroll_y - dropped)
        self.dirty = True  # the app decides when to paint (see FanoutApp._drain)

    def _quiet_scroll_y(self, y: float) -> None:
        y = max(0, min(y, self.max_scroll_y))
        self.set_reactive(ReceiverPane.scroll_y, y)
        self.set_reactive(ReceiverPane.scroll_target_y, y)

    def _sync_scrollbar(self) -> None:
        """Give the scrollbar the line count and position set quietly by _append."""
        scroll_update = getattr(self, "_scroll_update", None)
        if scroll_update is not None:
            # The scrollbar is always shown (app.tcss), so no layout is needed.
            scroll_update(self.virtual_size)
        else:  # a Textual without it: take the layout (the size itself is already set)
            self.refresh(layout=True)
        if self.show_vertical_scrollbar:
            self.vertical_scrollbar.position = self.scroll_y

    def _set_scroll_y(self, y: float) -> None:
        # Set directly rather than through scroll_to(), which defers or refuses a
        # move until the next layout has caught up with the virtual size.
        self.scroll_target_y = self.scroll_y = max(0, min(y, self.max_scroll_y))

    def set_received(self, count: int) -> None:
        if count != self.received:
            self.received = count
            self.dirty = True

    def paint(self) -> None:
        """Show what arrived since the last paint: lines, count and rate."""
        self.dirty = False
        self._sync_scrollbar()
        self._update_titles()
        self.refresh()

    def set_state(self, state: StateChange) -> None:
        previous = self.state
        self.state = state
        if state.state is WorkerState.CONSUMING:
            if self._was_consuming and state.queue != previous.queue:
                self.add_marker(
                    f"reconnected — new queue {state.queue}; messages published while "
                    "disconnected were not delivered here"
                )
            self._was_consuming = True
            self._last_marker = ""
        elif state.state in (WorkerState.RECONNECTING, WorkerState.FAILED) and state.detail:
            reason = state.detail.split("; retrying in", 1)[0]
            if reason != self._last_marker:
                self._last_marker = reason
                self.add_marker(f"⚠ {reason}")
        self._update_titles()

    def tick_rate(self, now: float) -> None:
        """Called about once a second: the rate is messages over the last interval.

        Only marks the pane dirty: the border shows the new rate at the next paint,
        which the app staggers across busy panes.
        """
        mark = self._rate_mark
        self._rate_mark = (now, self.received)
        if mark is not None and now > mark[0]:
            rate = (self.received - mark[1]) / (now - mark[0])
            if round(rate) != round(self._rate):
                self._rate = rate
                self.dirty = True

    def rate_label(self) -> str:
        override = getattr(self.app, "rate_label", None) if self.is_attached else None
        return override(self._rate) if override else f"{self._rate:,.0f}/s"

    def _update_titles(self) -> None:
        # Called on every drain: touch the border only when its text changes,
        # since each assignment repaints the pane.
        queue = self.state.queue
        if queue and self.is_attached:
            label = getattr(self.app, "queue_label", None)
            if label is not None:
                queue = label(self.number, queue)
        if self._title_key != (self.number, queue):
            self._title_key = (self.number, queue)
            self.border_title = Content.assemble(
                Content(f"R{self.number} · "),
                Content(sanitize(queue or "no queue", 80)),
                " ",
                _CLOSE,
            )
        state = self.state.state
        counts = f"{self.received:,} recv"
        if self.show_node and self.state.url:
            counts = f"{node_of(self.state.url)} · {counts}"
        if state is WorkerState.CONSUMING:
            subtitle = f"{counts} · {self.rate_label()}"
        elif state is WorkerState.RECONNECTING:
            subtitle = f"{counts} · reconnecting (attempt {self.state.attempt})"
        elif state is WorkerState.FAILED:
            subtitle = f"{counts} · failed: {sanitize(self.state.detail, 200)}"
        else:
            subtitle = f"{counts} · {state.value}"
        if subtitle != self._subtitle:
            self._subtitle = subtitle
            self.border_subtitle = Content(subtitle)
        not_consuming = state is not WorkerState.CONSUMING
        if not_consuming != self._not_consuming:
            self._not_consuming = not_consuming
            self.set_class(not_consuming, "-not-consuming")

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
            return self._strip(self._lines[index]).crop_extend(0, width, style)
        return Strip.blank(width, style)

    def on_resize(self, event: Resize) -> None:
        follow = self.following
        self.virtual_size = Size(self.scrollable_content_region.width, len(self._lines))
        if follow:
            self._set_scroll_y(self.max_scroll_y)

    # Actions -------------------------------------------------------------------
    def action_follow(self) -> None:
        self._set_scroll_y(self.max_scroll_y)

    def action_close_pane(self) -> None:
        self.post_message(self.CloseRequested(self))
