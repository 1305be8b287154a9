"""What a receiver pane subscribes with: its kind, its consumer, its queue's limits.

One spec, written the same everywhere: ``--receiver SPEC`` on the command line,
a ``[[receivers]]`` table in ``config.toml`` and the Add-receiver form. ``SPEC``
is a kind, optionally followed by ``:key=value,key=value``::

    exclusive                      the tutorial's server-named exclusive queue
    durable:name=audit,type=quorum a named durable queue that outlives reconnects
    shared:name=jobs               a named queue several panes consume together
    stream:offset=first            a stream queue, replayed from an offset
    exclusive:delay=20ms,max-length=1000

Parsing never touches the network; a bad spec raises :class:`SpecError`, one
line naming the bad key or value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

KINDS = ("exclusive", "durable", "shared", "stream")
QUEUE_TYPES = ("classic", "quorum")
ACKS = ("auto", "manual")
OVERFLOWS = ("drop-head", "reject-publish")
MATCHES = ("all", "any", "all-with-x", "any-with-x")
MAX_PREFETCH = 65_535  # basic.qos prefetch_count is a 16-bit field
MAX_NAME_BYTES = 255  # an AMQP short string
MAX_DELAY = 3600.0  # seconds of "processing" per message
# The keys each kind accepts besides the common ones.
_KIND_KEYS: dict[str, frozenset[str]] = {
    "exclusive": frozenset(),
    "durable": frozenset({"name", "type", "keep"}),
    "shared": frozenset({"name", "type", "keep"}),
    "stream": frozenset({"name", "offset", "keep"}),
}
_COMMON_KEYS = frozenset({"ack", "prefetch", "delay", "max-bytes", "keys", "match"})
# Limits a stream does not take (see _NOT_ON_STREAMS).
_QUEUE_LIMIT_KEYS = frozenset({"max-length", "overflow", "ttl"})
# What a stream queue cannot do (RabbitMQ refuses these arguments on streams, or
# they mean nothing there): named so the error can say why.
_NOT_ON_STREAMS = {
    "max-length": "streams are bounded by max-bytes and age, not by count",
    "overflow": "streams never drop on publish",
    "ttl": "streams expire by age (x-max-age), not per message",
    "ack": "streams need manual acks",
}

# Every key in the order a form shows them (headers, ``h.NAME``, come apart).
SPEC_KEYS = (
    "name",
    "type",
    "offset",
    "ack",
    "prefetch",
    "delay",
    "max-length",
    "max-bytes",
    "overflow",
    "ttl",
    "keep",
    "keys",
    "match",
)

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(us|ms|s|m|h)$")
_UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
# RabbitMQ's own interval syntax for x-stream-offset: a number and one unit.
_INTERVAL = re.compile(r"^\d+[YMDhms]$")


class SpecError(ValueError):
    """A receiver spec that cannot be used; the message is one line, safe to show."""


@dataclass(frozen=True, slots=True)
class ReceiverSpec:
    kind: str = "exclusive"
    name: str = ""  # the queue's name ("" for exclusive, or derived: see queue_name)
    queue_type: str = "classic"
    offset: str | int | datetime = "next"  # streams only
    ack: str = "manual"
    prefetch: int | None = None  # None: the receiver's default window
    delay: float = 0.0  # seconds of processing per message
    max_length: int | None = None
    max_bytes: int | None = None
    overflow: str = ""  # "" is RabbitMQ's default, drop-head
    ttl: float | None = None  # seconds
    keep: bool = False
    keys: tuple[str, ...] = ()  # binding keys (direct, topic)
    match: str = "all"  # headers exchanges: x-match
    headers: tuple[tuple[str, str], ...] = ()  # headers exchanges: the pairs to match
    text: str = field(default="", compare=False)  # as the user wrote it

    @property
    def named(self) -> bool:
        """Whether the queue has a name of ours (it is not server-named)."""
        return self.kind != "exclusive"

    @property
    def limited(self) -> bool:
        return self.max_length is not None or self.max_bytes is not None or self.ttl is not None

    def queue_name(self, exchange: str, number: int) -> str:
        """The queue this pane declares ("" for a server-named one): the spec's
        name, or for a durable or stream pane one derived from the exchange and
        the pane, so the same pane finds its queue again on the next start."""
        if not self.named:
            return ""
        return self.name or f"fanout-tui.{exchange}.R{number}"

    def describe(self) -> str:
        """A few words for the pane's title: the kind and what differs from the default."""
        words = [self.kind]
        if self.kind in ("durable", "shared") and self.name:
            words[0] = f"{self.kind} {self.name!r}"
        if self.queue_type != "classic":
            words.append(self.queue_type)
        if self.kind == "stream":
            words.append(f"from {_offset_text(self.offset)}")
        if self.ack != "manual":
            words.append(f"ack {self.ack}")
        if self.prefetch is not None and not (self.delay and self.prefetch == 1):
            words.append(f"prefetch {self.prefetch:,}")  # (1 goes without saying with a delay)
        if self.delay:
            words.append(f"delay {duration_text(self.delay)}")
        if self.max_length is not None:
            words.append(f"max-length {self.max_length:,}")
        if self.max_bytes is not None:
            words.append(f"max-bytes {self.max_bytes:,}")
        if self.overflow:
            words.append(self.overflow)
        if self.ttl is not None:
            words.append(f"ttl {duration_text(self.ttl)}")
        if self.keep:
            words.append("kept")
        if words[0] == "exclusive" and len(words) > 1:
            del words[0]  # the default kind goes without saying beside what differs
        return " · ".join(words)

    def limits_text(self) -> str:
        """The queue's limits as the dropped line names them: ``max-length 1,000, drop-head``."""
        parts = []
        if self.max_length is not None:
            parts.append(f"max-length {self.max_length:,}")
        if self.max_bytes is not None:
            parts.append(f"max-bytes {self.max_bytes:,}")
        if parts:
            parts.append(self.overflow or "drop-head")
        return ", ".join(parts)

    def binding_keys(self, exchange_type: str) -> tuple[str, ...]:
        """The keys it binds with on an exchange of this type: fanout and headers
        ignore keys (bound with ""); with none given, direct binds the empty key
        and topic ``#`` (everything). An unknown type ("") binds the keys, or ""."""
        if exchange_type in ("fanout", "headers"):
            return ("",)
        return self.keys or (("#",) if exchange_type == "topic" else ("",))

    def bindings_text(self, exchange_type: str) -> str:
        """Its bindings in a few characters for titles and result lines
        (``kern.*;*.critical``, ``''`` for the empty key, ``any(x=1)``; "" on fanout)."""
        if exchange_type == "fanout":
            return ""
        if exchange_type == "headers":
            pairs = ", ".join(f"{name}={value}" for name, value in self.headers)
            return f"{self.match}({pairs})"
        return ";".join(key or "''" for key in self.binding_keys(exchange_type))

    def with_bindings(
        self, keys: tuple[str, ...], match: str, headers: tuple[tuple[str, str], ...]
    ) -> ReceiverSpec:
        return replace(self, keys=keys, match=match, headers=headers)


def duration_text(seconds: float) -> str:
    """``20ms``, ``5s``, ``1.5s``, ``10m``: the shortest of the spec's own units."""
    if seconds and seconds < 1:
        return f"{seconds * 1000:g}ms"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


def _offset_text(offset: str | int | datetime) -> str:
    if isinstance(offset, datetime):
        return offset.isoformat()
    if isinstance(offset, int):
        return f"offset {offset:,}"
    if _INTERVAL.match(offset):
        return f"{offset} ago"
    return offset


def _allowed(kind: str) -> frozenset[str]:
    """The keys ``kind`` accepts: the one list the parser and the form both use."""
    limits = _QUEUE_LIMIT_KEYS if kind != "stream" else frozenset()
    return _COMMON_KEYS | _KIND_KEYS[kind] | limits


def keys_for(kind: str) -> tuple[str, ...]:
    """The keys a spec of ``kind`` accepts, in the Add-receiver form's order
    (besides ``h.NAME`` header pairs, which every kind takes)."""
    allowed = _allowed(kind)
    return tuple(key for key in SPEC_KEYS if key in allowed)


def parse_spec(text: str) -> ReceiverSpec:
    """``KIND[:key=value,...]`` as a spec, or :class:`SpecError`."""
    text = text.strip()
    kind, _, rest = text.partition(":")
    pairs: dict[str, Any] = {}
    if rest.strip():
        for item in rest.split(","):
            key, eq, value = item.partition("=")
            key = key.strip()
            if not eq or not key:
                raise SpecError(f"receiver {text!r}: {item.strip()!r} is not key=value")
            if key in pairs:
                raise SpecError(f"receiver {text!r}: {key!r} is given twice")
            pairs[key] = value.strip()
    elif rest or text.endswith(":"):
        raise SpecError(f"receiver {text!r}: nothing after ':'")
    return spec_from_mapping(kind.strip(), pairs, source=f"receiver {text!r}", text=text)


def spec_from_table(table: Mapping[str, Any], source: str) -> ReceiverSpec:
    """A ``[[receivers]]`` table of config.toml (``kind = "shared"``, ``name = "jobs"``,
    ``max-length = 1000``, ``keys = ["a", "b"]``, ``h = {x = "1"}``) as a spec."""
    values = dict(table)
    kind = values.pop("kind", "exclusive")
    if not isinstance(kind, str):
        raise SpecError(f"{source}: 'kind' must be a string")
    return spec_from_mapping(kind, values, source=source, text="")


def spec_from_mapping(
    kind: str, values: Mapping[str, Any], *, source: str, text: str
) -> ReceiverSpec:
    """The checks shared by the spec string and the config table: every key
    known for the kind, every value in range. ``h.NAME`` keys (or a table ``h``)
    are headers to match."""
    if kind not in KINDS:
        raise SpecError(f"{source}: unknown kind {kind!r} (kinds: {', '.join(KINDS)})")
    allowed = _allowed(kind)
    out: dict[str, Any] = {"kind": kind, "text": text or spec_text(kind, values)}
    headers: dict[str, str] = {}
    for key, raw in values.items():
        if key == "h" and isinstance(raw, Mapping):
            for name, value in raw.items():
                headers[str(name)] = _string(value, f"h.{name}", source)
            continue
        if key.startswith("h.") and len(key) > 2:
            headers[key[2:]] = _string(raw, key, source)
            continue
        if key not in allowed:
            if key in _NOT_ON_STREAMS and kind == "stream":
                raise SpecError(f"{source}: {key!r} is not for streams ({_NOT_ON_STREAMS[key]})")
            known = ", ".join(sorted(allowed | {"h.NAME"}))
            raise SpecError(f"{source}: unknown key {key!r} for {kind} (known: {known})")
        out.update(_value(key, raw, source))
    if headers:
        out["headers"] = tuple(sorted(headers.items()))
    if kind == "shared" and not out.get("name"):
        raise SpecError(f"{source}: a shared receiver needs name= (the queue its panes share)")
    if kind == "stream":
        if out.get("prefetch") == 0:
            raise SpecError(f"{source}: prefetch=0 is unlimited, which streams refuse")
        if out.get("ack") == "auto":
            raise SpecError(f"{source}: ack=auto is not for streams ({_NOT_ON_STREAMS['ack']})")
    if out.get("delay") and out.get("ack") == "auto":
        # The broker does not wait for an auto-ack consumer: a slow one would pile
        # every message up in this process instead of in its queue.
        raise SpecError(f"{source}: delay= needs ack=manual (auto acks do not slow the broker)")
    if out.get("delay") and out.get("prefetch") is None:
        # A slow consumer takes one message at a time, as the work-queue tutorial's
        # does (basic_qos(prefetch_count=1)): the rest wait in the queue, visible.
        out["prefetch"] = 1
    return ReceiverSpec(**out)


def spec_text(kind: str, values: Mapping[str, Any]) -> str:
    """The ``KIND:key=value,...`` text of a kind and its values (as a table or the
    form holds them), so what was given can be shown the way it is written."""
    items = [f"{k}={_plain(v)}" for k, v in values.items() if k != "h"]
    heads = values.get("h")
    if isinstance(heads, Mapping):
        items += [f"h.{k}={v}" for k, v in heads.items()]
    return kind + (":" + ",".join(items) if items else "")


def _plain(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _string(value: Any, key: str, source: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise SpecError(f"{source}: {key!r} must be text")
    return str(value)


def _value(key: str, raw: Any, source: str) -> dict[str, Any]:
    """One key's value, checked, as ReceiverSpec fields."""
    bad = f"{source}: {key}={_plain(raw)!r}"
    if key == "name":
        name = _string(raw, key, source)
        if not name or len(name.encode("utf-8")) > MAX_NAME_BYTES:
            raise SpecError(f"{bad}: a queue name is 1 to {MAX_NAME_BYTES} bytes")
        if name.startswith("amq."):
            raise SpecError(f"{bad}: names starting with 'amq.' are reserved for the broker")
        return {"name": name}
    if key == "type":
        return {"queue_type": _choice(raw, QUEUE_TYPES, bad)}
    if key == "ack":
        return {"ack": _choice(raw, ACKS, bad)}
    if key == "overflow":
        return {"overflow": _choice(raw, OVERFLOWS, bad)}
    if key == "match":
        return {"match": _choice(raw, MATCHES, bad)}
    if key == "keep":
        return {"keep": _yes_no(raw, bad)}
    if key == "prefetch":
        return {"prefetch": _count(raw, bad, 0, MAX_PREFETCH)}
    if key in ("max-length", "max-bytes"):
        return {key.replace("-", "_"): _count(raw, bad, 0, 2**63 - 1)}
    if key == "delay":
        return {"delay": _duration(raw, bad, MAX_DELAY)}
    if key == "ttl":
        ttl = _duration(raw, bad, 2**32 / 1000)  # x-message-ttl: milliseconds, 32 bits
        return {"ttl": ttl}
    if key == "offset":
        return {"offset": _offset(raw, bad)}
    if key == "keys":
        return {"keys": _keys(raw, bad)}
    raise SpecError(f"{source}: unknown key {key!r}")  # pragma: no cover (checked above)


def _choice(raw: Any, choices: tuple[str, ...], bad: str) -> str:
    if raw not in choices:
        raise SpecError(f"{bad}: must be one of {', '.join(choices)}")
    return str(raw)


def _yes_no(raw: Any, bad: str) -> bool:
    if isinstance(raw, bool):
        return raw
    if raw in ("yes", "true", "1"):
        return True
    if raw in ("no", "false", "0"):
        return False
    raise SpecError(f"{bad}: must be yes or no")


def _count(raw: Any, bad: str, low: int, high: int) -> int:
    if isinstance(raw, bool):
        raise SpecError(f"{bad}: must be a whole number")
    if isinstance(raw, int):
        value = raw
    else:
        text = str(raw).replace("_", "")
        if not re.fullmatch(r"-?\d+", text):
            raise SpecError(f"{bad}: must be a whole number")
        value = int(text)
    if not low <= value <= high:
        raise SpecError(f"{bad}: must be between {low:,} and {high:,}")
    return value


def parse_duration(text: str) -> float | None:
    """Seconds in ``20ms``, ``5s``, ``1.5s``, ``10m``, ``2h`` or ``0`` (None if not one)."""
    if text == "0":
        return 0.0
    match = _DURATION.match(text)
    if match is None:
        return None
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _duration(raw: Any, bad: str, most: float) -> float:
    seconds = parse_duration(str(raw)) if not isinstance(raw, bool) else None
    if seconds is None:
        raise SpecError(f"{bad}: must be a duration like 20ms, 5s or 10m")
    if seconds > most:
        raise SpecError(f"{bad}: at most {duration_text(most)}")
    return seconds


def _offset(raw: Any, bad: str) -> str | int | datetime:
    if isinstance(raw, datetime):  # a TOML date-time
        return raw
    if isinstance(raw, int) and not isinstance(raw, bool):
        if raw < 0:
            raise SpecError(f"{bad}: an offset is not negative")
        return raw
    text = str(raw)
    if text in ("first", "last", "next"):
        return text
    if re.fullmatch(r"\d+", text):
        return int(text)
    if _INTERVAL.match(text):
        return text
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    raise SpecError(
        f"{bad}: must be first, last, next, an offset number, an ISO time "
        "(YYYY-MM-DDTHH:MM) or an interval (10m, 2h, 1D)"
    )


def _keys(raw: Any, bad: str) -> tuple[str, ...]:
    keys = [str(k) for k in raw] if isinstance(raw, list | tuple) else str(raw).split(";")
    for key in keys:
        if len(key.encode("utf-8")) > MAX_NAME_BYTES:
            raise SpecError(f"{bad}: a binding key is at most {MAX_NAME_BYTES} bytes")
    return tuple(keys)


def stream_offset_argument(offset: str | int | datetime) -> Any:
    """``x-stream-offset`` as the broker takes it: a word, a number, a timestamp
    or an interval string. A timestamp without a zone is this machine's local time."""
    if isinstance(offset, datetime) and offset.tzinfo is None:
        return offset.astimezone()
    return offset


__all__ = [
    "KINDS",
    "SPEC_KEYS",
    "ReceiverSpec",
    "SpecError",
    "keys_for",
    "parse_duration",
    "parse_spec",
    "spec_from_mapping",
    "spec_from_table",
    "spec_text",
    "stream_offset_argument",
]
