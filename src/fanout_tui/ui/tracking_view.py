"""What delivery tracking shows: the result line and the delivery log.

Redrawn when tracking changed: at once while the panes are quiet, and under a
burst at most once a second, since every copy that lands changes the counts.
"""

from __future__ import annotations

import time

from textual.app import App

from ..control.dashboard import Dashboard
from .widgets.delivery_log import DeliveryLog
from .widgets.publish_input import PublishInput
from .widgets.result_line import ResultLine

TRACKING_REFRESH = 1.0  # seconds between redraws of what tracking shows, under load


class TrackingView:
    def __init__(self, app: App[None], dashboard: Dashboard) -> None:
        self.app = app
        self.dashboard = dashboard
        self._drawn = (-1, 0.0)  # tracker version and time last drawn
        self.receivers_changed = False  # a receiver changed state since then

    def after_drain(self, busy_panes: int) -> None:
        version, now = self.dashboard.tracker.version, time.monotonic()
        if not (self.receivers_changed or version != self._drawn[0]):
            return
        if not busy_panes or self._drawn[0] < 0 or now - self._drawn[1] >= TRACKING_REFRESH:
            self.draw(now)

    def draw(self, now: float) -> None:
        self._drawn = (self.dashboard.tracker.version, now)
        self.receivers_changed = False
        self.show_result()
        log = self.app.query_one(DeliveryLog)
        if log.display:
            self.fill_log(log)

    def show_result(self) -> None:
        """The last message published or burst: who got it, and who did not."""
        result = self.dashboard.result()
        if result is not None:
            kept = len(self.app.query_one(PublishInput).kept)
            self.app.query_one(ResultLine).show(*result, kept=kept)

    def fill_log(self, log: DeliveryLog) -> None:
        dashboard = self.dashboard
        log.update_from(dashboard.tracker, dashboard.receiver_views(), dashboard.routing())
