"""Declaring the fanout exchange the way the tutorial does, without tripping on
an exchange that already exists with other flags.

A failed declare closes the channel, so each step that may fail gets a fresh one.
"""

from __future__ import annotations

from typing import Any

import pika.exceptions as pex

from .broker import EXCHANGE_TYPE
from .errors import ExchangeTypeConflict, type_conflict_from

# Built-in exchanges cannot be redeclared (403), but their types are fixed.
_BUILTIN_TYPES = {
    "amq.fanout": "fanout",
    "amq.direct": "direct",
    "amq.topic": "topic",
    "amq.headers": "headers",
    "amq.match": "headers",
}


def declare_exchange(connection: Any, exchange: str) -> Any:
    """Make sure ``exchange`` exists as a fanout; return an open channel.

    Creates it like the tutorial (non-durable) when missing. When it exists,
    an active declare checks its type: RabbitMQ compares the type before the
    other flags, so a 406 about ``durable`` or ``auto_delete`` proves the type
    matched and the exchange is usable as it is.
    """
    if exchange == "":
        raise ExchangeTypeConflict("", EXCHANGE_TYPE, "direct (the default exchange)")
    builtin = _BUILTIN_TYPES.get(exchange)
    if builtin is not None:
        if builtin != EXCHANGE_TYPE:
            raise ExchangeTypeConflict(exchange, EXCHANGE_TYPE, builtin)
        return connection.channel()
    channel = connection.channel()
    try:
        channel.exchange_declare(exchange=exchange, exchange_type=EXCHANGE_TYPE)
    except pex.ChannelClosedByBroker as exc:
        conflict = type_conflict_from(exc, exchange, EXCHANGE_TYPE)
        if conflict is not None:
            raise conflict from None
        if exc.reply_code != 406:
            raise
        channel = connection.channel()
    return channel
