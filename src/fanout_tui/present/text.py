"""The sanitizer: any bytes in, one safe printable line out.

Message bodies, headers and queue names come from other programs. Rich and
Textual pass ESC and C1 bytes straight to the terminal, so a body could retitle
the window, clear the screen or recolour it. Everything shown goes through
:func:`sanitize`, and the widgets that show the result never parse markup.
"""

from __future__ import annotations

import codecs
import time

from ..model.delivery import Delivery

DEFAULT_LIMIT = 500  # characters of preview on one line

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


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
    Printable text comes back unchanged.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else _escape_char(ch) for ch in text)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n:,} B"
    if n < 1024 * 1024:
        return f"{n / 1024:,.1f} KiB"
    return f"{n / (1024 * 1024):,.1f} MiB"


def sanitize(body: bytes | str, limit: int = DEFAULT_LIMIT) -> str:
    """One printable line for ``body``, at most about ``limit`` characters.

    UTF-8 text is shown as it is; bytes that are not UTF-8 appear as ``\\xNN``;
    control and other invisible characters are escaped; a cut body ends with a
    marker giving its full size. Only a prefix of a large body is decoded, so
    a 10 MiB body costs no more than a short one.
    """
    if isinstance(body, str):
        total = len(body.encode("utf-8", "surrogatepass"))
        text = body[: limit + 1]
        partial = len(body) > len(text)
    else:
        total = len(body)
        # At most 4 bytes a character; a sequence cut at the end of the prefix
        # is left undecoded rather than shown as garbage.
        chunk = body[: limit * 4 + 4]
        decoder = codecs.getincrementaldecoder("utf-8")("backslashreplace")
        partial = len(chunk) < total
        text = decoder.decode(chunk, final=not partial)
    cut = partial or len(text) > limit
    line = escape_text(text[:limit])
    if cut:
        line += f" … [{_size(total)} in all]"
    return line


def time_of_day(timestamp: float) -> str:
    """``HH:MM:SS.mmm`` in local time."""
    millis = int(timestamp * 1000) % 1000
    return time.strftime("%H:%M:%S", time.localtime(timestamp)) + f".{millis:03d}"


def seq_label(delivery: Delivery, origin: str | None = None) -> str:
    """``#12`` for a message stamped by fanout-tui (by ``origin`` when given), else ``ext``."""
    seq = delivery.seq
    if seq is None or (origin is not None and delivery.origin != origin):
        return "ext"
    return f"#{seq}"


def delivery_line(delivery: Delivery, origin: str | None = None, limit: int = DEFAULT_LIMIT) -> str:
    """The one line a delivery is shown as: label, receive time, sanitized body."""
    label = seq_label(delivery, origin)
    return f"{label} {time_of_day(delivery.received_at)} {sanitize(delivery.body, limit)}"
