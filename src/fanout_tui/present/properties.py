"""A message's AMQP properties and headers, for the detail screen: one line each.

Header values arrive as pika decodes them (bytes, nested tables, arrays,
decimals, timestamps); each is shown compact on one line and sanitized, so
nothing from another program reaches the terminal raw.
"""

from __future__ import annotations

import codecs
import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ..model.delivery import PROPERTY_NAMES, Delivery
from .text import sanitize

VALUE_CHARS = 1_000  # longest property or header value shown


def _compact(value: Any, nested: bool = False) -> str:
    """A header value as one compact line (not yet escaped)."""
    if isinstance(value, bytes | str):
        # Control characters are escaped by sanitize() once the whole value is built.
        text = (
            value if isinstance(value, str) else codecs.decode(value, "utf-8", "backslashreplace")
        )
        return f'"{text}"' if nested else text
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_compact(k)}: {_compact(v, True)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_compact(v, True) for v in value) + "]"
    return str(value)


def _timestamp(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            when = dt.datetime.fromtimestamp(value, dt.UTC)
        except (OverflowError, OSError, ValueError):
            return str(value)
        return f"{value} ({when:%Y-%m-%d %H:%M:%S} UTC)"
    return _compact(value)


def _property_value(name: str, value: Any) -> str:
    if name == "delivery_mode":
        meaning = {1: "transient", 2: "persistent"}.get(value)
        return f"{value} ({meaning})" if meaning else _compact(value)
    if name == "timestamp":
        return _timestamp(value)
    if name == "expiration":
        return f"{_compact(value)} ms"
    return _compact(value)


def describe_headers(headers: Mapping[Any, Any] | None) -> list[tuple[str, str]]:
    """``(name, value)`` for each header, both sanitized: bytes decoded
    (``\\xNN`` where not UTF-8), nested tables and arrays compact on one line."""
    if not headers:
        return []
    return [
        (sanitize(_compact(key), 200), sanitize(_compact(value), VALUE_CHARS))
        for key, value in headers.items()
    ]


def describe_properties(delivery: Delivery) -> list[tuple[str, str]]:
    """``(name, value)`` for each AMQP property present, then each header as
    ``headers.<name>``; every value sanitized, one line each."""
    props = delivery.properties
    out: list[tuple[str, str]] = []
    for name in PROPERTY_NAMES:
        value = getattr(props, name, None)
        if value is not None:
            out.append((name, sanitize(_property_value(name, value), VALUE_CHARS)))
    headers = delivery.headers or getattr(props, "headers", None)
    out.extend((f"headers.{key}", value) for key, value in describe_headers(headers))
    return out
