"""Which receivers a published message should reach: RabbitMQ's routing, in Python.

Given an exchange's type and each receiver's bindings, :func:`expected` says
which receivers a message with a routing key and headers should reach, so the
dashboard can tell "not delivered" from "not routed to you". The rules are the
broker's own (RabbitMQ 3.10's ``rabbit_exchange_type_topic`` and
``rabbit_exchange_type_headers``), and ``tests/test_routing.py`` checks them
against a real broker: where this module and the broker disagree, the broker
is right. What a key (or a message typed) must be to be written at all is
checked here too (:func:`routing_key_problem`, :func:`utf8_problem`).

No pika, no network: pure functions of their arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from operator import or_
from typing import Any

EXCHANGE_TYPES = ("fanout", "direct", "topic", "headers")
MATCHES = ("all", "any", "all-with-x", "any-with-x")
MAX_KEY_BYTES = 255  # a routing key is an AMQP short string


def utf8_problem(text: str, what: str) -> str:
    """Why ``text`` has no UTF-8 form ("" when it has): a lone surrogate, which a
    browser session or an undecodable command-line byte can bring in. ``what``
    names it in the reason (``the routing key``, ``the message``)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (
            f"{what} has a character UTF-8 cannot carry "
            f"({text[exc.start]!r} at position {exc.start + 1}, a lone surrogate)"
        )
    return ""


def routing_key_problem(key: str) -> str:
    """Why ``key`` cannot be a routing key ("" when it can): AMQP carries it as
    a short string, at most 255 bytes of UTF-8. Checked before a message is
    written, so a bad key is refused with the reason instead of failing the
    connection it would be written on."""
    problem = utf8_problem(key, "the routing key")
    if problem:
        return problem
    size = len(key.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        return f"the routing key is {size:,} bytes; AMQP allows at most {MAX_KEY_BYTES}"
    return ""


@dataclass(frozen=True, slots=True)
class Binding:
    """One binding of a receiver's queue: a key (direct, topic) or header pairs
    to match (headers exchanges; values are strings, as a receiver spec's
    ``h.NAME=VALUE`` gives them) and how to match them (``x-match``)."""

    key: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    match: str = "all"


def binding_matches(
    exchange_type: str, binding: Binding, routing_key: str, headers: Mapping[str, Any]
) -> bool:
    """Whether the broker routes a message with ``routing_key`` and ``headers``
    through ``binding``. ``headers`` are the message's headers as published
    (including any the app stamps), with the values pika was given."""
    if exchange_type == "fanout":
        return True  # a fanout exchange ignores key and headers: every queue gets a copy
    if exchange_type == "direct":
        return binding.key == routing_key  # the whole key, compared exactly
    if exchange_type == "topic":
        return _topic_matches(binding.key, routing_key)
    if exchange_type == "headers":
        return _headers_match(binding, headers)
    raise ValueError(
        f"unknown exchange type {exchange_type!r} (known: {', '.join(EXCHANGE_TYPES)})"
    )


def expected(
    exchange_type: str,
    bindings_by_receiver: Mapping[int, Sequence[Binding]],
    routing_key: str,
    headers: Mapping[str, Any],
) -> frozenset[int]:
    """The receivers with at least one binding the message matches. A queue
    gets one copy however many of its bindings match, so a set is the answer."""
    return frozenset(
        receiver
        for receiver, bindings in bindings_by_receiver.items()
        if any(binding_matches(exchange_type, b, routing_key, headers) for b in bindings)
    )


def describe_binding(exchange_type: str, binding: Binding) -> str:
    """A binding in a few characters, for a pane's title or a result line:
    ``'kern.*'`` (quoted, so the empty key shows as ``''``), ``any(x=1, y=2)``,
    and nothing for fanout, whose bindings all mean the same."""
    if exchange_type == "fanout":
        return ""
    if exchange_type == "headers":
        pairs = ", ".join(f"{name}={value}" for name, value in binding.headers)
        return f"{binding.match}({pairs})"
    return f"'{binding.key}'"


# Topic ---------------------------------------------------------------------------


def _words(key: str) -> list[str]:
    """A topic key's words. Every '.' separates two words, so leading, trailing
    and doubled dots make empty words ('a..b' is 'a', '', 'b'); the empty key
    alone is no words at all, not one empty word (the broker's split_topic_key)."""
    return key.split(".") if key else []


def _topic_matches(pattern: str, routing_key: str) -> bool:
    """``*`` matches exactly one word (an empty one too), ``#`` zero or more,
    any other word only itself. Checked left to right over the pattern:
    ``reach[j]`` says the pattern's words so far can match the key's first j
    words. Linear in each, however many ``#`` the pattern holds."""
    words = _words(routing_key)
    reach = [True] + [False] * len(words)
    for part in _words(pattern):
        if part == "#":
            # Zero or more words: once j words are matched, so is every j' > j.
            reach = list(accumulate(reach, or_))
        elif part == "*":
            # Exactly one word, any: j + 1 words are matched if j were.
            reach = [False, *reach[:-1]]
        else:
            # Exactly one word, this one: j + 1 if j were and word j is it.
            matched = zip(reach[:-1], words, strict=True)
            reach = [False, *(ok and word == part for ok, word in matched)]
    return reach[-1]


# Headers -------------------------------------------------------------------------


def _headers_match(binding: Binding, headers: Mapping[str, Any]) -> bool:
    """x-match ``all``: every pair is in the message; ``any``: at least one is.
    The routing key is ignored. Plain all/any leave out the binding's pairs
    whose name starts with 'x-' (the broker's own arguments live there); the
    -with-x forms match them too. 'x-match' itself is never a pair. So a
    binding with no pairs (left) matches every message under all, none under any."""
    with_x = binding.match.endswith("-with-x")
    pairs = dict(binding.headers)  # as bound: an AMQP table holds each name once
    hits = [
        name in headers and _equal(headers[name], value)
        for name, value in pairs.items()
        if name != "x-match" and (with_x or not name.startswith("x-"))
    ]
    return any(hits) if binding.match.startswith("any") else all(hits)


def _equal(message_value: Any, binding_value: str) -> bool:
    """The broker compares the values, not their AMQP types, as Erlang terms.
    A binding's string is a binary there, so only a string (a longstr) or bytes
    (pika sends a byte array, also a binary) with the same bytes equals it; an
    int 1, a bool, a float, a timestamp or a table never equals "1"."""
    if isinstance(message_value, str):
        return message_value == binding_value
    if isinstance(message_value, bytes):
        return message_value == binding_value.encode()
    return False
