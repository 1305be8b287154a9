"""The dashboard: a publish input and a live grid of receiver panes.

Threads: every receiver and the publisher run in their own thread with their
own connection (``amqp/``). The UI never waits on them: they drop deliveries
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

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Container, Horizontal
from textual.content import Content
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Static

from ..amqp.broker import EXCHANGE_TYPE
from ..amqp.display import sanitize, time_of_day
from ..amqp.events import Mailbox, WorkerState
from ..amqp.publisher import PublisherWorker, PublishResult, PublishStatus
from ..amqp.receiver import ReceiverWorker
from ..history import History
from ..locations import history_file
from ..settings import MAX_RECEIVERS, Settings
from .screens.help import HelpScreen
from .widgets.publish_input import PublishInput
from .widgets.receiver_pane import ReceiverPane

DRAIN_INTERVAL = 1 / 30  # how often the UI looks for new deliveries
BUSY_WINDOW = 0.25  # seconds over which a pane's traffic is counted
BUSY_WINDOW_COUNT = 8  # more deliveries than this in a window (~32/s) count as load
BUSY_HOLD = 1.0  # a pane stays busy this long after its last large batch
BUSY_PAINT_INTERVAL = 1.0  # a busy pane is painted about once a second (see benchmarks/)
GC_YOUNG_THRESHOLD = 20_000  # allocations between young-generation collections (default 700)
QUIT_JOIN_TIMEOUT = 1.5  # all workers together, so quitting stays under 2 s
NOTE_DEDUP_SECONDS = 10.0  # receivers reporting the same repair within this count once


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
        self._pending: dict[int, str] = {}  # seq -> text, until its result arrives
        self._status_text = ""
        self._shutting_down = False
        self._wake_pending = False  # a drain is scheduled from a worker's wake-up
        self._last_note: tuple[str, float] = ("", 0.0)

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
        with Container(id="grid"):
            yield Static(
                Content(
                    "No receivers. Press ctrl+n to add one; until then a publish reaches no queue."
                ),
                id="empty",
            )
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

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Add receiver", "Start another receiver pane", self.action_add_receiver)
        yield SystemCommand(
            "Remove receiver",
            "Stop the focused receiver (or the newest) and delete its queue",
            self.action_remove_receiver,
        )

    @property
    def panes(self) -> list[ReceiverPane]:
        return list(self.query(ReceiverPane))

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
        mailbox = Mailbox(max_deliveries=self.settings.scrollback)
        mailbox.waker = self._wake_from_thread
        worker = ReceiverWorker(self.broker, mailbox, name=f"R{number}")
        pane = ReceiverPane(
            number, worker, scrollback=self.settings.scrollback, origin=self.publisher.origin
        )
        self.query_one("#grid").mount(pane)
        self._receiver_threads.append(worker)
        worker.start()
        self._relayout()
        return pane

    async def remove_receiver(self, pane: ReceiverPane) -> None:
        pane.worker.request_stop()  # never join here: the UI must not wait on the network
        was_focused = pane.has_focus
        await pane.remove()
        self._relayout()
        if was_focused:
            self.query_one(PublishInput).focus()

    def action_add_receiver(self) -> None:
        self.add_receiver()

    async def action_remove_receiver(self) -> None:
        panes = self.panes
        if not panes:
            self.notify("No receiver to remove.", severity="warning", markup=False)
            return
        focused = self.focused
        target = focused if isinstance(focused, ReceiverPane) else panes[-1]
        await self.remove_receiver(target)

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
        self._show_result(f"#{seq} {_quote(event.text)} publishing…", "")

    def _on_result(self, result: PublishResult) -> None:
        text = self._pending.pop(result.seq, None)
        line = f"{_quote(text if text is not None else result.body)} "
        if result.status is PublishStatus.ROUTED:
            self._show_result(f"#{result.seq} {line}→ routed", "ok")
        elif result.status is PublishStatus.UNROUTABLE:
            self._show_result(
                f"#{result.seq} {line}→ unroutable — no queue is bound to exchange "
                f"{self.broker.exchange!r}; the message was dropped",
                "warning",
            )
        else:
            self._show_result(
                f"#{result.seq} {line}→ {result.describe().split(' ', 1)[1]}", "error"
            )
            if text is not None:
                self.query_one(PublishInput).restore(text)

    def _show_result(self, text: str, kind: str) -> None:
        result = self.query_one("#result", Static)
        result.update(Content(sanitize(text, 1000)))
        result.set_classes(kind)

    # The drain timer -----------------------------------------------------------
    def _drain(self) -> None:
        """Move what the workers handed over into the panes, and paint.

        Painting is the expensive part (Textual's line pipeline costs a few ms per
        pane), and under a burst the UI's CPU is taken from the consumer threads
        through the GIL. A quiet pane is painted at once, so a typed message shows
        immediately; a busy pane at most once per BUSY_PAINT_INTERVAL, and only one
        busy pane per tick, so no single tick holds the event loop for long. A busy
        pane is not even drained between its paints.
        """
        self._wake_pending = False  # before draining: a delivery landing now wakes us again
        if self._shutting_down or not self.is_running:
            return  # timers and wake-ups can still fire while the screen is torn down
        with contextlib.suppress(NoMatches):  # ... or just as it goes
            self._drain_panes()

    def _drain_panes(self) -> None:
        now = time.monotonic()
        painted_busy = False
        for pane in self.panes:
            mailbox = pane.mailbox
            for event in mailbox.drain_events():
                pane.set_state(event)
                if event.note:
                    self._note_for_all(event.note, now)
            if pane.busy_until > now and (painted_busy or now < pane.next_paint):
                # Not this busy pane's turn: its deliveries wait in the mailbox,
                # which is bounded like the pane, so nothing grows meanwhile. Its
                # ``ready`` stays set, so its worker does not wake us either.
                continue
            mailbox.ready.clear()  # before draining: a later delivery wakes us again
            deliveries = mailbox.drain_deliveries()
            if deliveries:
                pane.add_deliveries(deliveries)
                if now - pane.window_start > BUSY_WINDOW:
                    pane.window_start, pane.window_count = now, 0
                pane.window_count += len(deliveries)
                if pane.window_count > BUSY_WINDOW_COUNT:
                    pane.busy_until = now + BUSY_HOLD
            pane.set_received(mailbox.received)
            if not pane.dirty:
                continue
            if pane.busy_until <= now:
                pane.paint()
            elif not painted_busy and now >= pane.next_paint:
                pane.paint()
                pane.next_paint = now + BUSY_PAINT_INTERVAL
                painted_busy = True
        for result in self.publisher.drain_results():
            self._on_result(result)

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
            return  # Static.update() costs a layout of the whole screen
        self._status_text = text
        status = self.query_one("#status", Static)
        status.update(Content(sanitize(text, 1000)))
        status.set_class(state.state is not WorkerState.READY, "-down")

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
        deadline = time.monotonic() + timeout
        for thread in [*workers, self.publisher]:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))


def _quote(text: str | bytes) -> str:
    preview = sanitize(text, 40)
    return f'"{preview}"'
