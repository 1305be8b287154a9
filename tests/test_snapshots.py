"""How the dashboard looks, as SVG snapshots (pytest-textual-snapshot).

Real broker, real receivers. The only things made fixed are what would differ
between runs: server-generated queue names, receive times, the rate and the
test broker's random port.
"""

from __future__ import annotations

import pika
import pytest
from textual.pilot import Pilot

from fanout_tui.amqp.events import WorkerState
from fanout_tui.settings import Settings
from fanout_tui.ui.app import FanoutApp
from fanout_tui.ui.widgets.publish_input import PublishInput

SIZE = (160, 48)


class SnapshotApp(FanoutApp):
    def time_label(self, timestamp: float) -> str:
        return "12:00:00.000"

    def queue_label(self, number: int, queue: str) -> str:
        return f"amq.gen-snapshot-queue-{number:02d}"

    def broker_label(self) -> str:
        return "amqp://guest:***@localhost:5672/%2F"

    def rate_label(self, rate: float) -> str:
        return "0/s"


def _scenario(url: str, exchange: str, receivers: int):  # type: ignore[no-untyped-def]
    app = SnapshotApp(Settings(urls=(url,), exchange=exchange, receivers=receivers))

    async def run_before(pilot: Pilot) -> None:
        app.query_one(PublishInput).cursor_blink = False  # a blinking cursor is not deterministic

        async def until(condition) -> None:  # type: ignore[no-untyped-def]
            for _ in range(400):
                if condition():
                    return
                await pilot.pause(0.05)
            raise AssertionError("snapshot scenario did not settle")

        await until(
            lambda: (
                all(p.state.state is WorkerState.CONSUMING for p in app.panes)
                and app.publisher.state.state is WorkerState.READY
            )
        )
        for text in ("hello, fanout", '{"user": 42, "action": "login"}'):
            await pilot.press(*text)
            await pilot.press("enter")
        await until(lambda: all(p.received == 2 for p in app.panes))
        connection = pika.BlockingConnection(pika.URLParameters(url))
        try:
            channel = connection.channel()
            channel.basic_publish(exchange=exchange, routing_key="", body=b"info: Hello World!")
        finally:
            connection.close()
        await until(lambda: all(p.received == 3 for p in app.panes))
        await until(lambda: "routed" in str(app.query_one("#result").render()))
        for pane in app.panes:
            pane.tick_rate(0.0)
        await pilot.pause(0.2)

    return app, run_before


@pytest.mark.parametrize("receivers", [1, 3, 8])
def test_dashboard_snapshot(snap_compare, broker_url: str, receivers: int) -> None:  # type: ignore[no-untyped-def]
    app, run_before = _scenario(broker_url, f"snapshot-{receivers}", receivers)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
