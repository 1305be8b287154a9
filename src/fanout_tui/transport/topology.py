"""Declaring the fanout exchange the way the tutorial does, without tripping on
an exchange that already exists with other flags, or on a user who may not
configure it.

A failed declare closes the channel, so each step that may fail gets a fresh one.
The declare is written once as steps (``steps.py``), for blocking and
asynchronous connections alike.
"""

from __future__ import annotations

from typing import Any

import pika.exceptions as pex

from .broker import EXCHANGE_TYPE, BrokerSettings
from .errors import ExchangeTypeConflict, ExchangeUnusable, refused, type_conflict_from
from .steps import NewChannel, Steps, call, run_blocking

# Built-in exchanges cannot be redeclared (403), but their types are fixed.
_BUILTIN_TYPES = {
    "amq.fanout": "fanout",
    "amq.direct": "direct",
    "amq.topic": "topic",
    "amq.headers": "headers",
    "amq.match": "headers",
}


def exchange_problem(exchange: str) -> str:
    """Why ``exchange`` can never work as fanout-tui's exchange ("" if it can).

    Checked at start, so the dashboard does not retry forever what no retry
    can fix. The default exchange routes by queue name and refuses bindings.
    The broker's built-ins (amq.fanout, amq.direct, amq.topic, amq.headers,
    amq.match) exist on every vhost with known types and are used as they
    are, never declared; any other name starting with ``amq.`` is reserved
    and cannot be declared.
    """
    if exchange == "":
        return (
            "exchange '' is the default exchange, which routes by queue name and cannot be "
            "bound; choose another with --exchange"
        )
    if exchange.startswith("amq.") and exchange not in _BUILTIN_TYPES:
        return (
            f"exchange {exchange!r}: names starting with 'amq.' are reserved for the broker's "
            f"own exchanges ({', '.join(_BUILTIN_TYPES)}), and others cannot be declared; "
            "choose another name with --exchange"
        )
    return ""


def declare_exchange(connection: Any, exchange: str, wanted: str | None = None) -> Any:
    """Make sure ``exchange`` exists on a blocking connection; return an open
    channel (see :func:`exchange_steps`)."""
    channel, _type = run_blocking(connection, exchange_steps(exchange, wanted))
    return channel


def exchange_steps_for(broker: BrokerSettings, found: str = "") -> Steps[tuple[Any, str]]:
    """:func:`exchange_steps` for ``broker``'s exchange: the type the user asked
    for, if any; else, on a later check, ``found``, the type the exchange had
    at set-up (an exchange replaced by another type then conflicts); else
    whatever type it has."""
    if broker.exchange_type:
        return exchange_steps(broker.exchange, broker.exchange_type, broker.exchange_type_from)
    return exchange_steps(broker.exchange, found or None, "")


def exchange_steps(
    exchange: str, wanted: str | None = None, asked_by: str = "--exchange-type"
) -> Steps[tuple[Any, str]]:
    """Make sure ``exchange`` exists; the steps end with an open channel and the
    exchange's type ("" when the broker would not say).

    ``wanted``: the type the user asked for; None takes the type the exchange
    has, and creates a missing one as a fanout. ``asked_by``: where ``wanted``
    came from, for the conflict's words (see :class:`errors.ExchangeTypeConflict`).

    A passive declare first: it needs no permission, so a user who may only
    write to the exchange (configure ``^$``) can still publish to an exchange
    someone else declared, as a plain pika program can. Only a missing
    exchange is created, like the tutorial (non-durable), which needs the
    configure permission; refused, that raises :class:`errors.AccessRefused`.

    An existing exchange's type is then read with an active declare: RabbitMQ
    compares the type before the other flags, so a 406 about the type names
    the current one, and a 406 about ``durable`` or ``auto_delete`` proves the
    type matched. A user without configure permission gets a 403 instead,
    before any comparison; the type is then unknown here (AMQP has no other
    way to read it), and the exchange is used as it is.
    """
    probe_type = wanted or EXCHANGE_TYPE
    if exchange == "":
        raise ExchangeUnusable(exchange_problem(exchange))
    builtin = _BUILTIN_TYPES.get(exchange)
    if builtin is not None:
        if wanted is not None and builtin != wanted:
            raise ExchangeTypeConflict(exchange, wanted, builtin, asked_by)
        return (yield NewChannel()), builtin
    channel = yield NewChannel()
    try:
        yield call(channel, "exchange_declare", exchange=exchange, passive=True)
        exists = True
    except pex.ChannelClosedByBroker as exc:
        if exc.reply_code != 404:
            raise
        exists = False
        channel = yield NewChannel()
    try:
        yield call(channel, "exchange_declare", exchange=exchange, exchange_type=probe_type)
        return channel, probe_type
    except pex.ChannelClosedByBroker as exc:
        conflict = type_conflict_from(exc, exchange, probe_type, asked_by)
        # Without a wanted type any type will do, even one another program
        # gave the exchange between the two declares.
        if conflict is not None and wanted is not None:
            raise conflict from None
        if exc.reply_code == 403 and not exists:
            raise refused(exc, "exchange.declare") from None
        if conflict is None and exc.reply_code not in (403, 406):
            raise
        actual = conflict.current if conflict is not None else ""
        if exc.reply_code == 406 and conflict is None:
            actual = probe_type  # the type matched; another flag did not
        return (yield NewChannel()), actual
