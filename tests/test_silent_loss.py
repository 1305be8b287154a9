"""Silent loss: the path to the broker stops passing bytes while every socket
stays open (``fault_link`` blackholes it), as when a cable is pulled or a
firewall starts dropping packets. Noticed within 2 x the heartbeat (+1 s) by
every pane and the header, a publish meanwhile honestly reported, everything
back when the path returns, and every receiver's messages checked one by one.

Noticing in that time needs the receivers' and the publisher's own liveness
check (bytes received, every heartbeat / 2): pika's own check alone takes up
to about 2 x (heartbeat + 5) s.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import pika
import pytest
from faultproxy import FaultProxy
from helpers import key_latencies, running_app, until
from test_app import has_line, result_text, type_and_publish
from textual import events

from fanout_tui.model.delivery import Delivery
from fanout_tui.model.states import WorkerState
from fanout_tui.ui.widgets.publish_input import PublishInput

FEED_HEADER = "x-test-seq"  # the feeder's numbering: another program's messages
HEARTBEAT = 2
NOTICED = 2 * HEARTBEAT + 1.0  # seconds: the bound for a silent path to show


class Feeder:
    """Another program publishing numbered messages straight to the node (not
    through the spoiled path) at a steady pace, so the panes have a stream to
    lose and get back."""

    def __init__(self, url: str, exchange: str, rate: float = 20.0) -> None:
        self.url, self.exchange, self.rate = url, exchange, rate
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test feeder")

    def __enter__(self) -> Feeder:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        assert not self._thread.is_alive(), "the feeder did not stop"

    def _run(self) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        try:
            channel = connection.channel()
            channel.exchange_declare(exchange=self.exchange, exchange_type="fanout")
            while not self._stop.wait(1 / self.rate):
                props = pika.BasicProperties(headers={FEED_HEADER: self.sent + 1})
                channel.basic_publish(self.exchange, "", b"fed", props)
                self.sent += 1
        finally:
            connection.close()


def fed(pane: Any) -> list[Delivery]:
    return [d for d in pane.deliveries() if FEED_HEADER in d.headers]


def check_sequence(label: str, deliveries: list[Delivery]) -> int:
    """No duplicate and nothing out of order anywhere; within one connection
    (one exclusive queue) no gap either. The number of connections seen."""
    seqs = [d.headers[FEED_HEADER] for d in deliveries]
    assert seqs, f"{label} got nothing"
    assert all(b > a for a, b in itertools.pairwise(seqs)), f"{label}: dup/order {seqs}"
    queues: dict[str, list[int]] = {}
    for delivery, seq in zip(deliveries, seqs, strict=True):
        queues.setdefault(delivery.queue, []).append(seq)
    for queue, run in queues.items():
        assert run == list(range(run[0], run[-1] + 1)), f"{label}: a gap within {queue}: {run}"
    return len(queues)


def header_down(app: Any) -> bool:
    return bool(app.query_one("#status").has_class("-down"))


@pytest.mark.timeout(180)
async def test_a_blackholed_path_is_noticed_said_and_recovered_from(
    fault_link: FaultProxy, broker_url: str
) -> None:
    url = fault_link.url(broker_url)
    async with running_app(url, receivers=3, heartbeat=HEARTBEAT, scrollback=5000) as (app, pilot):
        with Feeder(broker_url, app.dashboard.broker.exchange) as feeder:
            await until(pilot, lambda: all(len(fed(p)) >= 10 for p in app.panes))
            old_queues = {p.state.queue for p in app.panes}

            box = app.query_one(PublishInput)
            box.value = "during the loss"
            app.screen.set_focus(box)
            fault_link.set(blackhole=True)
            lost_at = time.monotonic()
            # Written while the path looks fine: it may have gone out, so it
            # must never be reported "not sent". (Posted: Pilot.press would
            # wait for the app to go idle.)
            app.post_message(events.Key("enter", None))

            # Every pane and the header say so within 2 x heartbeat (+1 s).
            def everyone_says_so() -> bool:
                return header_down(app) and all(
                    p.state.state is not WorkerState.CONSUMING for p in app.panes
                )

            await until(
                pilot,
                everyone_says_so,
                timeout=max(0.1, NOTICED - (time.monotonic() - lost_at)),
                what="every pane and the header saying the path is lost",
            )
            assert "not sent" not in result_text(app)
            # The UI never freezes meanwhile.
            during = await key_latencies(app, pilot, 5)
            assert max(during) < 0.5, [f"{t * 1000:.0f} ms" for t in during]
            await until(pilot, lambda: "unknown" in result_text(app) or "→ 3/3" in result_text(app))
            assert "not sent" not in result_text(app)
            await pilot.pause(2.0)  # the loss lasts: reconnects meanwhile go nowhere
            assert everyone_says_so()

            fault_link.clear()
            await until(
                pilot,
                lambda: (
                    all(p.state.state is WorkerState.CONSUMING for p in app.panes)
                    and app.dashboard.publisher.state.state is WorkerState.READY
                ),
                timeout=40,
                what="everything reconnected after the path returned",
            )
            assert not header_down(app)
            assert not ({p.state.queue for p in app.panes} & old_queues)  # new exclusive queues
            await type_and_publish(pilot, "after the path returned")
            await until(
                pilot, lambda: all(has_line(p, "after the path returned") for p in app.panes)
            )
            await until(
                pilot, lambda: result_text(app).startswith('#2 "after the path returned" → 3/3')
            )
            # The stream flows again, into every new queue.
            await until(
                pilot,
                lambda: all(sum(d.queue == p.state.queue for d in fed(p)) >= 10 for p in app.panes),
            )
        # The feeder stopped: each pane gets up to its last message.
        last = feeder.sent
        await until(pilot, lambda: all(fed(p)[-1].headers[FEED_HEADER] == last for p in app.panes))
        for pane in app.panes:
            connections = check_sequence(pane.receiver.label, fed(pane))
            assert connections == 2, f"{pane.receiver.label}: {connections} connections"
