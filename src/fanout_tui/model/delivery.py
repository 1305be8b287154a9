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


class KeptBody:
    """The whole body of a delivery whose ``body`` is only its preview.

    Held while the receiver's :class:`~.body_budget.BodyBudget` keeps it;
    ``body`` becomes None when the budget releases it for newer ones. Only the
    receiver's thread writes it, once; a reader takes ``body`` in one attribute
    read (atomic) and uses what it got, kept or not.
    """

    __slots__ = ("body", "size")

    def __init__(self, body: bytes) -> None:
        self.body: bytes | None = body
        self.size = len(body)


class Delivery(NamedTuple):
    """One message as a receiver got it.

    A NamedTuple rather than a dataclass: one is built per delivery in the
    consumer thread, and tuples are the cheapest immutable record to build.

    ``body`` is the whole body, unless ``kept`` is set: then ``body`` is its
    preview (what a pane line shows) and the whole body is in ``kept`` for as
    long as the pane's budget keeps it (see :mod:`.body_budget`).
    """

    body: bytes
    properties: Any  # pika.BasicProperties
    headers: dict[str, Any]
    received_at: float  # time.time() in the receiver thread
    queue: str
    exchange: str
    routing_key: str
    redelivered: bool
    kept: KeptBody | None = None

    @property
    def size(self) -> int:
        """Bytes of the whole body, kept or not."""
        kept = self.kept
        return len(self.body) if kept is None else kept.size

    @property
    def body_kept(self) -> bool:
        """Whether the whole body is still here (``body`` is then all of it after
        :meth:`pinned`); False: only the preview is left."""
        kept = self.kept
        return kept is None or kept.body is not None

    def pinned(self) -> Delivery:
        """This delivery with what it has now in ``body``: the whole body if it is
        still kept (held from here on, whatever the budget does next), else the
        preview, with ``kept`` saying the rest was not kept.

        The detail screen and an export take a delivery this way, so they show
        one body from start to end.
        """
        kept = self.kept
        if kept is None:
            return self
        whole = kept.body  # one read: the budget may release it at any moment
        return self if whole is None else self._replace(body=whole, kept=None)

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
