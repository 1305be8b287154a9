"""The grid of receiver panes: it owns them, drains their mailboxes and decides
when each is painted.

Painting is the expensive part (Textual's line pipeline costs a few ms per
pane), and under a burst the UI's CPU is taken from the consumer threads
through the GIL. A quiet pane is painted at once, so a typed message shows
immediately; a busy pane about once a second, less often when many are busy
(at most BUSY_PAINTS_PER_SECOND busy-pane paints a second in all), and only
one busy pane per tick, so no single tick holds the event loop for long. A
busy pane is not even drained between its paints.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import time
from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Container
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from ...control.dashboard import Dashboard
from ...control.receiver import Receiver
from ..labels import Labels
from .receiver_pane import ReceiverPane

DRAIN_INTERVAL = 1 / 30  # how often the grid looks for new deliveries
BUSY_WINDOW = 0.25  # seconds over which a pane's traffic is counted
BUSY_WINDOW_COUNT = 8  # more deliveries than this in a window (~32/s) count as load
BUSY_HOLD = 1.0  # a pane stays busy this long after its last large batch
BUSY_PAINT_INTERVAL = 1.0  # a busy pane is painted about once a second (see benchmarks/)...
BUSY_PAINTS_PER_SECOND = 4  # ...or less often when many are busy: at most this many paints
BUSY_PAINT_MAX = 4.0  # a second in all, and never less often than this
BURST_OVER = 0.03  # seconds with no delivery to any receiver that end a burst
LATE_DRAIN = 2.5 * DRAIN_INTERVAL  # a drain this long after the last means the loop is behind


def grid_shape(count: int) -> tuple[int, int]:
    """Near-square columns x rows: 1 -> 1x1, 2 -> 2x1, 3-4 -> 2x2, 5-6 -> 3x2, 7-9 -> 3x3."""
    if count <= 0:
        return 1, 1
    columns = math.ceil(math.sqrt(count))
    return columns, math.ceil(count / columns)


class _Turn:
    """When one pane was busy and when it may paint next (the grid's, not the pane's)."""

    __slots__ = ("busy_until", "next_paint", "window_count", "window_start")

    def __init__(self) -> None:
        self.busy_until = 0.0
        self.next_paint = 0.0
        self.window_start = 0.0
        self.window_count = 0


class ReceiverGrid(Container):
    """Panes in a near-square grid, drained on a timer and when a quiet one wakes it."""

    DEFAULT_CSS = """
    ReceiverGrid {
        layout: grid;
        grid-size: 1 1;
        grid-gutter: 0;
        height: 1fr;
    }
    ReceiverGrid > #empty {
        width: 1fr;
        height: 1fr;
        content-align: center middle;
        color: $text-muted;
    }
    """

    def __init__(
        self,
        dashboard: Dashboard,
        labels: Labels,
        after_drain: Callable[[int, bool], None],
    ) -> None:
        """``after_drain(busy_panes, states_changed)`` runs after every drain."""
        super().__init__(id="grid")
        self.dashboard = dashboard
        self.labels = labels
        self._after_drain = after_drain
        self._panes: list[ReceiverPane] = []  # in grid order
        self._turns: dict[ReceiverPane, _Turn] = {}
        self._stopped = False
        self._wake_pending = False  # a drain is scheduled from a worker's wake-up
        self._end_check_pending = False  # a drain is scheduled for when a burst may end
        self._last_drain = 0.0
        self._busy_count = 0  # busy panes after the last drain
        self._loop: asyncio.AbstractEventLoop | None = None  # set once mounted
        self._app_context = contextvars.copy_context()

    def compose(self) -> ComposeResult:
        yield Static(
            Content(
                "No receivers. Press ctrl+n to add one; until then a publish reaches no queue."
            ),
            id="empty",
        )

    def on_mount(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._app_context = contextvars.copy_context()
        self.set_interval(DRAIN_INTERVAL, self.drain)

    def add_marker(self, note: str) -> None:
        """A note for every pane (the publisher's, e.g. the exchange declared again)."""
        for pane in self._panes:
            pane.add_marker(note)

    @property
    def panes(self) -> list[ReceiverPane]:
        # Kept as a list rather than queried: a DOM query walks every widget and
        # matches selectors, which at 30 drains a second with 8 panes was a
        # quarter of the UI thread's time under a burst (profiled).
        return list(self._panes)

    # Panes -----------------------------------------------------------------------
    def add(self, receiver: Receiver) -> ReceiverPane:
        pane = ReceiverPane(
            receiver,
            self.labels,
            scrollback=self.dashboard.settings.scrollback,
            origin=self.dashboard.origin,
        )
        self.mount(pane)
        self._panes.append(pane)
        self._turns[pane] = _Turn()
        self._relayout()
        return pane

    def target(self, focused: Widget | None) -> ReceiverPane | None:
        """The focused pane, else the newest (what palette commands act on)."""
        node = focused
        while node is not None:  # the pane itself, or something inside it
            if isinstance(node, ReceiverPane):
                return node
            node = node.parent if isinstance(node.parent, Widget) else None
        return self._panes[-1] if self._panes else None

    async def remove_pane(self, pane: ReceiverPane) -> None:
        if pane in self._panes:
            self._panes.remove(pane)
            del self._turns[pane]
        await pane.remove()
        self._relayout()

    def _relayout(self) -> None:
        columns, rows = grid_shape(len(self._panes))
        self.styles.grid_size_columns = columns
        self.styles.grid_size_rows = rows
        self.query_one("#empty").display = not self._panes

    def stop(self) -> None:
        """No more drains: the app is quitting and the workers are going."""
        self._stopped = True

    # Draining --------------------------------------------------------------------
    def wake_from_thread(self) -> None:
        """A worker thread saw a quiet mailbox get a delivery: drain now rather
        than at the next tick. Never blocks the worker (call_soon_threadsafe)."""
        # One drain covers every pane: when a broadcast lands in many quiet panes
        # at once, the first wake schedules it and the others find it pending.
        loop = self._loop
        if self._wake_pending or loop is None:
            return
        self._wake_pending = True
        with contextlib.suppress(RuntimeError):  # the loop is closing: quitting anyway
            # In the app's context, so widget code finds the active app.
            loop.call_soon_threadsafe(self.drain, context=self._app_context)

    def drain(self) -> None:
        """Move what the workers handed over into the panes, and paint."""
        self._wake_pending = False  # before draining: a delivery landing now wakes us again
        if self._stopped or not self.is_attached:
            return  # timers and wake-ups can still fire while the screen is torn down
        busy_count, states_changed = self._drain_panes()
        self._after_drain(busy_count, states_changed)

    def _drain_panes(self) -> tuple[int, bool]:
        now = time.monotonic()
        # Back-pressure: when this drain comes late, the event loop is behind
        # (the screen has yet to catch up with earlier paints), so no busy pane
        # is painted this time. Otherwise several panes' paints pile up before
        # one screen update, Textual repaints the bounding box of them all, the
        # loop falls further behind: seconds-long stalls with 32 panes (measured).
        late = now - self._last_drain > LATE_DRAIN
        self._last_drain = now
        painted_busy = late
        # Painting each busy pane less often when many are busy keeps the loop's
        # lateness bounded (benchmarks/).
        interval = min(
            BUSY_PAINT_MAX, max(BUSY_PAINT_INTERVAL, self._busy_count / BUSY_PAINTS_PER_SECOND)
        )
        hold = max(BUSY_HOLD, interval)  # busy until its next paint at least
        busy_count = 0
        states_changed = False
        # When no receiver has had anything for BURST_OVER, the burst is over:
        # every busy pane shows where it ended now rather than at its next turn,
        # up to BUSY_PAINT_MAX later. All receivers at once, not each on its own:
        # under load one consumer thread can get no GIL for a good part of a
        # second, and then panes would paint out of turn all the time. Timed from
        # when the last delivery landed, not from the drain that saw it, so the
        # tail from the last copy to the screen stays short.
        last_at = max((pane.mailbox.last_at for pane in self._panes), default=0.0)
        quiet_for = time.time() - last_at
        burst_over = quiet_for >= BURST_OVER
        collect, panes = self.dashboard.collect, self._panes
        for pane in panes:
            turn = self._turns[pane]
            mailbox = pane.mailbox
            collected = collect(pane.receiver, now)
            if collected.states_changed:
                states_changed = True
                pane.show_state(collected.lines)
                for note in collected.notes:
                    for other in panes:
                        other.add_marker(note)
            if burst_over and turn.busy_until > now:
                turn.busy_until = 0.0
            if turn.busy_until > now and (painted_busy or now < turn.next_paint):
                # Not this busy pane's turn: its deliveries wait in the mailbox,
                # which is bounded like the pane, so nothing grows meanwhile. Its
                # ``ready`` stays set, so its worker does not wake us either.
                busy_count += 1
                continue
            mailbox.ready.clear()  # before draining: a later delivery wakes us again
            deliveries = mailbox.drain_deliveries()
            if deliveries:
                pane.add_deliveries(deliveries)
                if now - turn.window_start > BUSY_WINDOW:
                    turn.window_start, turn.window_count = now, 0
                turn.window_count += len(deliveries)
                if turn.window_count > BUSY_WINDOW_COUNT:
                    turn.busy_until = now + hold
            busy_count += turn.busy_until > now
            pane.set_received(mailbox.received)
            if not pane.dirty:
                continue
            if turn.busy_until <= now:
                pane.paint()
            elif not painted_busy and now >= turn.next_paint:
                pane.paint()
                turn.next_paint = now + interval
                painted_busy = True
        self._busy_count = busy_count
        if busy_count and not burst_over and not self._end_check_pending:
            # Look again just when the burst may be over rather than at the next
            # tick, up to a tick later. Mid-burst the last delivery is only
            # microseconds old, so this is due after the next tick and not armed.
            due = BURST_OVER - quiet_for
            if due < DRAIN_INTERVAL - 0.005 and self._loop is not None:
                self._end_check_pending = True
                self._loop.call_later(due, self._end_check, context=self._app_context)
        return busy_count, states_changed

    def _end_check(self) -> None:
        self._end_check_pending = False
        self.drain()

    def tick(self) -> None:
        """About once a second: every pane's rate and its queue's depth, and the
        copies that expired in paused panes' queues."""
        self.dashboard.expire_due(time.time())
        now = time.monotonic()
        for pane in self._panes:
            pane.tick_rate(now)
            pane.set_depth(self.dashboard.depth(pane.receiver))

    @property
    def busy(self) -> bool:
        return self._busy_count > 0
