"""The sanitizer: any bytes in, one safe printable line out.

Message bodies, headers and queue names come from other programs. Rich and
Textual pass ESC and C1 bytes straight to the terminal, so a body could retitle
the window, clear the screen or recolour it. Everything shown goes through
:func:`sanitize`, and the widgets that show the result never parse markup.
"""

from __future__ import annotations

import codecs
import time

from ..model.cli_numbers import is_cli_origin
from ..model.delivery import Delivery

DEFAULT_LIMIT = 500  # characters of preview on one line

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# Printable characters whose width terminals disagree on: each terminal (and
# Rich, which lays out the panes) joins them with their neighbours, or not, by
# its own rules, so a line holding one can end a cell or two away from where
# the layout put it and push a pane's border. They are escaped like control
# characters, which keeps every line's width the sum of its characters' widths.
# Plain wide characters (CJK, emoji that are wide on their own) are kept:
# terminals agree those take two cells.
UNSTABLE_WIDTH = frozenset(
    map(
        chr,
        [
            *range(0xFE00, 0xFE10),  # variation selectors (U+FE0E text, U+FE0F emoji style)
            *range(0xE0100, 0xE01F0),  # variation selectors supplement
            0x200D,  # zero-width joiner (emoji ZWJ sequences)
            0x20E3,  # combining enclosing keycap (1️⃣)
            *range(0x1F1E6, 0x1F200),  # regional indicators (flags are pairs of them)
            *range(0x1F3FB, 0x1F400),  # emoji skin-tone modifiers
            0x115F,  # Hangul choseong filler
            *range(0x1160, 0x1200),  # Hangul jungseong filler, vowels and finals: they
            *range(0xD7B0, 0xD800),  # combine into a syllable in some terminals only
            0x3164,  # Hangul filler
            0xFFA0,  # halfwidth Hangul filler
        ],
    )
)


def _escape_char(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape_text(text: str) -> str:
    """Make every non-printable character visible as an escape.

    ``str.isprintable`` is False for C0, DEL, C1, format characters (bidi
    overrides, zero-width marks), line and paragraph separators, surrogates
    and unassigned code points: exactly what must not reach a terminal raw.
    Characters of :data:`UNSTABLE_WIDTH` are escaped too. Other text comes
    back unchanged.
    """
    if text.isprintable() and (text.isascii() or UNSTABLE_WIDTH.isdisjoint(text)):
        return text
    unstable = UNSTABLE_WIDTH
    return "".join(
        ch if ch.isprintable() and ch not in unstable else _escape_char(ch) for ch in text
    )


def has_unstable_width(text: str) -> bool:
    """Whether :func:`escape_text` escapes characters of ``text`` for their width."""
    return not text.isascii() and not UNSTABLE_WIDTH.isdisjoint(text)


def human_size(n: int) -> str:
    """``512 B``, ``64.0 KiB``, ``16.0 MiB``."""
    if n < 1024:
        return f"{n:,} B"
    if n < 1024 * 1024:
        return f"{n / 1024:,.1f} KiB"
    return f"{n / (1024 * 1024):,.1f} MiB"


def sanitize(body: bytes | str, limit: int = DEFAULT_LIMIT, size: int | None = None) -> str:
    """One printable line for ``body``, at most about ``limit`` characters.

    UTF-8 text is shown as it is; bytes that are not UTF-8 appear as ``\\xNN``;
    control and other invisible characters are escaped; a cut body ends with a
    marker giving its full size. Only a prefix of a large body is decoded, so
    a 10 MiB body costs no more than a short one. ``size``: bytes of the whole
    body when ``body`` is only its first part (a preview).
    """
    if isinstance(body, str):
        total = len(body.encode("utf-8", "surrogatepass"))
        text = body[: limit + 1]
        partial = len(body) > len(text)
    else:
        total = len(body) if size is None else max(size, len(body))
        # At most 4 bytes a character; a sequence cut at the end of the prefix
        # is left undecoded rather than shown as garbage.
        chunk = body[: limit * 4 + 4]
        decoder = codecs.getincrementaldecoder("utf-8")("backslashreplace")
        partial = len(chunk) < total
        text = decoder.decode(chunk, final=not partial)
    cut = partial or len(text) > limit
    line = escape_text(text[:limit])
    if cut:
        line += f" … [{human_size(total)} in all]"
    return line


def time_of_day(timestamp: float) -> str:
    """``HH:MM:SS.mmm`` in local time."""
    millis = int(timestamp * 1000) % 1000
    return time.strftime("%H:%M:%S", time.localtime(timestamp)) + f".{millis:03d}"


def seq_label(delivery: Delivery, origin: str | None = None) -> str:
    """``#12`` for a message stamped by fanout-tui (by ``origin`` when given),
    ``cli#12`` for one ``fanout-tui publish`` sent, else ``ext``."""
    seq = delivery.seq
    if seq is not None and is_cli_origin(delivery.origin):
        return f"cli#{seq}"
    if seq is None or (origin is not None and delivery.origin != origin):
        return "ext"
    return f"#{seq}"


def label_meaning(delivery: Delivery, origin: str | None = None) -> str:
    """What a line's label says, in words (the detail screen shows it beside
    the label, in the same words as the help's legend)."""
    label = seq_label(delivery, origin)
    seq = delivery.seq
    if label.startswith("cli#"):
        return f"{label}: a message fanout-tui publish sent, numbered on across its runs"
    if label == "ext" and seq is not None:
        return f"ext: another fanout-tui published it (its #{seq}), not this dashboard"
    if label == "ext":
        return "ext: a message another program published (no stamp of this app's)"
    return f"{label}: the {_ordinal(seq or 0)} message this dashboard published"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n:,}{suffix}"


def stream_offset(delivery: Delivery) -> str:
    """``@1,234``: where a stream queue's delivery sits in the stream ("" for
    another queue's). The broker puts it in the ``x-stream-offset`` header."""
    offset = delivery.headers.get("x-stream-offset")
    return f"@{offset:,} " if isinstance(offset, int) and not isinstance(offset, bool) else ""


def delivery_line(
    delivery: Delivery,
    origin: str | None = None,
    limit: int = DEFAULT_LIMIT,
    with_key: bool = False,
) -> str:
    """The one line a delivery is shown as: label, receive time, sanitized body.

    ``with_key`` (a direct or topic exchange) puts the routing key before the
    body as the tutorials' receive_logs_direct.py and receive_logs_topic.py do,
    ``kern.critical:A critical kernel error``; on a fanout the key says nothing.
    """
    label = seq_label(delivery, origin)
    body = sanitize(delivery.body, limit, delivery.size)
    if with_key:
        body = f"{sanitize(delivery.routing_key, 255)}:{body}"
    return f"{label} {time_of_day(delivery.received_at)} {body}"


def not_kept(size: int, budget: int | None) -> str:
    """What the detail screen says of a body its pane did not keep whole, after
    "body": ``not kept (64.0 KiB; this pane keeps the newest 16.0 MiB of bodies)``."""
    keeps = f"; this pane keeps the newest {human_size(budget)} of bodies" if budget else ""
    return f"not kept ({human_size(size)}{keeps})"
