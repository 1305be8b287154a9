"""The App's actions on what it publishes: the properties, and bursts.

A mixin of :class:`~fanout_tui.ui.app.FanoutApp`, kept apart so the App
stays a slim router; the burst itself runs in the Dashboard.
"""

from __future__ import annotations

from textual.app import App

from ..control.dashboard import Dashboard
from ..transport.stamps import MessageProperties
from .screens.forms import BurstRequest, BurstScreen, PropertiesScreen, summarize_publish_properties
from .tracking_view import TrackingView
from .widgets.burst_bar import BurstBar
from .widgets.publish_input import PublishInput, RoutingKeyInput
from .widgets.result_line import ResultLine


class PublishActions(App[None]):
    """Publish properties and bursts (see the module)."""

    # The App's, set in its __init__.
    dashboard: Dashboard
    tracking: TrackingView

    def action_properties(self) -> None:
        def chosen(props: MessageProperties | None) -> None:
            if props is not None:
                self.dashboard.set_properties(props)
                self.query_one(ResultLine).show(
                    f"next publishes: {summarize_publish_properties(props)}", ""
                )

        self.push_screen(PropertiesScreen(self.dashboard.publisher.properties), chosen)

    def action_burst(self) -> None:
        self._show_burst()  # a burst that just finished is wrapped up first
        if self.dashboard.burst is not None:
            self.notify("A burst is running; Escape cancels it.", markup=False)
            return
        # The key the field shows, as a message typed would carry it: every type
        # but fanout (and an unknown one), where the field is hidden.
        field = self.query_one(RoutingKeyInput)
        key = field.key if field.display else None
        self.push_screen(BurstScreen(self.query_one(PublishInput).value, key), self._start_burst)

    def _start_burst(self, request: BurstRequest | None) -> None:
        if request is None:
            return
        self.dashboard.start_burst(request.count, request.text, request.rate, request.routing_key)
        self.query_one(BurstBar).start(request.count)
        self._show_burst()
        self.refresh_bindings()

    def _show_burst(self) -> None:
        """The progress bar, once a second; the record is kept current every drain."""
        self._sync_burst()
        self.query_one(BurstBar).show(self.dashboard.burst)

    def _sync_burst(self) -> None:
        if self.dashboard.sync_burst():
            self.query_one(BurstBar).finish()
            self.refresh_bindings()
            self.tracking.show_result()  # the outcome at once, not at the next redraw

    def action_cancel_burst(self) -> None:
        self.dashboard.cancel_burst()
