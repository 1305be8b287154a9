"""A delivery as one JSON record, and a pane's messages as a JSON Lines file.

The record (:func:`delivery_record`) is the one layout of a delivery in JSON:
an export writes one per line, and ``fanout-tui listen --json`` prints one per
message. The body is UTF-8 text as it is, anything else base64; a body its
pane did not keep whole is written as its preview, flagged. Lines are
written with ``ensure_ascii`` so they are plain ASCII: a body with escape
sequences can be ``cat`` to a terminal safely, and still reads back exactly
with any JSON parser.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import datetime as dt
import json
import os
import re
import time
import uuid
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..locations import exports_dir
from .delivery import PROPERTY_NAMES, Delivery

DEFAULT_BODY_CAP = 1024 * 1024  # bytes of each body written; the rest is cut and flagged


class ExportError(Exception):
    """The export could not be written; ``str()`` is one line saying why."""


def _iso(timestamp: float) -> str:
    try:
        return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="microseconds")
    except (ValueError, OverflowError, OSError):  # another program's absurd stamp
        return ""


def jsonable(value: Any) -> Any:
    """``value`` made JSON-safe: bytes as text when UTF-8, else ``{"base64": …}``;
    datetimes as ISO-8601; decimals as strings; tables and arrays recursively."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(value).decode("ascii")}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def _body_fields(body: bytes, cap: int | None, whole: bool) -> dict[str, Any]:
    """``whole``: ``body`` is all of the body (else a preview, cut already)."""
    cut = body if cap is None else body[: max(cap, 0)]
    truncated = len(cut) < len(body) or not whole
    text: str | None
    try:
        if truncated:
            # The cap may fall inside a character: leave that character out
            # rather than call the whole body binary.
            decoder = codecs.getincrementaldecoder("utf-8")("strict")
            text = decoder.decode(cut, final=False)
        else:
            text = cut.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        return {"body": text, "body_encoding": "utf-8", "truncated": truncated}
    encoded = base64.b64encode(cut).decode("ascii")
    return {"body": encoded, "body_encoding": "base64", "truncated": truncated}


def delivery_record(delivery: Delivery, body_cap: int | None = DEFAULT_BODY_CAP) -> dict[str, Any]:
    """One delivery as a JSON-safe dict, its first ``body_cap`` bytes of body
    (None: all of it).

    - ``seq``, ``origin``: this app's stamp (``x-fanout-seq``, ``x-fanout-origin``)
    - ``sent_at`` / ``sent_at_epoch``: the publisher's stamp; ``received_at`` /
      ``received_at_epoch``: arrival (ISO-8601 UTC with microseconds, and the float)
    - ``latency_ms``: from the two (the hosts' clocks may differ)
    - ``exchange``, ``routing_key``, ``queue``, ``redelivered``: where it came from
    - ``properties``: the AMQP properties that are set, and always ``headers``
    - ``size``: bytes of the whole body; ``body``, ``body_encoding`` (``"utf-8"``
      or ``"base64"``), ``truncated`` (``body`` is not all of it: cut at
      ``body_cap``, or only the preview was kept)
    - ``body_kept``: False when the pane had released the whole body for newer
      ones (its budget keeps the newest); ``body`` is then the preview a pane
      line shows, ``truncated`` is true and ``size`` is still the whole size

    Values not known (a message not stamped by this app) are null.
    """
    delivery = delivery.pinned()  # one body from here on, kept or not
    props = delivery.properties
    properties: dict[str, Any] = {
        name: jsonable(getattr(props, name))
        for name in PROPERTY_NAMES
        if getattr(props, name, None) is not None
    }
    properties["headers"] = jsonable(delivery.headers or getattr(props, "headers", None) or {})
    sent_at, latency = delivery.sent_at, delivery.latency
    record: dict[str, Any] = {
        "seq": delivery.seq,
        "origin": delivery.origin,
        "sent_at": _iso(sent_at) if sent_at is not None else None,
        "sent_at_epoch": sent_at,
        "received_at": _iso(delivery.received_at),
        "received_at_epoch": delivery.received_at,
        "latency_ms": round(latency * 1000, 3) if latency is not None else None,
        "exchange": delivery.exchange,
        "routing_key": delivery.routing_key,
        "queue": delivery.queue,
        "redelivered": bool(delivery.redelivered),
        "properties": properties,
        "size": delivery.size,
    }
    kept = delivery.body_kept
    record.update(_body_fields(delivery.body, body_cap, kept))
    record["body_kept"] = kept
    return record


def delivery_json(delivery: Delivery, body_cap: int | None = DEFAULT_BODY_CAP) -> str:
    """:func:`delivery_record` as one line of JSON, plain ASCII (see the module docstring)."""
    return json.dumps(delivery_record(delivery, body_cap), ensure_ascii=True)


def _one_line(exc: OSError, path: Path, tmp: Path) -> str:
    reason = exc.strerror or str(exc) or type(exc).__name__
    message = f"could not write {path}: {reason}"
    where = exc.filename
    if where is not None and str(where) not in (str(path), str(tmp)):
        message += f" ({where})"  # the directory that could not be made, say
    return message  # raw: whoever shows it sanitizes it (a path can hold anything)


def export_jsonl(
    deliveries: Iterable[Delivery], path: Path, body_cap: int = DEFAULT_BODY_CAP
) -> int:
    """Write one JSON line per delivery to ``path``; return how many were written.

    Creates the parent directories; writes ``<path>.tmp`` first and renames it
    over ``path``, so a failed export leaves no half-written file. Anything that
    is not a :class:`Delivery` (a pane's own marker lines) is skipped. Raises
    :class:`ExportError`, with a one-line message, when the file cannot be
    written (unwritable directory, a file where a directory should be, full disk).
    """
    path = Path(path)
    # Unique, so two exports at once never write the same temporary file.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    count = 0
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w", encoding="ascii", newline="\n") as out:
            for delivery in deliveries:
                if not isinstance(delivery, Delivery):
                    continue
                out.write(delivery_json(delivery, body_cap))
                out.write("\n")
                count += 1
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise ExportError(_one_line(exc, path, tmp)) from exc
    return count


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def default_export_path(label: str, now: float | None = None) -> Path:
    """``<data dir>/exports/<label>-YYYYmmdd-HHMMSS-mmm.jsonl`` (local time), e.g.
    ``R3-20261127-051932-250.jsonl``; characters unsafe in a file name become ``_``."""
    now = time.time() if now is None else now
    when = time.localtime(now)
    safe = _UNSAFE_NAME.sub("_", label).strip("._") or "export"
    millis = int(now * 1000) % 1000  # two exports in one second get two files
    stamp = f"{time.strftime('%Y%m%d-%H%M%S', when)}-{millis:03d}"
    return exports_dir() / f"{safe}-{stamp}.jsonl"
