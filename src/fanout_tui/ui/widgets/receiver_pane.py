"""One receiver's pane: a Line API view of its messages, newest at the bottom.

Rendering is the expensive part of the dashboard (see DESIGN.md): a
``Log``/``RichLog`` re-renders every visible line on every refresh. Here each
message becomes one pre-styled ``Strip`` when it arrives, and ``render_line``
only crops the strips that are on screen.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.content import Content
from textual.events import Resize
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...amqp.display import sanitize, seq_label, time_of_day
from ...amqp.events import Delivery, Mailbox, StateChange, WorkerState
from ...amqp.receiver import ReceiverWorker

PREVIEW_CHARS = 300  # a pane line is a preview; the full body lives in the delivery


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
        self.origin = origin
        self._strips: deque[Strip] = deque(maxlen=scrollback)
        self._styles: dict[str, Style] = {}
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
        return len(self._strips)

    def plain_lines(self) -> list[str]:
        """The pane's lines as text (tests and export use it)."""
        return [strip.text for strip in self._strips]

    @property
    def following(self) -> bool:
        return self.scroll_y >= self.max_scroll_y

    # Updating (UI thread, from the app's drain timer) --------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = {}  # rebuilt for the next lines, from the new styles

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

    def add_deliveries(self, deliveries: Iterable[Delivery]) -> None:
        styles = self._line_styles()
        app = self.app
        fmt_time = getattr(app, "time_label", time_of_day)
        new = []
        for delivery in deliveries:
            label = seq_label(delivery, self.origin)
            new.append(
                Strip(
                    [
                        Segment(f"{label:>6} ", styles["ext" if label == "ext" else "seq"]),
                        Segment(fmt_time(delivery.received_at), styles["time"]),
                        Segment(" " + sanitize(delivery.body, PREVIEW_CHARS), styles["body"]),
                    ]
                )
            )
        self._append(new)

    def add_marker(self, text: str) -> None:
        style = self._line_styles()["marker"]
        self._append([Strip([Segment(sanitize(text, 1000), style)])])

    def _append(self, strips: list[Strip]) -> None:
        if not strips:
            return
        follow = self.following
        before = len(self._strips)
        self._strips.extend(strips)
        dropped = before + len(strips) - len(self._strips)
        self.virtual_size = Size(self.scrollable_content_region.width, len(self._strips))
        if follow:
            self._set_scroll_y(self.max_scroll_y)
        elif dropped:
            # Keep the lines the user is reading in place as old ones fall off.
            self._set_scroll_y(self.scroll_y - dropped)
        self.refresh()

    def _set_scroll_y(self, y: float) -> None:
        # Set directly rather than through scroll_to(): the scrollbar appears only
        # at the next layout, and until then scroll_to() refuses to move.
        self.scroll_target_y = self.scroll_y = max(0, min(y, self.max_scroll_y))

    def set_received(self, count: int) -> None:
        if count != self.received:
            self.received = count
            self._update_titles()

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
        """Called about once a second: the rate is messages over the last interval."""
        mark = self._rate_mark
        self._rate_mark = (now, self.received)
        if mark is not None and now > mark[0]:
            rate = (self.received - mark[1]) / (now - mark[0])
            if round(rate) != round(self._rate):
                self._rate = rate
                self._update_titles()

    def rate_label(self) -> str:
        override = getattr(self.app, "rate_label", None) if self.is_attached else None
        return override(self._rate) if override else f"{self._rate:,.0f}/s"

    def _update_titles(self) -> None:
        queue = self.state.queue
        if self.is_attached:
            label = getattr(self.app, "queue_label", None)
            if label is not None and queue:
                queue = label(self.number, queue)
        name = queue or "no queue"
        self.border_title = Content.assemble(
            Content(f"R{self.number} · "),
            Content(sanitize(name, 80)),
            " ",
            Content.from_markup("[@click=close_pane]✕[/]"),
        )
        state = self.state.state
        counts = f"{self.received:,} recv"
        if state is WorkerState.CONSUMING:
            subtitle = f"{counts} · {self.rate_label()}"
        elif state is WorkerState.RECONNECTING:
            subtitle = f"{counts} · reconnecting (attempt {self.state.attempt})"
        elif state is WorkerState.FAILED:
            subtitle = f"{counts} · failed: {sanitize(self.state.detail, 200)}"
        else:
            subtitle = f"{counts} · {state.value}"
        self.border_subtitle = Content(subtitle)
        self.set_class(state is not WorkerState.CONSUMING, "-not-consuming")

    # Rendering -----------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        index = round(self.scroll_y) + y
        width = self.scrollable_content_region.width
        if 0 <= index < len(self._strips):
            return self._strips[index].crop_extend(0, width, self.rich_style)
        return Strip.blank(width, self.rich_style)

    def on_resize(self, event: Resize) -> None:
        follow = self.following
        self.virtual_size = Size(self.scrollable_content_region.width, len(self._strips))
        if follow:
            self._set_scroll_y(self.max_scroll_y)

    # Actions -------------------------------------------------------------------
    def action_follow(self) -> None:
        self._set_scroll_y(self.max_scroll_y)

    def action_close_pane(self) -> None:
        self.post_message(self.CloseRequested(self))
