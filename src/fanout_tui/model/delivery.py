"""One message as a receiver got it, and the headers this app stamps on what it sends."""

from __future__ import annotations

from typing import Any, NamedTuple

# Headers the publisher stamps on every message it sends.
SEQ_HEADER = "x-fanout-seq"
SENT_HEADER = "x-fanout-sent-us"  # send time, microseconds since the epoch
ORIGIN_HEADER = "x-fanout-origin"  # which publisher instance sent it

# The AMQP basic properties besides headers, in the order they are shown and exported.
PROPERTY_NAMES = (
    "content_type",
    "content_encoding",
    "delivery_mode",
    "priority",
    "correlation_id",
    "reply_to",
    "expiration",
    "message_id",
    "timestamp",
    "type",
    "user_id",
    "app_id",
)


class Delivery(NamedTuple):
    """One message as a receiver got it.

    A NamedTuple rather than a dataclass: one is built per delivery in the
    consumer thread, and tuples are the cheapest immutable record to build.
    """

    body: bytes
    properties: Any  # pika.BasicProperties
    headers: dict[str, Any]
    received_at: float  # time.time() in the receiver thread
    queue: str
    exchange: str
    routing_key: str
    redelivered: bool

    @property
    def seq(self) -> int | None:
        value = self.headers.get(SEQ_HEADER)
        return value if isinstance(value, int) else None

    @property
    def sent_at(self) -> float | None:
        value = self.headers.get(SENT_HEADER)
        return value / 1_000_000 if isinstance(value, int) else None

    @property
    def latency(self) -> float | None:
        """Seconds from the publisher's stamp to arrival (clocks of two hosts may differ)."""
        sent = self.sent_at
        return None if sent is None else self.received_at - sent

    @property
    def origin(self) -> str | None:
        value = self.headers.get(ORIGIN_HEADER)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        return value if isinstance(value, str) else None
