"""What this app's messages go out with: the properties and the app's stamp.

The stamp (``x-fanout-seq``, ``x-fanout-sent-us``, ``x-fanout-origin``, and a
``message_id`` made of origin and sequence number) is how the app tells its own
messages from other programs' and measures their latency; the properties are
the tutorial's unless the user sets others. Both are checked before a message
is written (:func:`unencodable`), since pika could not send them half-way.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pika

from ..model.delivery import ORIGIN_HEADER, SENT_HEADER, SEQ_HEADER


@dataclass(frozen=True)
class MessageProperties:
    """The AMQP properties the next publishes use; the tutorial's by default."""

    content_type: str | None = "text/plain"
    delivery_mode: int = 1
    headers: Mapping[str, Any] = field(default_factory=dict)


def new_origin() -> str:
    """The stamp that tells this app's messages from other programs'."""
    return uuid.uuid4().hex[:12]


def stamped_properties(
    origin: str,
    seq: int,
    sent_at: float,
    props: MessageProperties,
    headers: Mapping[str, Any] | None = None,
) -> pika.BasicProperties:
    """The properties a message of this app goes out with: ``props``, this
    message's own ``headers`` over the properties' ones, and the app's stamp
    (sequence number, send time, origin), which wins over headers of the same
    names: the stamp is how the app tells its messages apart, never the user's."""
    headers = {**props.headers, **(headers or {})}
    headers[SEQ_HEADER] = seq
    headers[SENT_HEADER] = int(sent_at * 1_000_000)
    headers[ORIGIN_HEADER] = origin
    return pika.BasicProperties(
        content_type=props.content_type,
        delivery_mode=props.delivery_mode,
        headers=headers,
        timestamp=int(sent_at),
        message_id=f"{origin}-{seq}",
        app_id="fanout-tui",
    )


def unencodable(properties: Any) -> str:
    """Why pika could not encode these properties ("" if it can).

    Checked before publishing: pika sends the method frame before it encodes
    the properties, so a failure there would leave the connection half-way
    through a message, broken for everything after it.
    """
    try:
        properties.encode()
    except Exception as exc:  # pika raises several kinds (unsupported type, too long, range)
        return f"the message's properties cannot be sent: {type(exc).__name__}: {exc}"[:300]
    return ""


def check_properties(props: MessageProperties, headers: Mapping[str, Any] | None = None) -> None:
    """Raise ValueError, with a one-line reason, if pika could not send these."""
    problem = unencodable(stamped_properties("check", 0, time.time(), props, headers))
    if problem:
        raise ValueError(problem)
