"""Where tab and shift+tab take focus on the dashboard: three stops, in a ring.

The stops are the key field (when it shows), the message input and the
panes (the pane last focused, else the first), then the delivery log when it
is open: tab goes forward, shift+tab back, so from any pane one shift+tab
reaches the message and two the key field, whichever pane it was. Between
panes, left and right (the pane's own bindings). On any other screen (a form,
the detail screen) tab is Textual's own. A mixin of
:class:`~fanout_tui.ui.app.FanoutApp`.
"""

from __future__ import annotations

from textual.app import App
from textual.events import DescendantFocus
from textual.widget import Widget

from .widgets.delivery_log import DeliveryLog
from .widgets.publish_input import PublishInput, RoutingKeyInput
from .widgets.receiver_grid import ReceiverGrid
from .widgets.receiver_pane import ReceiverPane


class FocusMoves(App[None]):
    """Tab and shift+tab over the dashboard's stops (see the module)."""

    grid: ReceiverGrid  # the App's, set in its __init__
    _last_pane: ReceiverPane | None = None

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        if isinstance(event.widget, ReceiverPane):
            self._last_pane = event.widget

    def _stops(self) -> list[Widget]:
        stops: list[Widget] = []
        key = self.screen.query(RoutingKeyInput)
        if key and key.first().display:
            stops.append(key.first())
        stops.extend(self.screen.query(PublishInput))
        panes = self.grid.panes
        if panes:
            last = self._last_pane
            stops.append(last if last in panes and last is not None else panes[0])
        log = self.screen.query(DeliveryLog)
        if log and log.first().display:
            stops.append(log.first())
        return stops

    def _move(self, step: int) -> bool:
        """Focus the stop ``step`` away from the focused one; False when this
        screen is not the dashboard's (Textual's own tab applies)."""
        if self.screen is not self.screen_stack[0] or not self.screen.query(PublishInput):
            return False
        stops = self._stops()
        focused = self.screen.focused
        if isinstance(focused, ReceiverPane):
            focused = next((s for s in stops if isinstance(s, ReceiverPane)), focused)
        here = stops.index(focused) if focused in stops else -1
        if here < 0 and step < 0:
            here = 0
        stops[(here + step) % len(stops)].focus()
        return True

    def action_focus_next(self) -> None:
        if not self._move(1):
            super().action_focus_next()

    def action_focus_previous(self) -> None:
        if not self._move(-1):
            super().action_focus_previous()

    def action_pane_step(self, step: int) -> None:
        """The pane ``step`` places on in the grid's order (wrapping)."""
        panes = self.grid.panes
        focused = self.screen.focused
        if panes and isinstance(focused, ReceiverPane) and focused in panes:
            panes[(panes.index(focused) + step) % len(panes)].focus()
