"""One receiver's pane: a stats line with a rate sparkline, and its messages.

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
from textual.app import ComposeResult
from textual.cache import LRUCache
from textual.content import Content
from textual.events import Click, Key, Resize
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Input

from ...control.dashboard import Receiver
from ...model.delivery import Delivery
from ...model.mailbox import Mailbox
from ...model.states import StateChange, WorkerState
from ...present.fit import middle_ellipsis
from ...present.outcomes import ms
from ...present.text import sanitize, seq_label
from ...transport.broker import node_of
from ..actions import PANE_ACTIONS, bindings
from ..compat import (
    CheapSubtitle,
    set_scroll_y_quietly,
    set_virtual_size_quietly,
    update_scrollbars,
)
from ..labels import Labels

COMPACT_WIDTH = 44  # narrower than this, a pane line leaves out the receive time
PREVIEW_CHARS = 300  # a pane line is a preview; the full body lives in the delivery
_STRIP_CACHE = 512  # styled lines kept per pane: a few screens' worth
RATE_HISTORY = 60  # seconds of rate in the sparkline
SPARK_WIDTH = 16  # its columns at most (a third of the line at most)

# Our own markup, parsed once; the clicks run the pane's actions.
_CLOSE = Content.from_markup("[@click=close_pane]✕[/]")


class Marker(str):
    """A line the pane adds itself (a failure, a reconnect), not a delivery."""

    __slots__ = ()


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty sequence."""
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


class StatsLine(Widget):
    """The pane's latency line, with the rate's sparkline at its right end.

    One widget rather than a text and a Textual ``Sparkline`` side by side: a
    busy pane's paint re-renders both, and under a burst the UI thread's time
    is taken from the consumer threads (the Sparkline alone was 0.5 ms of a
    ~4 ms paint, its row container another 0.1 ms). It repaints without
    asking for a layout (``Static.update`` lays out the whole screen).
    """

    def __init__(self, *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self._text = ""
        self._rates: list[float] = []

    def set_text(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self.refresh()

    def set_rates(self, rates: list[float]) -> None:
        """The per-second rates, oldest first; drawn once there are two."""
        rates = rates if len(rates) > 1 else []
        if rates != self._rates:
            self._rates = rates
            self.refresh()

    def render(self) -> Content:
        width = self.size.width
        spark = sparkline(self._rates, min(SPARK_WIDTH, width // 3))
        text = self._text[: max(0, width - len(spark) - 1)]
        if not spark:
            return Content(text)  # plain text: never parsed as markup
        return Content.assemble(text.ljust(width - len(spark)), (spark, "$accent"))


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int) -> str:
    """``values`` in at most ``width`` bars, each the largest of its share of them."""
    if len(values) < 2 or width < 1:
        return ""
    count = min(width, len(values))
    buckets = [
        max(values[i * len(values) // count : (i + 1) * len(values) // count]) for i in range(count)
    ]
    low, high = min(buckets), max(buckets)
    span = high - low
    top = len(_BARS) - 1
    return "".join(_BARS[round((v - low) / span * top) if span else 0] for v in buckets)


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
            body = Segment(" " + sanitize(item.body, PREVIEW_CHARS), styles["body"])
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


class ReceiverPane(CheapSubtitle, can_focus=True):
    """Shows what one receiver got, and its state. The grid decides when it paints."""

    DEFAULT_CSS = """
    ReceiverPane {
        layout: vertical;
        border: round $primary 60%;
        border-title-color: $text;
        border-subtitle-color: $text-muted;
        border-subtitle-align: right;
        height: 1fr;
        width: 1fr;
    }
    ReceiverPane:focus {
        border: round $accent;
    }
    ReceiverPane.-not-consuming {
        border: round $warning 70%;
    }
    ReceiverPane.-paused {
        border: round $secondary;
    }
    ReceiverPane.-paused:focus {
        border: round $accent;
    }
    ReceiverPane .pane-stats {
        width: 1fr;
        height: 1;
        color: $text-muted;
    }
    """

    BINDINGS = bindings(PANE_ACTIONS)

    class CloseRequested(Message):
        def __init__(self, pane: ReceiverPane) -> None:
            super().__init__()
            self.pane = pane

    class DetailRequested(Message):
        def __init__(self, pane: ReceiverPane, delivery: Delivery) -> None:
            super().__init__()
            self.pane = pane
            self.delivery = delivery

    class PauseToggled(Message):
        def __init__(self, pane: ReceiverPane) -> None:
            super().__init__()
            self.pane = pane

    def __init__(
        self,
        receiver: Receiver,
        labels: Labels,
        *,
        scrollback: int = 1000,
        origin: str | None = None,
    ) -> None:
        super().__init__(id=f"receiver-{receiver.number}", classes="receiver-pane")
        self.receiver = receiver
        self.number = receiver.number
        self.labels = labels
        # Which node, when there is a choice.
        self.show_node = len(receiver.worker.broker.urls) > 1
        self.view = MessageView(scrollback, origin, labels)
        self.stats = StatsLine(classes="pane-stats")
        self._title_key: tuple[str, int] | None = None
        self._subtitle = ""
        self._state_classes: tuple[bool, bool] | None = None
        self.dirty = False  # it has changes the screen does not show yet
        self.received = 0
        self._rate = 0.0
        self._rate_mark: tuple[float, int] | None = None
        self.rates: deque[float] = deque([0.0], maxlen=RATE_HISTORY)
        self._rates_changed = False
        self._latency_seen = 0  # mailbox.stamped when the stats line was drawn
        self.update_titles()

    def compose(self) -> ComposeResult:
        yield self.stats
        yield self.view

    # Reading -------------------------------------------------------------------
    @property
    def mailbox(self) -> Mailbox:
        return self.receiver.mailbox

    @property
    def state(self) -> StateChange:
        return self.receiver.state

    @property
    def line_count(self) -> int:
        return len(self.view.lines)

    def plain_lines(self) -> list[str]:
        """The pane's lines as text (tests use it)."""
        return self.view.plain_lines()

    @property
    def following(self) -> bool:
        return self.view.following

    @property
    def paused(self) -> bool:
        return self.state.state is WorkerState.PAUSED

    def deliveries(self) -> list[Delivery]:
        """What the pane holds, oldest first (export uses it)."""
        return [item for item in self.view.lines if isinstance(item, Delivery)]

    # Updating (UI thread, from the grid's drain) -------------------------------
    def add_deliveries(self, deliveries: list[Delivery]) -> None:
        self._append(deliveries)

    def add_marker(self, text: str) -> None:
        self._append([Marker(text)])

    def _append(self, items: Sequence[Delivery | Marker]) -> None:
        self.view.append(items)
        self.dirty = True  # the grid decides when to paint

    def set_received(self, count: int) -> None:
        if count != self.received:
            self.received = count
            self.dirty = True
        if self.mailbox.stamped != self._latency_seen:
            self.dirty = True

    def paint(self) -> None:
        """Show what arrived since the last paint: lines, count, rate and latency."""
        self.dirty = False
        self.view.sync()
        self.update_titles()
        if self._rates_changed:
            self._rates_changed = False
            self.stats.set_rates(list(self.rates))
        stamped = self.mailbox.stamped
        if stamped != self._latency_seen:
            self._latency_seen = stamped
            self.stats.set_text(self.latency_text(self.mailbox.recent_latencies()))

    @staticmethod
    def latency_text(latencies: list[float]) -> str:
        """Last, p50 and p99 of the publish-to-receive latencies (the latest 1,000)."""
        if not latencies:
            return "latency: none stamped yet"
        ordered = sorted(latencies)
        return (
            f"{ms(latencies[-1])} · p50 {ms(percentile(ordered, 0.5))} · "
            f"p99 {ms(percentile(ordered, 0.99))}"
        )

    def show_state(self, lines: Sequence[str]) -> None:
        """The receiver's state changed: its border, and the lines that says why."""
        if lines:
            self._append([Marker(line) for line in lines])
        self.update_titles()

    def tick_rate(self, now: float) -> None:
        """Called about once a second: the rate is messages over the last interval.

        Only marks the pane dirty: the border shows the new rate at the next paint,
        which the grid staggers across busy panes.
        """
        # The mailbox's count, not the pane's: a busy pane is drained only about
        # once a second, which would make some seconds look empty.
        received = self.mailbox.received
        mark = self._rate_mark
        self._rate_mark = (now, received)
        if mark is not None and now > mark[0]:
            rate = (received - mark[1]) / (now - mark[0])
            self.rates.append(rate)
            if rate or any(self.rates):
                # Drawn at the next paint, not now: every pane's sparkline changing
                # in the same frame repaints the bounding box of them all, i.e. the
                # whole grid, once a second (a stall of seconds with 32 panes).
                self._rates_changed = True
                self.dirty = True
            if round(rate) != round(self._rate):
                self._rate = rate
                self.dirty = True

    def update_titles(self) -> None:
        # Called on every drain: touch the border only when its text changes,
        # since each assignment repaints the pane.
        queue = self.state.queue
        if queue:
            queue = self.labels.queue(self.receiver.label, queue)
        # Room for the name between "╭ R12 · " and " ✕ ╮"; the name is cut in the
        # middle, since server-named queues differ at both ends.
        room = max(8, self.outer_size.width - len(self.receiver.label) - 12)
        if self._title_key != (queue, room):
            self._title_key = (queue, room)
            name = middle_ellipsis(sanitize(queue or "no queue", 80), room)
            self.border_title = Content.assemble(
                Content(f"{self.receiver.label} · "), Content(name), " ", _CLOSE
            )
        state = self.state.state
        counts = f"{self.received:,} recv"
        if self.show_node and self.state.url:
            counts = f"{node_of(self.state.url)} · {counts}"
        if state is WorkerState.CONSUMING:
            subtitle = f"{counts} · {self.labels.rate(self._rate)} · ⏸"
        elif state is WorkerState.PAUSED:
            waiting = self.state.waiting
            depth = "…" if waiting is None else f"{waiting:,}"
            subtitle = f"{counts} · paused · {depth} waiting · ▶"
        elif state is WorkerState.RECONNECTING:
            subtitle = f"{counts} · reconnecting (attempt {self.state.attempt})"
        elif state is WorkerState.FAILED:
            subtitle = f"{counts} · failed: {sanitize(self.state.detail, 200)}"
        else:
            subtitle = f"{counts} · {state.value}"
        wanted = self.receiver.worker.pause_requested
        if wanted != (state is WorkerState.PAUSED):
            # Asked for and not done yet (or not possible until reconnected).
            subtitle += " · pausing…" if wanted else " · resuming…"
        if subtitle != self._subtitle:
            self._subtitle = subtitle
            content = Content(subtitle)
            if state in (WorkerState.CONSUMING, WorkerState.PAUSED):
                # The state is a control: a click pauses or resumes.
                content = content.stylize("@click=toggle_pause", 0, len(subtitle))
            # The count changes on every paint; only the bottom row shows it.
            self.set_subtitle(content)
        classes = (state is WorkerState.PAUSED, state is not WorkerState.CONSUMING)
        if classes != self._state_classes:
            self._state_classes = classes
            self.set_class(classes[0], "-paused")
            self.set_class(classes[1] and not classes[0], "-not-consuming")

    def on_resize(self, event: Resize) -> None:
        self.update_titles()  # the queue's name fits the new width

    # Actions -------------------------------------------------------------------
    def action_follow(self) -> None:
        self.view.follow()

    def action_top(self) -> None:
        self.view.cursor = None
        self.view.set_scroll_y(0)

    def action_page(self, direction: int) -> None:
        height = max(1, self.view.scrollable_content_region.height)
        self.view.set_scroll_y(self.view.scroll_y + direction * height)

    def action_cursor(self, delta: int) -> None:
        self.view.move_cursor(delta)

    def action_open_selected(self) -> None:
        if self.view.cursor_index is None:
            self.view.move_cursor(-1)  # nothing selected yet: select the newest first
        self._open(self.view.selected())

    def _open(self, item: Delivery | Marker | None) -> None:
        """A message opens its details; a marker (a reason, often longer than the
        pane is wide) is shown whole."""
        if isinstance(item, Marker):
            self.notify(sanitize(item, 2000), title=f"R{self.number}", markup=False, timeout=15)
        elif item is not None:
            self.post_message(self.DetailRequested(self, item))

    def action_toggle_pause(self) -> None:
        self.post_message(self.PauseToggled(self))

    def action_close_pane(self) -> None:
        self.post_message(self.CloseRequested(self))

    def on_key(self, event: Key) -> None:
        # Typing always goes to the input, wherever focus is: a person types a
        # message, presses Enter, and expects it published, not a pane's action.
        # Focus moves at once (not via focus(), which waits a turn of the loop),
        # so the keys typed next go straight to the input too.
        # (A space is the pane's pause key, unless it was typed after a redirect;
        # "?" opens help, as everywhere but the input.)
        typing = event.character != "?" and (
            event.character != " " or self.screen.focused is not self
        )
        if event.is_printable and event.character and typing:
            box = self.screen.query(Input).first(Input)
            event.stop()
            event.prevent_default()
            self.screen.set_focus(box)
            box.insert_text_at_cursor(event.character)

    def on_message_view_clicked(self, event: MessageView.Clicked) -> None:
        event.stop()
        self.focus()
        self._open(self.view.selected())
