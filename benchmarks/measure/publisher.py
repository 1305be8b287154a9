"""The burst every measurement is fed: a pika publisher in a process of its own.

It runs in another interpreter so it does not share the measured process's
GIL. Bodies are numbered (``b0000000001``, 10 bytes, padded to the size asked
for), so the last message of a burst is recognisable on a screen.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from typing import Any

import pika

SMALL = 10  # bytes: the tutorial's kind of message, and the size of the number


def body(seq: int, size: int = SMALL) -> bytes:
    head = b"b%09d" % seq
    return head + b"." * (size - len(head)) if size > len(head) else head


def _publish(
    url: str, exchange: str, count: int, rate: float | None, size: int, started: Any
) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.exchange_declare(exchange=exchange, exchange_type="fanout")
    padding = b"." * max(0, size - SMALL)
    started.put(time.time())
    interval = 1.0 / rate if rate else 0.0
    next_at = time.monotonic()
    for seq in range(1, count + 1):
        if interval:
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        props = pika.BasicProperties(
            headers={"x-fanout-seq": seq, "x-fanout-sent-us": int(time.time() * 1_000_000)}
        )
        payload = b"b%09d" % seq + padding
        channel.basic_publish(exchange=exchange, routing_key="", body=payload, properties=props)
    connection.close()


class Publisher:
    """``count`` messages of ``size`` bytes to ``exchange``, as fast as the
    broker takes them or at ``rate`` per second."""

    def __init__(
        self, url: str, exchange: str, count: int, rate: float | None = None, size: int = SMALL
    ) -> None:
        ctx = mp.get_context("spawn")
        self._started = ctx.Queue()
        self.process = ctx.Process(
            target=_publish, args=(url, exchange, count, rate, size, self._started), daemon=True
        )

    def start(self) -> float:
        """Start it; the wall time just before its first publish."""
        self.process.start()
        return float(self._started.get(timeout=30))

    def join(self) -> None:
        self.process.join(120)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(10)
