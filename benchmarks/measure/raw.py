"""The raw pika ceiling: N consumer threads in one process doing nothing but count.

Each has its own BlockingConnection and exclusive server-named queue and
consumes with auto_ack, as the tutorial does: the least work a pika consumer
can do per delivery, so it bounds what any pika consumer in Python can reach.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pika

from .publisher import SMALL, Publisher

JOIN_TIMEOUT = 600.0  # the longest burst or drain a full run has, with room


class RawConsumer(threading.Thread):
    """Counts ``expected`` deliveries. With ``fill`` set, it waits until its
    queue holds ``expected`` messages and then until ``go`` is set before it
    starts consuming (the drain); otherwise it consumes as soon as it is bound."""

    def __init__(
        self, url: str, exchange: str, expected: int, go: threading.Event | None = None
    ) -> None:
        super().__init__(daemon=True)
        self.url, self.exchange, self.expected = url, exchange, expected
        self.go = go
        self.count = 0
        self.bound = threading.Event()
        self.filled = threading.Event()
        self.stop = threading.Event()  # give up waiting (the run failed elsewhere)
        self.done_at = 0.0

    def run(self) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        try:
            self._consume(connection)
        finally:
            if connection.is_open:
                connection.close()

    def _consume(self, connection: Any) -> None:
        channel = connection.channel()
        channel.exchange_declare(exchange=self.exchange, exchange_type="fanout")
        queue = channel.queue_declare(queue="", exclusive=True).method.queue
        channel.queue_bind(queue=queue, exchange=self.exchange)
        self.bound.set()
        if self.go is not None:
            # Nothing consumes yet, so a passive declare (the queue's depth) has
            # no deliveries to wait behind.
            while not self.stop.is_set():
                depth = channel.queue_declare(queue=queue, passive=True).method.message_count
                if depth >= self.expected:
                    break
                connection.sleep(0.25)
            self.filled.set()
            while not self.go.wait(0.05):
                if self.stop.is_set():
                    return
                connection.process_data_events(0)

        def on_message(ch: Any, method: Any, props: Any, body: bytes) -> None:
            self.count += 1
            if self.count >= self.expected:
                self.done_at = time.time()
                ch.stop_consuming()

        channel.basic_consume(queue=queue, on_message_callback=on_message, auto_ack=True)
        channel.start_consuming()


def _wait_all(events: list[threading.Event], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    for event in events:
        if not event.wait(max(0.0, deadline - time.monotonic())):
            raise TimeoutError(f"raw consumers: {what} not in {timeout:g} s")


def _join(consumers: list[RawConsumer]) -> None:
    deadline = time.monotonic() + JOIN_TIMEOUT
    for c in consumers:
        c.join(max(0.0, deadline - time.monotonic()))
    if any(c.is_alive() for c in consumers):
        raise TimeoutError("raw consumers did not finish")


def burst(url: str, receivers: int, messages: int, size: int = SMALL) -> float:
    """Deliveries per second of a live burst: publisher start to the last copy counted."""
    exchange = f"bench-raw-{uuid.uuid4().hex[:8]}"
    consumers = [RawConsumer(url, exchange, messages) for _ in range(receivers)]
    for c in consumers:
        c.start()
    _wait_all([c.bound for c in consumers], "bound")
    publisher = Publisher(url, exchange, messages, size=size)
    started = publisher.start()
    _join(consumers)
    publisher.join()
    ended = max(c.done_at for c in consumers)
    return receivers * messages / (ended - started)


def drain(url: str, receivers: int, messages: int) -> float:
    """Deliveries per second of a drain: ``receivers`` queues filled with
    ``messages`` each while nothing consumes, then every consumer started
    together; from that start to the last copy counted."""
    exchange = f"bench-rawdrain-{uuid.uuid4().hex[:8]}"
    go = threading.Event()
    consumers = [RawConsumer(url, exchange, messages, go) for _ in range(receivers)]
    for c in consumers:
        c.start()
    try:
        _wait_all([c.bound for c in consumers], "bound")
        publisher = Publisher(url, exchange, messages)
        publisher.start()
        publisher.join()
        _wait_all([c.filled for c in consumers], "queues filled", timeout=300)
        started = time.time()
        go.set()
        _join(consumers)
    finally:
        for c in consumers:
            c.stop.set()
    ended = max(c.done_at for c in consumers)
    return receivers * messages / (ended - started)
