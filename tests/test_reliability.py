"""Recovery from a broker that drops every connection (the first of the
reliability issue's fault-injection tests; more follow with that issue)."""

from __future__ import annotations

from typing import Any

import pika
from test_app import SIZE, all_consuming, has_line, make_app, type_and_publish, until

from fanout_tui.amqp.events import WorkerState


async def test_close_all_connections_then_everyone_reconnects(
    broker_url: str, exchange: str, broker_node: Any
) -> None:
    app = make_app(broker_url, exchange, receivers=3)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_consuming(app))
        await type_and_publish(pilot, "before the outage")
        await until(pilot, lambda: all(has_line(p, "before the outage") for p in app.panes))
        old_queues = {p.state.queue for p in app.panes}

        broker_node.rabbitctl_output("close_all_connections", "fault injection")
        await until(
            pilot, lambda: any(p.state.state is not WorkerState.CONSUMING for p in app.panes)
        )
        await until(
            pilot,
            lambda: all_consuming(app) and not ({p.state.queue for p in app.panes} & old_queues),
            timeout=5,
        )
        await until(pilot, lambda: app.publisher.state.state is WorkerState.READY, timeout=5)
        for pane in app.panes:
            await until(pilot, lambda pane=pane: has_line(pane, "reconnected — new queue"))

        await type_and_publish(pilot, "after the outage")
        await until(pilot, lambda: all(has_line(p, "after the outage") for p in app.panes))
        assert all(p.received == 2 for p in app.panes)
    # The private node is still fine for the tests that follow.
    pika.BlockingConnection(pika.URLParameters(broker_url)).close()
