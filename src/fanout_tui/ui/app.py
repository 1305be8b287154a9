"""The dashboard: a publish input and a live grid of receiver panes.

The App composes the screen and routes: what the dashboard knows lives in
:class:`~fanout_tui.control.dashboard.Dashboard` (workers, tracking, history),
when each pane paints is the grid's business (``widgets/receiver_grid.py``),
and every key and palette command comes from ``actions.py``. The UI never
waits on the workers: they hand over through mailboxes the grid drains.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer

from ..control.dashboard import Dashboard
from ..locations import history_file
from ..present.text import seq_label
from ..settings import Settings
from .actions import APP_ACTIONS, bindings
from .export import export_in_background
from .focus import FocusMoves
from .labels import Labels
from .pane_actions import PaneActions
from .publish_actions import PublishActions
from .screens.bindings import BindingsScreen
from .screens.detail import MessageDetailScreen
from .screens.help import HelpScreen
from .signals import quit_on_signals
from .tracking_view import TrackingView
from .widgets.burst_bar import BurstBar
from .widgets.delivery_log import DeliveryLog
from .widgets.publish_input import PublishInput, RoutingKeyInput
from .widgets.receiver_grid import ReceiverGrid
from .widgets.receiver_pane import ReceiverPane
from .widgets.result_line import ResultLine
from .widgets.status_line import StatusLine

# fanout-tui serve gives each tab a data directory of its own, removed when the tab closes.
WEB_SESSION_NOTE = (
    "In a browser: Up recalls what was typed in this tab only, kept until it closes; "
    "an export is a download"
)


class FanoutApp(PaneActions, PublishActions, FocusMoves):
    # Absolute, so subclasses defined elsewhere (snapshot tests) find it too.
    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "fanout-tui"
    BINDINGS = bindings(APP_ACTIONS)

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        labels: Labels | None = None,
        history_path: Path | None = None,
        quit_on_signals: bool = False,
    ) -> None:
        super().__init__()
        self._quit_on_signals = quit_on_signals  # the CLI's app; never a test's
        self.settings = settings or Settings()
        self.labels = labels or Labels()
        self.dashboard = Dashboard(self.settings, history_path or history_file())
        self.grid = ReceiverGrid(self.dashboard, self.labels, self._after_drain)
        self._shutting_down = False
        self.tracking = TrackingView(self, self.dashboard)
        self._blocked_shown = ""  # the publisher's block, as the header last showed it
        self._burst_blocked_shown = ""  # the burst's, as its bar last showed it

    def compose(self) -> ComposeResult:
        yield StatusLine(self.dashboard, self.labels)
        with Horizontal(id="main"):
            yield self.grid
            yield DeliveryLog()
        yield BurstBar()
        with Horizontal(id="publish-row"):
            # The key field first: focus moves in the order the screen reads
            # (the panes, the key field on the left, the message), so tab from
            # the key field reaches the message and shift+tab from it the key.
            key_input = RoutingKeyInput()
            yield key_input
            yield PublishInput(
                self.dashboard.history,
                self.dashboard.broker.exchange,
                lambda: self.dashboard.blocked,
                key_input,
            )
        yield ResultLine()
        yield Footer()

    def on_mount(self) -> None:
        if self._quit_on_signals:
            quit_on_signals(self._signalled)
        self.dashboard.start()
        if self.dashboard.history.error:
            self.query_one(ResultLine).show(self.dashboard.history.error, "warning")
        elif self.is_web:
            # Served to a browser: what this visitor keeps, said before they rely on it.
            self.query_one(ResultLine).show(WEB_SESSION_NOTE, "")
        for spec in self.settings.start_specs:
            self.add_receiver(spec)
        self.set_interval(1.0, self._every_second)
        self.query_one(PublishInput).focus()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for action in APP_ACTIONS:
            if action.palette:
                run = partial(self.run_action, action.action)
                yield SystemCommand(action.title, action.help.capitalize(), run)

    @property
    def panes(self) -> list[ReceiverPane]:
        return self.grid.panes

    # Receivers (the actions are PaneActions') ------------------------------------
    @on(ReceiverPane.PauseToggled)
    def _pause_toggled(self, event: ReceiverPane.PauseToggled) -> None:
        self.toggle_pause(event.pane)

    @on(ReceiverPane.CloseRequested)
    async def _close_pane(self, event: ReceiverPane.CloseRequested) -> None:
        await self.remove_receiver(event.pane)

    # Publishing and what became of it --------------------------------------------
    @on(PublishInput.Publish)
    def _publish(self, event: PublishInput.Publish) -> None:
        self.dashboard.publish(event.text, event.routing_key)
        self.tracking.show_result()

    @on(PublishInput.HeldBack)
    def _held_back(self, event: PublishInput.HeldBack) -> None:
        self.dashboard.hold_back(event.text, event.reason, event.blocked)
        self.tracking.show_result()

    def _after_drain(self, busy_panes: int, states_changed: bool) -> None:
        """After every drain of the grid: results, the burst, and what tracking shows."""
        with contextlib.suppress(NoMatches):  # the screen may be going away
            if states_changed:  # "n consuming" at once, not at the next second's tick
                self.tracking.receivers_changed = True
            if states_changed or self.dashboard.blocked != self._blocked_shown:
                self._blocked_shown = self.dashboard.blocked  # a block shows at once
                self._status()
            box = self.query_one(PublishInput)
            for entry in self.dashboard.take_results():
                box.restore(entry)
            for note in self.dashboard.take_notes():
                self.grid.add_marker(note)
            self._sync_burst()
            burst = self.dashboard.burst
            if burst is not None and burst.blocked != self._burst_blocked_shown:
                self._burst_blocked_shown = burst.blocked  # paused or resumed: said at once
                self.query_one(BurstBar).show(burst)
            self.tracking.after_drain(busy_panes)

    def _status(self) -> None:
        self.dashboard.look_up_type()
        if self.dashboard.titles_stale:  # the exchange's type came to be known
            self.dashboard.retitle()
            for pane in self.panes:
                pane.update_titles()
        self.query_one(StatusLine).update_from_dashboard()
        # The exchange's type arrives with the publisher's connection, a moment
        # after start (or changes when the exchange is declared again).
        self.query_one(RoutingKeyInput).show_for(self.dashboard.exchange_type)

    def _every_second(self) -> None:
        if self._shutting_down or not self.is_running:
            return
        with contextlib.suppress(NoMatches):  # the screen may be going away
            self.grid.tick()
            self._show_burst()
            self.dashboard.prune_threads()
            self._status()

    # Delivery log, bindings, details, export -------------------------------------
    def action_toggle_log(self) -> None:
        log = self.query_one(DeliveryLog)
        log.display = not log.display
        if log.display:
            self.tracking.fill_log(log)

    def action_bindings(self) -> None:
        if isinstance(self.screen, BindingsScreen):
            self.screen.dismiss()  # ctrl+b again closes it
            return
        exchange, management = self.dashboard.broker.exchange, self.settings.management()
        screen = BindingsScreen(
            exchange,
            management,
            self._own_queues,
            labels=self.labels,
            show_nodes=len(self.dashboard.broker.urls) > 1,
            own_bindings=self.dashboard.own_bindings,
        )
        self.push_screen(screen)

    def _own_queues(self) -> dict[str, str]:
        return {p.state.queue: f"R{p.number}" for p in self.panes if p.state.queue}

    @on(ReceiverPane.DetailRequested)
    def _open_detail(self, event: ReceiverPane.DetailRequested) -> None:
        label = seq_label(event.delivery, self.dashboard.origin)
        owner = event.pane.receiver.label
        budget = event.pane.receiver.body_budget
        title = f"{owner} · {label}"
        screen = MessageDetailScreen(
            event.delivery,
            title,
            owner,
            self.labels,
            body_budget=budget,
            origin=self.dashboard.origin,
        )
        self.push_screen(screen)

    def action_export(self) -> None:
        pane = self.grid.target(self.focused)
        if pane is None:
            return self._warn("No receiver to export.")
        export_in_background(self, pane)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_burst":
            # Escape belongs to screens and panes except while a burst runs.
            return self.dashboard.burst is not None and self.screen is self.screen_stack[0]
        return True

    # Help and quit ---------------------------------------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        self.stop_workers()
        self.exit()

    def _signalled(self, signum: int) -> None:
        """A quit signal: run on the event loop (not in the signal handler), and
        only schedules the quit, so it never blocks; a second signal changes nothing."""
        if self._shutting_down:
            return
        self._shutting_down = True
        self.call_next(self._quit_for_signal, signum)

    def _quit_for_signal(self, signum: int) -> None:
        self.stop_workers()
        self.exit(return_code=128 + signum)

    def on_unmount(self) -> None:
        self.stop_workers()

    def stop_workers(self) -> None:
        self._shutting_down = True
        self.grid.stop()
        self.dashboard.stop()
