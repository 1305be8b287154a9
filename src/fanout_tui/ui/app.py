"""The dashboard: a publish input and a live grid of receiver panes.

Threads: every receiver and the publisher run in their own thread with their
own connection (``transport/``). The UI never waits on them: they drop deliveries
and results into bounded deques, and a timer here drains those in batches,
at once when traffic is light and a few times a second under load.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import math
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Container, Horizontal
from textual.content import Content
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, ProgressBar, Static

from ..locations import history_file
from ..model.delivery import Delivery
from ..model.export import ExportError, default_export_path, export_jsonl
from ..model.history import History
from ..model.mailbox import Mailbox
from ..model.states import StateChange, WorkerState
from ..model.tracking import DeliveryTracker, Outcome, ReceiverView, TrackedBurst, severity
from ..present.text import sanitize, seq_label, time_of_day
from ..settings import MAX_RECEIVERS, Settings
from ..transport.broker import EXCHANGE_TYPE
from ..transport.burst import BurstWorker
from ..transport.publisher import MessageProperties, PublisherWorker, PublishResult, PublishStatus
from ..transport.receiver import ReceiverWorker
from .screens.bindings import BindingsScreen
from .screens.detail import MessageDetailScreen
from .screens.forms import BurstRequest, BurstScreen, PropertiesScreen, describe_properties
from .screens.help import HelpScreen
from .widgets.delivery_log import DeliveryLog
from .widgets.publish_input import PublishInput
from .widgets.receiver_pane import ReceiverPane

DRAIN_INTERVAL = 1 / 30  # how often the UI looks for new deliveries
BUSY_WINDOW = 0.25  # seconds over which a pane's traffic is counted
BUSY_WINDOW_COUNT = 8  # more deliveries than this in a window (~32/s) count as load
BUSY_HOLD = 1.0  # a pane stays busy this long after its last large batch
BUSY_PAINT_INTERVAL = 1.0  # a busy pane is painted about once a second (see benchmarks/)...
BUSY_PAINTS_PER_SECOND = 4  # ...or less often when many are busy: at most this many paints
BUSY_PAINT_MAX = 4.0  # a second in all, and never less often than this
GC_YOUNG_THRESHOLD = 20_000  # allocations between young-generation collections (default 700)
QUIT_JOIN_TIMEOUT = 1.5  # all workers together, so quitting stays under 2 s
NOTE_DEDUP_SECONDS = 10.0  # receivers reporting the same repair within this count once
BURST_OVER = 0.03  # seconds with no delivery to any receiver that end a burst
LATE_DRAIN = 2.5 * DRAIN_INTERVAL  # a drain this long after the last means the loop is behind
TRACKING_REFRESH = 1.0  # seconds between redraws of what tracking shows, under load
_OUTCOMES = {
    PublishStatus.ROUTED: Outcome.ROUTED,
    PublishStatus.UNROUTABLE: Outcome.UNROUTABLE,
    PublishStatus.NACKED: Outcome.NACKED,
    PublishStatus.FAILED: Outcome.FAILED,
}


def grid_shape(count: int) -> tuple[int, int]:
    """Near-square columns x rows: 1 -> 1x1, 2 -> 2x1, 3-4 -> 2x2, 5-6 -> 3x2, 7-9 -> 3x3."""
    if count <= 0:
        return 1, 1
    columns = math.ceil(math.sqrt(count))
    return columns, math.ceil(count / columns)


class FanoutApp(App[None]):
    # Absolute, so subclasses defined elsewhere (snapshot tests) find it too.
    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "fanout-tui"

    BINDINGS = [
        Binding("ctrl+n", "add_receiver", "Add receiver", priority=True),
        Binding("ctrl+r", "remove_receiver", "Remove receiver", priority=True),
        Binding("ctrl+l", "toggle_log", "Delivery log", priority=True),
        Binding("ctrl+b", "bindings", "Bindings", priority=True),
        # Enabled only while a burst runs and the dashboard is on top (check_action).
        Binding("escape", "cancel_burst", "Cancel burst", priority=True),
        Binding("f1", "help", "Help"),
        Binding("question_mark", "help", "Help", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.broker = self.settings.broker()
        self.publisher = PublisherWorker(self.broker)
        self.history = History(history_file())
        self._next_number = 1
        # Every receiver thread started and not yet seen dead; kept here rather than
        # found through the panes, which are gone from the DOM by the time of unmount.
        self._receiver_threads: list[ReceiverWorker] = []
        self._panes: list[ReceiverPane] = []  # in grid order
        self._pending: dict[int, str] = {}  # seq -> text, until its result arrives
        self._status_text = ""
        self._shutting_down = False
        self._wake_pending = False  # a drain is scheduled from a worker's wake-up
        self._end_check_pending = False  # a drain is scheduled for when a burst may end
        self._last_drain = 0.0
        self._busy_count = 0  # busy panes after the last drain
        self._last_note: tuple[str, float] = ("", 0.0)
        self.tracker = DeliveryTracker()
        # What the result line follows: the last message typed, or the last burst.
        self._shown: int | TrackedBurst | None = None
        self._tracking_drawn = (-1, 0.0)  # tracker version and time last drawn
        self._views_changed = False  # a receiver changed state since then
        self._views: dict[int, ReceiverView] | None = None  # see receiver_views()
        self.burst: BurstWorker | None = None
        self._burst_record: TrackedBurst | None = None

    # Hooks a snapshot test may override for deterministic output ---------------
    def time_label(self, timestamp: float) -> str:
        return time_of_day(timestamp)

    def queue_label(self, number: int, queue: str) -> str:
        return queue

    def broker_label(self) -> str:
        return self.broker.masked_urls[0]

    def rate_label(self, rate: float) -> str:
        return f"{rate:,.0f}/s"

    # Layout --------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="top"):
            yield Static(id="status")
            yield Static(Content.from_markup("[@click=app.add_receiver] + receiver [/]"), id="add")
        with Horizontal(id="main"):
            with Container(id="grid"):
                yield Static(
                    Content(
                        "No receivers. Press ctrl+n to add one; "
                        "until then a publish reaches no queue."
                    ),
                    id="empty",
                )
            yield DeliveryLog()
        with Horizontal(id="burst"):
            yield Static(id="burst-label")
            yield ProgressBar(id="burst-progress", show_eta=True)
        yield PublishInput(self.history, self.broker.exchange)
        yield Static(id="result")
        yield Footer()

    def on_mount(self) -> None:
        self._ui_loop = asyncio.get_running_loop()
        self._ui_context = contextvars.copy_context()
        # The consumer threads allocate a few objects per delivery, so under a burst
        # the collector runs constantly and, in the UI thread, walks everything the
        # panes hold. Fewer, larger young-generation passes, and the objects that
        # exist after start-up (Textual, pika, the DOM) never scanned again.
        # Measured with benchmarks/fanout_bench.py: less event-loop lateness.
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 50)
        self.history.load()
        if self.history.error:
            self._show_result(self.history.error, "warning")
        self.publisher.start()
        for _ in range(self.settings.receivers):
            self.add_receiver()
        self._relayout()
        self._update_status()
        self.set_interval(DRAIN_INTERVAL, self._drain)
        self.set_interval(1.0, self._every_second)
        self.query_one(PublishInput).focus()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Add receiver", "Start another receiver pane", self.action_add_receiver)
        yield SystemCommand(
            "Remove receiver",
            "Stop the focused receiver (or the newest) and delete its queue",
            self.action_remove_receiver,
        )
        yield SystemCommand(
            "Pause/resume receiver",
            "Cancel the focused receiver's consumer and let its queue fill, or consume again",
            self.action_toggle_pause,
        )
        yield SystemCommand(
            "Publish burst…",
            "Publish numbered copies, with a progress bar (Escape cancels)",
            self.action_burst,
        )
        yield SystemCommand(
            "Publish properties…",
            "Content type, delivery mode and headers of the next publishes",
            self.action_properties,
        )
        yield SystemCommand(
            "Export pane to JSON Lines",
            "Write the focused receiver's messages, full bodies included, to a file",
            self.action_export,
        )
        yield SystemCommand(
            "Delivery log", "Show or hide which receivers got each message", self.action_toggle_log
        )
        yield SystemCommand(
            "Bindings",
            "The exchange's bindings, as rabbitmqctl list_bindings shows them",
            self.action_bindings,
        )

    @property
    def panes(self) -> list[ReceiverPane]:
        # Kept as a list rather than queried: a DOM query walks every widget and
        # matches selectors, which at 30 drains a second with 8 panes was a
        # quarter of the UI thread's time under a burst (profiled).
        return list(self._panes)

    def receiver_views(self) -> dict[int, ReceiverView]:
        """Every receiver as the app last saw it: what tracking compares with.

        One dict shared until a receiver changes (never mutated): every tracked
        message keeps a reference, and 10,000 copies of 64 entries would not be small.
        """
        if self._views is None:
            self._views = {p.number: (p.state.state, p.state.queue) for p in self._panes}
        return self._views

    def target_pane(self) -> ReceiverPane | None:
        """The focused pane, else the newest (what palette commands act on)."""
        node = self.focused
        while node is not None:  # the pane itself, or something inside it
            if isinstance(node, ReceiverPane):
                return node
            node = node.parent if isinstance(node.parent, Widget) else None
        panes = self.panes
        return panes[-1] if panes else None

    # Receivers -----------------------------------------------------------------
    def add_receiver(self) -> ReceiverPane | None:
        if len(self.panes) >= MAX_RECEIVERS:
            self.notify(
                f"At most {MAX_RECEIVERS} receivers; remove one (ctrl+r) before adding another.",
                severity="warning",
                markup=False,
            )
            return None
        number = self._next_number
        self._next_number += 1
        mailbox = Mailbox(max_deliveries=self.settings.scrollback, origin=self.publisher.origin)
        mailbox.waker = self._wake_from_thread
        worker = ReceiverWorker(self.broker, mailbox, name=f"R{number}")
        pane = ReceiverPane(
            number, worker, scrollback=self.settings.scrollback, origin=self.publisher.origin
        )
        self.query_one("#grid").mount(pane)
        self._panes.append(pane)
        self._views = None
        self._receiver_threads.append(worker)
        worker.start()
        self._relayout()
        return pane

    async def remove_receiver(self, pane: ReceiverPane) -> None:
        pane.worker.request_stop()  # never join here: the UI must not wait on the network
        was_focused = pane.has_focus
        if pane in self._panes:
            self._panes.remove(pane)
            self._views = None
        await pane.remove()
        self._relayout()
        if was_focused:
            self.query_one(PublishInput).focus()

    def action_add_receiver(self) -> None:
        self.add_receiver()

    async def action_remove_receiver(self) -> None:
        target = self.target_pane()
        if target is None:
            self.notify("No receiver to remove.", severity="warning", markup=False)
            return
        await self.remove_receiver(target)

    def action_toggle_pause(self) -> None:
        target = self.target_pane()
        if target is None:
            self.notify("No receiver to pause.", severity="warning", markup=False)
            return
        self.toggle_pause(target)

    def toggle_pause(self, pane: ReceiverPane) -> None:
        # The worker acts on it between waits and reports PAUSED / CONSUMING;
        # until then the border says it was asked for.
        pane.worker.set_paused(not pane.worker.pause_requested)
        pane.update_titles()

    @on(ReceiverPane.PauseToggled)
    def _pause_toggled(self, event: ReceiverPane.PauseToggled) -> None:
        self.toggle_pause(event.pane)

    @on(ReceiverPane.CloseRequested)
    async def _close_pane(self, event: ReceiverPane.CloseRequested) -> None:
        await self.remove_receiver(event.pane)

    def _relayout(self) -> None:
        panes = self.panes
        grid = self.query_one("#grid")
        columns, rows = grid_shape(len(panes))
        grid.styles.grid_size_columns = columns
        grid.styles.grid_size_rows = rows
        self.query_one("#empty").display = not panes
        self._update_status()

    # Publishing ----------------------------------------------------------------
    @on(PublishInput.Publish)
    def _publish(self, event: PublishInput.Publish) -> None:
        seq = self.publisher.publish(event.text.encode("utf-8"))
        self._pending[seq] = event.text
        self.tracker.published(seq, _quote(event.text), self.receiver_views(), time.time())
        self._shown = seq
        self._show_tracked()

    def _on_result(self, result: PublishResult) -> None:
        text = self._pending.pop(result.seq, None)
        self.tracker.confirmed(result.seq, _OUTCOMES[result.status], result.reason)
        failed = result.status not in (PublishStatus.ROUTED, PublishStatus.UNROUTABLE)
        if failed and text is not None:
            self.query_one(PublishInput).restore(text)

    def _show_tracked(self) -> None:
        """The result line: the last message published, who got it, how late; live."""
        if isinstance(self._shown, TrackedBurst):
            self._show_result(self.tracker.burst_summary(self._shown), severity(self._shown))
            return
        message = self.tracker.get(self._shown) if self._shown is not None else None
        if message is not None:
            text = self.tracker.summary(message, self.receiver_views(), self.broker.exchange)
            self._show_result(text, severity(message))

    def _show_result(self, text: str, kind: str) -> None:
        result = self.query_one("#result", Static)
        content = Content(sanitize(text, 1000))
        if result.visual != content:  # a repaint, only on change; its size is fixed
            result.update(content, layout=False)
        result.set_classes(kind)

    # The drain timer -----------------------------------------------------------
    def _drain(self) -> None:
        """Move what the workers handed over into the panes, and paint.

        Painting is the expensive part (Textual's line pipeline costs a few ms per
        pane), and under a burst the UI's CPU is taken from the consumer threads
        through the GIL. A quiet pane is painted at once, so a typed message shows
        immediately; a busy pane about once a second, less often when many are busy
        (at most BUSY_PAINTS_PER_SECOND busy-pane paints a second in all), and only
        one busy pane per tick, so no single tick holds the event loop for long. A
        busy pane is not even drained between its paints.
        """
        self._wake_pending = False  # before draining: a delivery landing now wakes us again
        if self._shutting_down or not self.is_running:
            return  # timers and wake-ups can still fire while the screen is torn down
        with contextlib.suppress(NoMatches):  # ... or just as it goes
            self._drain_panes()

    def _drain_panes(self) -> None:
        now = time.monotonic()
        # Back-pressure: when this drain comes late, the event loop is behind
        # (the screen has yet to catch up with earlier paints), so no busy pane
        # is painted this time. Otherwise several panes' paints pile up before
        # one screen update, Textual repaints the bounding box of them all, the
        # loop falls further behind: seconds-long stalls with 32 panes (measured).
        late = now - self._last_drain > LATE_DRAIN
        self._last_drain = now
        painted_busy = late
        # Measured with the benchmark at N = 8: painting each busy pane every 2 s
        # rather than every 1 s took the loop's lateness p99 from ~250 to ~130 ms.
        interval = min(
            BUSY_PAINT_MAX, max(BUSY_PAINT_INTERVAL, self._busy_count / BUSY_PAINTS_PER_SECOND)
        )
        hold = max(BUSY_HOLD, interval)  # busy until its next paint at least
        busy_count = 0
        states_changed = False
        received = self.tracker.received
        # When no receiver has had anything for BURST_OVER, the burst is over:
        # every busy pane shows where it ended now rather than at its next turn,
        # up to BUSY_PAINT_MAX later. All receivers at once, not each on its own:
        # under load one consumer thread can get no GIL for 0.3 s mid-burst
        # (measured), and then panes would paint out of turn all the time.
        # Timed from when the last delivery landed, not from the drain that saw
        # it: with that and 0.03 s rather than 0.05, the tail from the last copy
        # to the screen at N = 8 went from 70-92 ms to 33-64 ms (alternating runs).
        last_at = max((pane.mailbox.last_at for pane in self._panes), default=0.0)
        quiet_for = time.time() - last_at
        burst_over = quiet_for >= BURST_OVER
        for pane in self._panes:
            mailbox = pane.mailbox
            # Tracking sees every copy of this app's messages, even those of a
            # pane too busy to show them yet (a short deque drained every tick),
            # and before the pane's state changes, so a reconnect does not count
            # as missed what arrived just before it.
            tracked = mailbox.drain_tracked()
            if tracked:
                number = pane.number
                for seq, latency in tracked:
                    received(number, seq, latency)
            for event in mailbox.drain_events():
                states_changed = True
                self._views_changed = True  # what tracking shows depends on the states
                self._views = None
                self._count_missed(pane, event)
                pane.set_state(event)
                if event.note:
                    self._note_for_all(event.note, now)
            if burst_over and pane.busy_until > now:
                pane.busy_until = 0.0
            if pane.busy_until > now and (painted_busy or now < pane.next_paint):
                # Not this busy pane's turn: its deliveries wait in the mailbox,
                # which is bounded like the pane, so nothing grows meanwhile. Its
                # ``ready`` stays set, so its worker does not wake us either.
                busy_count += 1
                continue
            mailbox.ready.clear()  # before draining: a later delivery wakes us again
            deliveries = mailbox.drain_deliveries()
            if deliveries:
                pane.add_deliveries(deliveries)
                if now - pane.window_start > BUSY_WINDOW:
                    pane.window_start, pane.window_count = now, 0
                pane.window_count += len(deliveries)
                if pane.window_count > BUSY_WINDOW_COUNT:
                    pane.busy_until = now + hold
            busy_count += pane.busy_until > now
            pane.set_received(mailbox.received)
            if not pane.dirty:
                continue
            if pane.busy_until <= now:
                pane.paint()
            elif not painted_busy and now >= pane.next_paint:
                pane.paint()
                pane.next_paint = now + interval
                painted_busy = True
        self._busy_count = busy_count
        if busy_count and not burst_over and not self._end_check_pending:
            # Look again just when the burst may be over rather than at the next
            # tick, up to a tick later. Mid-burst the last delivery is only
            # microseconds old, so this is due after the next tick and not armed.
            due = BURST_OVER - quiet_for
            if due < DRAIN_INTERVAL - 0.005:
                self._end_check_pending = True
                self._ui_loop.call_later(due, self._end_check, context=self._ui_context)
        if states_changed:  # "n consuming" at once, not at the next second's tick
            self._update_status()
        for result in self.publisher.drain_results():
            self._on_result(result)
        self._sync_burst()
        changed = self._views_changed or self.tracker.version != self._tracking_drawn[0]
        if changed and (
            now - self._tracking_drawn[1] >= TRACKING_REFRESH
            or self._tracking_drawn[0] < 0
            or busy_count == 0
        ):
            self._draw_tracking(now)

    def _draw_tracking(self, now: float) -> None:
        self._tracking_drawn = (self.tracker.version, now)
        self._views_changed = False
        self._show_tracked()
        log = self.query_one(DeliveryLog)
        if log.display:
            log.update_from(self.tracker, self.receiver_views(), self.broker.exchange)

    def _count_missed(self, pane: ReceiverPane, event: StateChange) -> None:
        """On a reconnect, say which of this app's messages the pane will never get."""
        before = pane.state
        if event.state not in (WorkerState.CONSUMING, WorkerState.PAUSED) or not event.queue:
            return
        if before.queue == event.queue or pane.missed_counted_at == 0.0:
            pane.missed_counted_at = pane.missed_counted_at or event.at
            return
        missed = self.tracker.missed(pane.number, event.queue, pane.missed_counted_at, event.at)
        pane.missed_counted_at = event.at
        if missed:
            span = f"#{missed[0]}" if len(missed) == 1 else f"#{missed[0]}..#{missed[-1]}"
            pane.add_marker(
                f"missed {len(missed):,} of this app's messages while disconnected ({span})"
            )

    def _end_check(self) -> None:
        self._end_check_pending = False
        self._drain()

    def _wake_from_thread(self) -> None:
        """A worker thread saw a quiet mailbox get a delivery: drain now rather
        than at the next tick. Never blocks the worker (call_soon_threadsafe)."""
        # One drain covers every pane: when a broadcast lands in many quiet panes
        # at once, the first wake schedules it and the others find it pending.
        if self._wake_pending:
            return
        self._wake_pending = True
        with contextlib.suppress(RuntimeError):  # the loop is closing: quitting anyway
            # In the app's context, so widget code finds the active app.
            self._ui_loop.call_soon_threadsafe(self._drain, context=self._ui_context)

    def _note_for_all(self, note: str, now: float) -> None:
        """A marker in every pane, once, however many receivers report it."""
        if note == self._last_note[0] and now - self._last_note[1] < NOTE_DEDUP_SECONDS:
            return
        self._last_note = (note, now)
        for pane in self.panes:
            pane.add_marker(f"⚠ {note}")

    def _every_second(self) -> None:
        if self._shutting_down or not self.is_running:
            return
        with contextlib.suppress(NoMatches):  # the screen may be going away
            self._tick_second()

    def _tick_second(self) -> None:
        now = time.monotonic()
        for pane in self.panes:
            pane.tick_rate(now)
        self._show_burst()
        self._receiver_threads = [
            w for w in self._receiver_threads if w.is_alive() or not w.stopping
        ]
        self._update_status()

    def _update_status(self) -> None:
        state = self.publisher.state
        if state.state is WorkerState.READY:
            link = "● connected"
        elif state.state is WorkerState.RECONNECTING and state.detail:
            link = f"✗ {state.detail}"
        else:
            link = f"○ {state.state.value}"
        panes = self.panes
        consuming = sum(1 for p in panes if p.state.state is WorkerState.CONSUMING)
        text = (
            f"{self.broker_label()} · exchange {self.broker.exchange!r} ({EXCHANGE_TYPE}) · "
            f"{link} · {len(panes)} receivers, {consuming} consuming"
        )
        if text == self._status_text:
            return
        self._status_text = text
        status = self.query_one("#status", Static)
        # Its size is fixed (app.tcss), so no layout: one of the whole screen
        # refreshed every pane's scrollbar (measured under a burst).
        status.update(Content(sanitize(text, 1000)), layout=False)
        status.set_class(state.state is not WorkerState.READY, "-down")

    # Delivery log, bindings, details, export -----------------------------------
    def action_toggle_log(self) -> None:
        log = self.query_one(DeliveryLog)
        log.display = not log.display
        if log.display:
            log.update_from(self.tracker, self.receiver_views(), self.broker.exchange)

    def action_bindings(self) -> None:
        if isinstance(self.screen, BindingsScreen):
            self.screen.dismiss()  # ctrl+b again closes it
            return
        self.push_screen(
            BindingsScreen(self.broker.exchange, self.settings.management(), self._own_queues)
        )

    def _own_queues(self) -> dict[str, str]:
        return {p.state.queue: f"R{p.number}" for p in self.panes if p.state.queue}

    @on(ReceiverPane.DetailRequested)
    def _open_detail(self, event: ReceiverPane.DetailRequested) -> None:
        label = seq_label(event.delivery, self.publisher.origin)
        self.push_screen(MessageDetailScreen(event.delivery, f"R{event.pane.number} · {label}"))

    def action_export(self) -> None:
        pane = self.target_pane()
        if pane is None:
            self.notify("No receiver to export.", severity="warning", markup=False)
            return
        deliveries = pane.deliveries()
        path = default_export_path(f"R{pane.number}", time.time())
        # A thread: a scrollback of large bodies takes a while to write.
        self.run_worker(
            lambda: self._export(deliveries, path), thread=True, group="export", exit_on_error=False
        )

    def _export(self, deliveries: list[Delivery], path: Path) -> None:
        try:
            count = export_jsonl(deliveries, path)
        except ExportError as exc:
            reason = sanitize(str(exc), 300)
            self.call_from_thread(self.notify, reason, severity="error", markup=False)
            return
        except Exception as exc:  # a record that cannot be written: say so, never a traceback
            reason = sanitize(f"export failed: {type(exc).__name__}: {exc}", 300)
            self.call_from_thread(self.notify, reason, severity="error", markup=False)
            return
        self.call_from_thread(
            self.notify, f"Exported {count:,} messages to {path}", markup=False, timeout=10
        )

    # Publish properties and bursts --------------------------------------------
    def action_properties(self) -> None:
        def chosen(props: MessageProperties | None) -> None:
            if props is not None:
                self.publisher.properties = props
                self._show_result(f"next publishes: {describe_properties(props)}", "")

        self.push_screen(PropertiesScreen(self.publisher.properties), chosen)

    def action_burst(self) -> None:
        self._show_burst()  # a burst that just finished is wrapped up first
        if self.burst is not None:
            self.notify("A burst is running; Escape cancels it.", markup=False)
            return
        text = self.query_one(PublishInput).value
        self.push_screen(BurstScreen(text), self._start_burst)

    def _start_burst(self, request: BurstRequest | None) -> None:
        if request is None:
            return
        first = self.publisher.reserve(request.count)
        self.burst = BurstWorker(
            self.broker,
            origin=self.publisher.origin,
            first_seq=first,
            count=request.count,
            text=request.text,
            rate=request.rate,
            properties=self.publisher.properties,
        )
        self._burst_record = self._shown = self.tracker.burst_started(
            first, request.count, self.receiver_views(), time.time()
        )
        self.query_one("#burst-progress", ProgressBar).update(total=request.count, progress=0)
        self.query_one("#burst").display = True
        self.burst.start()
        self._show_burst()
        self.refresh_bindings()

    def _show_burst(self) -> None:
        """The progress bar, once a second; the record is kept current by _sync_burst."""
        self._sync_burst()
        burst = self.burst
        if burst is None:
            return
        self.query_one("#burst-progress", ProgressBar).update(progress=burst.sent)
        label = f"burst {burst.sent:,}/{burst.count:,} · Escape cancels"
        self.query_one("#burst-label", Static).update(Content(label), layout=False)

    def _sync_burst(self) -> None:
        """Copy the burst thread's counters into its record (a few ints, every drain)."""
        burst, record = self.burst, self._burst_record
        if burst is None or record is None:
            return
        if (record.sent, record.unroutable) != (burst.sent, burst.unroutable):
            record.sent, record.unroutable = burst.sent, burst.unroutable
            self.tracker.version += 1
        if burst.finished:
            record.done, record.cancelled, record.error = True, burst.cancelled, burst.error or ""
            self.tracker.version += 1
            self.burst = None
            self.query_one("#burst").display = False
            self.refresh_bindings()
            self._show_tracked()  # the outcome at once, not at the next redraw

    def action_cancel_burst(self) -> None:
        if self.burst is not None:
            self.burst.cancel()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_burst":
            # Escape belongs to screens and panes except while a burst runs.
            return self.burst is not None and self.screen is self.screen_stack[0]
        return True

    # Help and quit -------------------------------------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        self.stop_workers()
        self.exit()

    def on_unmount(self) -> None:
        self.stop_workers()

    def stop_workers(self, timeout: float = QUIT_JOIN_TIMEOUT) -> None:
        """Ask every worker to stop, then wait for them together, up to ``timeout``."""
        self._shutting_down = True
        workers = list(self._receiver_threads)
        for worker in workers:
            worker.request_stop()
        self.publisher.request_stop()
        threads: list[ReceiverWorker | PublisherWorker | BurstWorker] = [*workers, self.publisher]
        if self.burst is not None:
            self.burst.cancel()
            threads.append(self.burst)
        deadline = time.monotonic() + timeout
        for thread in threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))


def _quote(text: str | bytes) -> str:
    preview = sanitize(text, 40)
    return f'"{preview}"'
