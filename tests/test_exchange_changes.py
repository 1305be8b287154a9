"""The exchange changed under the app: the publish result and the header tell the
truth, and a delete the publisher repairs is announced in every pane."""

from __future__ import annotations

import pika
from test_app import (
    SIZE,
    all_consuming,
    has_line,
    make_app,
    result_text,
    status_text,
    type_and_publish,
    until,
)


async def test_a_replaced_exchange_type_is_what_the_result_and_header_say(
    broker_url: str, exchange: str, pika_connection: pika.BlockingConnection
) -> None:
    app = make_app(broker_url, exchange, receivers=2)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_consuming(app))
        channel = pika_connection.channel()
        channel.exchange_delete(exchange=exchange)
        channel.exchange_declare(exchange=exchange, exchange_type="direct")
        await type_and_publish(pilot, "to a direct exchange")
        conflict = "already exists as type 'direct'"
        await until(pilot, lambda: conflict in result_text(app))
        assert "no queue is bound" not in result_text(app)
        await until(pilot, lambda: conflict in status_text(app))
        assert "(fanout) ·" not in status_text(app)
        # Fanout again (the receivers declare it as they reconnect): the next
        # routed publish clears the header.
        channel.exchange_delete(exchange=exchange)
        await until(pilot, lambda: all_consuming(app), timeout=40)
        await type_and_publish(pilot, "fanout again")
        await until(pilot, lambda: "(fanout) ·" in status_text(app), timeout=10)


async def test_an_exchange_deleted_then_published_to_is_announced(
    broker_url: str, exchange: str, pika_connection: pika.BlockingConnection
) -> None:
    app = make_app(broker_url, exchange, receivers=2)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_consuming(app))
        pika_connection.channel().exchange_delete(exchange=exchange)
        # At once, before the receivers' own check: the publisher finds it gone.
        await type_and_publish(pilot, "right after the delete")
        await until(
            pilot, lambda: "was missing (deleted?) and was declared again" in result_text(app)
        )
        for pane in app.panes:
            await until(pilot, lambda pane=pane: has_line(pane, "the publisher declared it again"))
        # Every receiver was asked to bind again: the next message reaches them all.
        await type_and_publish(pilot, "after the repair")
        await until(
            pilot,
            lambda: all(has_line(p, "after the repair") for p in app.panes),
            timeout=10,
        )
