"""Deliveries built from what a real broker hands a consumer (no mocks).

The messages go the tutorial's way: ``emit_log`` publishes to a fanout
exchange, a server-named exclusive queue bound to it receives them, and each
:class:`Delivery` is made from the method, properties and body pika returned,
by the receiver worker's own :func:`delivery_from`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import pika
from helpers import bind_tutorial_queue, consume, emit_log

from fanout_tui.model.delivery import Delivery
from fanout_tui.transport.consumer import delivery_from


def receive(
    url: str,
    exchange: str,
    messages: Sequence[tuple[bytes | str, pika.BasicProperties | None]],
) -> list[Delivery]:
    """Publish ``messages`` (body, properties) and return them as delivered."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel, queue = bind_tutorial_queue(connection, exchange)
        for body, properties in messages:
            emit_log(url, exchange, body, properties)
        got = consume(connection, channel, queue, count=len(messages), timeout=30)
        return [
            delivery_from(method, properties, body, queue, time.time())
            for method, properties, body in got
        ]
    finally:
        if connection.is_open:
            connection.close()


def receive_one(
    url: str, exchange: str, body: bytes | str, properties: pika.BasicProperties | None = None
) -> Delivery:
    return receive(url, exchange, [(body, properties)])[0]
