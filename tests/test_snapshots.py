"""How the dashboard looks, as SVG snapshots (pytest-textual-snapshot).

Real broker, real receivers. The only things made fixed are what would differ
between runs: server-generated queue names, receive times, latencies, the rate
and the test broker's random port.
"""

from __future__ import annotations

import pika
import pytest
from helpers import app_ready, until
from textual.pilot import Pilot

from fanout_tui.settings import Settings
from fanout_tui.ui.app import FanoutApp
from fanout_tui.ui.labels import Labels
from fanout_tui.ui.widgets.publish_input import PublishInput

SIZE = (160, 48)


# What differs between runs, written the same every time.
FIXED_LABELS = Labels(
    clock=lambda timestamp: "12:00:00.000",
    date=lambda timestamp: "2025-01-01",
    queue=lambda owner, queue: f"amq.gen-snapshot-queue-{int(owner[1:]):02d}",
    rate=lambda rate: "0/s",
    # The test nodes' ports differ per run: named as the default ones.
    url=lambda url: (
        "http://guest@localhost:15672"
        if url.startswith("http")
        else "amqp://guest:***@localhost:5672/%2F"
    ),
)


class SnapshotApp(FanoutApp):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, labels=FIXED_LABELS)


def _fix_measurements(app: FanoutApp) -> None:
    """Latencies and rates as fixed numbers: the layout is what is compared."""
    for message in app.dashboard.tracker:
        for number in message.got:
            message.got[number] = 0.0031
    app.dashboard.tracker.version += 1
    for pane in app.panes:
        pane.rates.clear()
        pane.tick_rate(0.0)
        pane.paint()
        pane.stats.set_rates([0.0, 0.0, 2.0, 1.0, 0.0, 1.0])
        pane.stats.set_text(pane.latency_text([0.0012, 0.0018, 0.0031]))


def _scenario(url: str, exchange: str, receivers: int, pause: bool = False):  # type: ignore[no-untyped-def]
    app = SnapshotApp(Settings(urls=(url,), exchange=exchange, receivers=receivers))

    async def run_before(pilot: Pilot) -> None:
        app.query_one(PublishInput).cursor_blink = False  # a blinking cursor is not deterministic

        async def settled(condition) -> None:  # type: ignore[no-untyped-def]
            await until(pilot, condition, timeout=20)

        await settled(lambda: app_ready(app, receivers))
        texts = ("hello, fanout", '{"user": 42, "action": "login"}')
        await pilot.press(*texts[0], "enter")
        await settled(lambda: all(p.received == 1 for p in app.panes))
        if pause:  # R2 misses the second message for now: it waits in its queue
            paused = app.panes[1]
            app.toggle_pause(paused)
            await settled(lambda: paused.state.waiting == 0)
        await pilot.press(*texts[1], "enter")
        expected = [1 if pause and p is app.panes[1] else 2 for p in app.panes]
        await settled(lambda: [p.received for p in app.panes] == expected)
        if pause:
            await settled(lambda: paused.state.waiting == 1)
        connection = pika.BlockingConnection(pika.URLParameters(url))
        try:
            channel = connection.channel()
            channel.basic_publish(exchange=exchange, routing_key="", body=b"info: Hello World!")
        finally:
            connection.close()
        paused_pane = app.panes[1] if pause else None
        final = [n + (p is not paused_pane) for n, p in zip(expected, app.panes, strict=True)]
        await settled(lambda: [p.received for p in app.panes] == final)
        await settled(lambda: "/" in str(app.query_one("#result").render()))
        if pause:
            await settled(lambda: paused.state.waiting == 2)
            await pilot.press("ctrl+l")
        _fix_measurements(app)
        app.tracking.draw(0.0)
        await pilot.pause(0.2)

    return app, run_before


@pytest.mark.parametrize("receivers", [1, 3, 8])
def test_dashboard_snapshot(snap_compare, broker_url: str, receivers: int) -> None:  # type: ignore[no-untyped-def]
    app, run_before = _scenario(broker_url, f"snapshot-{receivers}", receivers)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_paused_receiver_and_delivery_log_snapshot(snap_compare, broker_url: str) -> None:  # type: ignore[no-untyped-def]
    app, run_before = _scenario(broker_url, "snapshot-paused", 3, pause=True)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
