"""One receiver's pane: a stats line and its messages, the receiver's state in
its border. The grid decides when it paints."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from textual.app import ComposeResult
from textual.content import Content
from textual.events import Key, Resize
from textual.message import Message

from ...control.dashboard import QueueDepth
from ...control.receiver import Receiver
from ...model.delivery import Delivery
from ...model.mailbox import Mailbox
from ...model.states import StateChange, WorkerState
from ...present.fit import middle_ellipsis
from ...present.outcomes import ms
from ...present.text import sanitize
from ...transport.broker import node_of
from ..actions import PANE_ACTIONS, bindings
from ..compat import CheapSubtitle
from ..labels import Labels
from .message_view import Marker, MessageView
from .publish_input import PublishInput
from .stats_line import RATE_HISTORY, StatsLine, percentile

# Our own markup, parsed once; the clicks run the pane's actions.
_CLOSE = Content.from_markup("[@click=close_pane]✕[/]")
_DEFAULT_KIND = "exclusive"  # the tutorial's kind, the first to give way
# The pause control at the end of a bound pane's bottom border, in words.
_PAUSE = " ‖ pause "
_RESUME = " ▶ resume "


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
        self._title_key: tuple[str, int, str] | None = None
        self._lost_shown = ""
        self._depth: QueueDepth | None = None  # its queue's last depth reading
        self._depth_old = ""  # how old that reading is, once it missed a round
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
        if (
            self.mailbox.stamped != self._latency_seen
            or self.receiver.lost_line != self._lost_shown
        ):
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
        lost = self.receiver.lost_line
        if stamped != self._latency_seen or lost != self._lost_shown:
            self._latency_seen, self._lost_shown = stamped, lost
            text = self.latency_text(self.mailbox.recent_latencies())
            # What the broker threw away comes first: it is what the pane is for.
            self.stats.set_text(f"⚠ {lost} · {text}" if lost else text)

    @staticmethod
    def latency_text(latencies: list[float]) -> str:
        """Last, p50 and p99 of the publish-to-receive latencies (the latest 1,000)."""
        if not latencies:
            return "latency: none stamped yet"
        ordered = sorted(latencies)
        return (
            f"last {ms(latencies[-1])} · p50 {ms(percentile(ordered, 0.5))} · "
            f"p99 {ms(percentile(ordered, 0.99))}"
        )

    def show_state(self, lines: Sequence[str]) -> None:
        """The receiver's state changed: its border, and the lines that says why."""
        if lines:
            self._append([Marker(line) for line in lines])
        self.update_titles()

    def set_depth(self, depth: QueueDepth | None) -> None:
        # A reading that missed a round says how old it is, in whole seconds.
        old = f" ({depth.age:.0f} s ago)" if depth is not None and depth.stale else ""
        if depth != self._depth or old != self._depth_old:
            self._depth, self._depth_old = depth, old
            self.dirty = True

    @property
    def depth(self) -> int | None:
        """Messages ready in its queue, when known: the last reading less what
        this pane got since, so its count and its queue's depth never add up to
        more than was there."""
        depth = self._depth
        if depth is None:
            return None
        return max(0, depth.messages - (self.mailbox.received - depth.counted))

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
        words = self.receiver.title_words
        if self._title_key != (queue, room, words):
            self._title_key = (queue, room, words)
            # The kind and bindings first: a person compares panes by them; the
            # queue's name takes what room is left (a named queue is in the words).
            head = sanitize(words, 120)
            spec = self.receiver.spec
            if spec.kind in ("durable", "shared") and spec.name and queue == spec.name:
                queue = ""
            # The whole title, however narrow the pane: on hover.
            whole = " · ".join(p for p in (self.receiver.label, head, sanitize(queue, 255)) if p)
            self.tooltip = Content(whole)
            if words == _DEFAULT_KIND and room < len(words) + 3 + 12:
                head = ""  # a narrow pane: the default kind gives way to the queue
            name = middle_ellipsis(sanitize(queue or ("" if head else "no queue"), 80), room)
            if head:
                head = middle_ellipsis(head, max(8, room - min(len(name), 12)))
                name = middle_ellipsis(name, max(0, room - len(head) - 3)) if name else ""
            text = " · ".join(part for part in (head, name) if part)
            self.border_title = Content.assemble(
                Content(f"{self.receiver.label} · "), Content(text), " ", _CLOSE
            )
        state = self.state.state
        counts = f"{self.received:,} recv"
        if self.show_node and self.state.url:
            counts = f"{node_of(self.state.url)} · {counts}"
        if state is WorkerState.CONSUMING:
            # The depth whenever the queue holds messages: a slow consumer's backlog.
            depth = self.depth
            queued = f" · {depth:,} queued{self._depth_old}" if depth else ""
            subtitle = f"{counts} · {self.labels.rate(self._rate)}{queued} · consuming{_PAUSE}"
        elif state is WorkerState.PAUSED:
            # The receiver's own reading while paused comes as a state change, at
            # once; the once-a-second depth only until the first arrives.
            own = self.state.waiting
            waiting = own if own is not None else self.depth
            old = self._depth_old if own is None else ""
            shown = "…" if waiting is None else f"{waiting:,}{old}"
            subtitle = f"{counts} · paused · {shown} waiting{_RESUME}"
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
                # The state is a control: a click pauses or resumes; the words
                # at its end say which, drawn as a control.
                content = content.stylize("@click=toggle_pause", 0, len(subtitle))
                control = _PAUSE if state is WorkerState.CONSUMING else _RESUME
                at = subtitle.rfind(control)
                if at >= 0:
                    content = content.stylize("bold reverse", at + 1, at + len(control))
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
            box = self.screen.query_one(PublishInput)  # the message, never the key field
            event.stop()
            event.prevent_default()
            self.screen.set_focus(box)
            box.insert_text_at_cursor(event.character)

    def on_message_view_clicked(self, event: MessageView.Clicked) -> None:
        event.stop()
        self.focus()
        self._open(self.view.selected())
