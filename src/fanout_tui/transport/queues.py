"""What a receiver pane's queue is declared, bound and consumed with, for each kind.

Pure functions from a :class:`ReceiverSpec` to pika's keyword arguments, so the
rules are in one place and testable without a broker:

- ``exclusive``: the tutorial's server-named exclusive queue, plus the app's own
  length cap (``queue_cap``, drop-head): a dashboard left open against a busy
  exchange must not fill the broker's memory with what it never shows;
- ``durable`` and ``shared``: a named durable queue of the spec's type (classic
  or quorum), like the work-queue tutorial's ``task_queue``;
- ``stream``: a named durable stream, consumed with a prefetch (streams refuse
  an unlimited one), manual acks and ``x-stream-offset``.

Its bindings too (:func:`bindings`): what ``queue_bind`` is called with on an
exchange of each type.

A queue that exists with other arguments makes the broker answer 406
``inequivalent arg``; :func:`conflict_from` turns that into one line naming the
queue and what the broker said.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pika.exceptions as pex

from ..model.receiver_spec import ReceiverSpec, stream_offset_argument

QUEUE_CAP = 100_000  # the app's own cap on its exclusive queues (0: none)
STREAM_PREFETCH = 1_000  # a stream consumer's default window (a prefetch is required)


class QueueConflict(Exception):
    """The named queue exists with other settings (406 from queue.declare).

    Final: declaring again cannot succeed until someone deletes the queue or
    the pane asks for the same settings, so the receiver stops rather than retry.
    """

    def __init__(self, queue: str, reply: str) -> None:
        super().__init__(
            f"queue {queue!r} exists with other settings ({reply}); delete the queue, "
            "use another name=, or ask for the settings it has"
        )
        self.queue = queue


# "inequivalent arg 'x-max-length' for queue 'jobs' in vhost '/': received none
# but current is the value '5' of type 'signedint'": the argument and both values.
_ARGUMENT = re.compile(
    r"inequivalent arg '(?P<arg>[^']*)' for queue '.*?' in vhost '.*?': "
    r"received (?P<asked>.*?) but current is (?P<current>.*)$"
)
_VALUE = re.compile(r"the value '(?P<value>.*?)' of type '.*?'")
# Any other 406 reply: without the queue and vhost, which the line names already.
_WHERE = re.compile(r" for queue '.*?' in vhost '.*?'")


def _value(text: str) -> str:
    match = _VALUE.fullmatch(text.strip())
    return match["value"] if match else text.strip()


def conflict_from(exc: pex.ChannelClosedByBroker, queue: str) -> QueueConflict | None:
    """The conflict a 406 on queue.declare reports (None for any other error)."""
    if exc.reply_code != 406:
        return None
    reply = (exc.reply_text or "").split(" - ", 1)[-1].strip()
    match = _ARGUMENT.match(reply)
    if match:
        there, asked = _value(match["current"]), _value(match["asked"])
        reply = f"{match['arg']} is {there} there; this pane asks for {asked}"
    return QueueConflict(queue, _WHERE.sub("", reply, count=1))


def queue_arguments(spec: ReceiverSpec, queue_cap: int = QUEUE_CAP) -> dict[str, Any]:
    """``queue.declare`` arguments: the kind's type and the spec's limits.

    Only what the spec (or, on exclusive queues, the cap) asks for is sent: a
    declare that names an argument the existing queue lacks (or the reverse)
    is refused as inequivalent, so nothing is added for show.
    """
    args: dict[str, Any] = {}
    if spec.kind == "stream":
        args["x-queue-type"] = "stream"
        if spec.max_bytes is not None:
            args["x-max-length-bytes"] = spec.max_bytes
        return args
    if spec.kind in ("durable", "shared"):
        args["x-queue-type"] = spec.queue_type
    max_length = spec.max_length
    if max_length is None and spec.kind == "exclusive" and queue_cap > 0:
        max_length = queue_cap
    if max_length is not None:
        args["x-max-length"] = max_length
    if spec.max_bytes is not None:
        args["x-max-length-bytes"] = spec.max_bytes
    if spec.overflow:
        args["x-overflow"] = spec.overflow
    elif spec.kind == "exclusive" and "x-max-length" in args:
        args["x-overflow"] = "drop-head"  # said, not assumed: the cap keeps the newest
    if spec.ttl is not None:
        args["x-message-ttl"] = round(spec.ttl * 1000)
    return args


def declare_arguments(spec: ReceiverSpec, name: str, queue_cap: int = QUEUE_CAP) -> dict[str, Any]:
    """Keyword arguments of ``channel.queue_declare`` for this pane's queue.

    ``name`` is the resolved name of a named kind (``spec.queue_name``); an
    exclusive queue is server-named whatever it is.
    """
    if spec.kind == "exclusive":
        return {"queue": "", "exclusive": True, "arguments": queue_arguments(spec, queue_cap)}
    return {"queue": name, "durable": True, "arguments": queue_arguments(spec, queue_cap)}


def prefetch_of(spec: ReceiverSpec, default: int) -> int:
    """The ``basic.qos`` window: the spec's, else the kind's default.

    Streams need a window (0, unlimited, is refused by the spec parser); a slow
    consumer buffers at most its window locally, so 0 with a delay becomes the
    default window rather than an unbounded buffer.
    """
    if spec.prefetch is not None and not (spec.prefetch == 0 and spec.delay):
        return spec.prefetch
    return STREAM_PREFETCH if spec.kind == "stream" else default


def consume_arguments(spec: ReceiverSpec, offset: str | int | datetime | None) -> dict[str, Any]:
    """``basic.consume`` arguments: a stream's starting offset (``offset`` when
    resuming from where the pane was, else the spec's)."""
    if spec.kind != "stream":
        return {}
    start = spec.offset if offset is None else offset
    return {"x-stream-offset": stream_offset_argument(start)}


__all__ = [
    "QUEUE_CAP",
    "STREAM_PREFETCH",
    "QueueConflict",
    "conflict_from",
    "consume_arguments",
    "declare_arguments",
    "prefetch_of",
    "queue_arguments",
]


def bindings(exchange_type: str, spec: ReceiverSpec) -> list[dict[str, Any]]:
    """The ``queue_bind`` arguments for a pane's bindings on an exchange of this type.

    fanout ignores keys (the tutorial binds with ""); direct and topic bind once
    per key, and with none, direct binds the empty key (it gets what is published
    with the empty key) and topic ``#`` (everything); headers binds once, with
    ``x-match`` and the pairs. An unknown type (the user may not declare the
    exchange, so the broker would not say) binds the keys given, or "" (with
    the header pairs, if any, as arguments: another type ignores them).
    """
    if exchange_type == "headers" or (not exchange_type and spec.headers):
        return [{"routing_key": "", "arguments": {"x-match": spec.match, **dict(spec.headers)}}]
    # The keys as tracking matches them (ReceiverSpec.binding_keys: one rule).
    return [{"routing_key": key} for key in spec.binding_keys(exchange_type)]


def binding_text(found: list[dict[str, Any]]) -> str:
    """Bindings in a few words: ``key 'a.*', key 'b.#'`` or ``x-match all, h=1``."""
    parts = []
    for binding in found:
        arguments = binding.get("arguments")
        if arguments:
            parts.append(", ".join(f"{k}={v}" for k, v in arguments.items()))
        else:
            parts.append(f"key {binding['routing_key']!r}")
    return "; ".join(parts)
