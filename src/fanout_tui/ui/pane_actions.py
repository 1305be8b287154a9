"""The App's actions on receiver panes: add, edit bindings, pause, remove.

A mixin of :class:`~fanout_tui.ui.app.FanoutApp`, kept apart so the App
stays a slim router; what each does lives in the Dashboard and the grid.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App

from ..control.dashboard import Dashboard
from ..model.receiver_spec import ReceiverSpec
from ..settings import MAX_RECEIVERS
from .screens.receiver_form import BindingsFormScreen, ReceiverFormScreen
from .widgets.publish_input import PublishInput
from .widgets.receiver_grid import ReceiverGrid
from .widgets.receiver_pane import ReceiverPane


class PaneActions(App[None]):
    """Adding, editing, pausing and removing receivers (see the module)."""

    # The App's, set in its __init__.
    dashboard: Dashboard
    grid: ReceiverGrid
    _status: Callable[[], None]

    def _warn(self, text: str) -> None:
        self.notify(text, severity="warning", markup=False)

    def action_add_receiver(self) -> None:
        self.add_receiver()

    def add_receiver(self, spec: ReceiverSpec | None = None) -> None:
        receiver = self.dashboard.add_receiver(self.grid.wake_from_thread, spec)
        if receiver is None:
            return self._warn(f"At most {MAX_RECEIVERS} receivers; remove one (ctrl+r) first.")
        self.grid.add(receiver)
        self._status()

    def action_add_receiver_form(self) -> None:
        def chosen(spec: ReceiverSpec | None) -> None:
            if spec is not None:
                self.add_receiver(spec)

        self.push_screen(ReceiverFormScreen(self.dashboard.exchange_type), chosen)

    def action_edit_bindings(self) -> None:
        pane = self.grid.target(self.focused)
        if pane is None:
            return self._warn("No receiver to edit the bindings of.")
        receiver = pane.receiver

        def chosen(spec: ReceiverSpec | None) -> None:
            # The pane may have gone while the form was open: nothing to re-bind.
            if spec is not None and receiver in self.dashboard.receivers:
                changed = self.dashboard.edit_bindings(receiver, spec)
                for each in self.grid.panes:  # a work queue's panes change together
                    if each.receiver in changed:
                        each.update_titles()

        screen = BindingsFormScreen(receiver.spec, receiver.label, self.dashboard.exchange_type)
        self.push_screen(screen, chosen)

    async def remove_receiver(self, pane: ReceiverPane) -> None:
        self.dashboard.remove_receiver(pane.receiver)
        was_focused = pane.has_focus
        await self.grid.remove_pane(pane)
        self._status()
        if was_focused:
            self.query_one(PublishInput).focus()

    def toggle_pause(self, pane: ReceiverPane) -> None:
        self.dashboard.toggle_pause(pane.receiver)
        pane.update_titles()  # "pausing…" until the worker reports it

    async def action_remove_receiver(self) -> None:
        target = self.grid.target(self.focused)
        if target is None:
            return self._warn("No receiver to remove.")
        await self.remove_receiver(target)

    def action_toggle_pause(self) -> None:
        target = self.grid.target(self.focused)
        if target is None:
            return self._warn("No receiver to pause.")
        self.toggle_pause(target)
