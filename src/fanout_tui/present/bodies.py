"""A whole message body, for the detail screen: what it is and how to show it.

A pane line is a cut preview (:mod:`.display`); the detail screen shows all of
a body, up to 10 MiB of it. Everything here is plain Python so the screen can
run the slow parts in a thread, and every line it returns is already escaped
(:func:`~.display.escape_text`): nothing from a body reaches a terminal raw.

- :func:`classify` says whether a body is JSON, text or binary.
- :func:`pretty_json_lines` / :func:`text_lines` give its lines;
  :func:`split_long_lines` cuts them into rows a screen can scroll sideways.
- :func:`hex_row` computes one ``hexdump -C`` row on demand, so a 10 MiB body
  costs nothing until a row is on screen.
- :func:`json_tokens` styles one pretty-printed line at a time.

Parsing a large JSON body with :func:`json.loads` is one C call that holds the
GIL for its whole length (about 0.3 s for 10 MiB), which would freeze the UI
thread however the work is threaded. :func:`load_json` parses in C only
pieces that fit a small window and walks the larger containers in Python, so
the GIL is given up between pieces.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable
from json.decoder import JSONArray, JSONObject  # type: ignore[attr-defined]
from json.scanner import make_scanner  # the C scanner, as json.loads uses it
from typing import Any, Literal, cast

from .text import escape_text

BodyKind = Literal["json", "text", "binary"]

HEX_WIDTH = 16  # bytes a hex row shows
ROW_CHARS = 2_000  # longest row a view shows; longer lines continue on the next rows

# Control characters that make text "not text"; tab, newline, CR and form feed are fine.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_MAX_CONTROL_SHARE = 0.10  # "mostly printable": at most this share of control characters
_WHITESPACE = re.compile(r"[ \t\n\r]*")

# --- what it is -------------------------------------------------------------------


def is_json_content_type(content_type: str | None) -> bool:
    """``application/json``, ``text/json``, ``application/vnd.x+json``, with or
    without parameters (``; charset=utf-8``)."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "json" or media.endswith(("/json", "+json"))


def _mostly_printable(text: str) -> bool:
    if not text:
        return True
    controls = _CONTROL.subn("", text)[1]
    return controls <= len(text) * _MAX_CONTROL_SHARE


_NOT_JSON = object()


def _json_value(text: str, content_type: str | None) -> tuple[Any, list[Any]]:
    """The parsed value (and its walked containers) if ``text`` counts as JSON,
    else ``_NOT_JSON``.

    With a JSON content type any JSON value counts; without one only an object
    or an array does (a body that reads ``42`` or ``true`` is text).
    """
    declared = is_json_content_type(content_type)
    start = _WHITESPACE.match(text)
    first = text[start.end() : start.end() + 1] if start else ""
    if not declared and first not in ("{", "["):
        return _NOT_JSON, []  # cheap: no parse for a body that cannot be an object or array
    try:
        value, walked = _load(text)
    except (ValueError, RecursionError):
        return _NOT_JSON, []
    if not declared and not isinstance(value, dict | list):
        return _NOT_JSON, []
    return value, walked


def _classify(body: bytes, content_type: str | None) -> tuple[BodyKind, Any, list[Any]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "binary", _NOT_JSON, []
    value, walked = _json_value(text, content_type)
    if value is not _NOT_JSON:
        return "json", value, walked
    return ("text" if _mostly_printable(text) else "binary"), _NOT_JSON, []


def classify(body: bytes, content_type: str | None = None) -> BodyKind:
    """``json``, ``text`` or ``binary``.

    - json: valid UTF-8 that parses as JSON, and either the content type says
      JSON or the value is an object or array. A body whose content type says
      JSON but which does not parse is classified by what it is (text or binary).
    - text: valid UTF-8 of which at most 10% are control characters (tab,
      newline, carriage return and form feed do not count).
    - binary: anything else.

    Parses the whole body when it may be JSON: run it off the UI thread for a
    large body.
    """
    kind, value, walked = _classify(body, content_type)
    del value
    _release(walked)
    return kind


# --- JSON without holding the GIL for long ----------------------------------------

_MIN_WINDOW = 1024
MAX_WINDOW = 64 * 1024  # the most text parsed in one C call (about 2 ms)


class _WindowedScanner:
    """A ``scan_once`` for :class:`json.JSONDecoder` that parses in C only what
    fits a window and walks larger containers in Python.

    A container is first parsed in C from a slice of the text; a container that
    does not end within the slice cannot parse there, so a failure means "too
    big" (or an error, found again and reported exactly by the Python walk).
    The window follows the size of recent values, so an array of small objects
    costs one short slice per element.
    """

    def __init__(self, max_window: int) -> None:
        self.decoder = json.JSONDecoder()
        self.c_scan: Any = make_scanner(cast(Any, self.decoder))
        self.max_window = max(max_window, 2)
        self.window = min(_MIN_WINDOW, self.max_window)
        self.memo: dict[str, str] = {}
        # The containers too big to parse in one C call: the ones to free gently.
        self.walked: list[Any] = []

    def __call__(self, string: str, idx: int) -> tuple[Any, int]:
        try:
            nextchar = string[idx]
        except IndexError:
            raise StopIteration(idx) from None
        if nextchar not in "{[":
            # A string, number or literal: one flat token, parsed in C whatever its size.
            return self.c_scan(string, idx)  # type: ignore[no-any-return]
        window = self.window
        while window <= self.max_window:
            if idx + window >= len(string):
                # Everything left fits the window: parse it in place, no copy.
                return self.c_scan(string, idx)  # type: ignore[no-any-return]
            try:
                value, end = self.c_scan(string[idx : idx + window], 0)
            except (StopIteration, ValueError):
                window *= 2
                continue
            self.window = min(max(_MIN_WINDOW, 2 * end), self.max_window)
            return value, idx + end
        self.window = min(_MIN_WINDOW, self.max_window)
        if nextchar == "{":
            value, end = JSONObject(
                (string, idx + 1),
                self.decoder.strict,
                self,
                self.decoder.object_hook,
                self.decoder.object_pairs_hook,
                self.memo,
            )
        else:
            value, end = JSONArray((string, idx + 1), self)
        self.walked.append(value)
        return value, end


def _load(text: str, max_window: int = MAX_WINDOW) -> tuple[Any, list[Any]]:
    """The value, and the containers that were walked in Python (see :func:`_release`)."""
    scan = _WindowedScanner(max_window)
    start = _WHITESPACE.match(text)
    idx = start.end() if start else 0
    try:
        value, end = scan(text, idx)
    except StopIteration as err:
        raise json.JSONDecodeError("Expecting value", text, err.value) from None
    tail = _WHITESPACE.match(text, end)
    end = tail.end() if tail else end
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value, scan.walked


def load_json(text: str, *, max_window: int = MAX_WINDOW) -> Any:
    """:func:`json.loads` for ``str``, giving up the GIL every ``max_window`` characters or so.

    Same result and same errors (:class:`json.JSONDecodeError`, or
    ``RecursionError`` for absurd nesting) as :func:`json.loads`.
    """
    return _load(text, max_window)[0]


def _release(walked: list[Any]) -> None:
    """Free a parsed document a piece at a time.

    Dropping the root of a big tree frees every object in it in one C call,
    holding the GIL meanwhile (about 50 ms for 10 MiB of JSON). Each container
    that was too big to parse in one C call is emptied an item at a time
    instead; what it held was parsed in one short C call, and is as quick to free.
    """
    while walked:
        container = walked.pop()
        if isinstance(container, list):
            while container:
                container.pop()
        elif isinstance(container, dict):
            while container:
                container.popitem()


# --- lines ------------------------------------------------------------------------


def _pretty(value: Any) -> list[str]:
    # Indented encoding runs in Python (the C encoder does no indent), so it too
    # gives up the GIL as it goes. Its many small chunks are joined and split a
    # batch at a time: one join of millions of chunks, or freeing them all at
    # once, would hold the GIL for tens of milliseconds.
    encoder = json.JSONEncoder(indent=2, ensure_ascii=False)
    lines: list[str] = []
    batch: list[str] = []
    partial = ""
    for chunk in encoder.iterencode(value):
        batch.append(chunk)
        if len(batch) >= 4096:
            batch[0] = partial + batch[0]
            parts = "".join(batch).split("\n")
            batch.clear()
            partial = parts.pop()
            lines.extend([escape_text(part) for part in parts])
    batch.insert(0, partial)
    lines.extend([escape_text(part) for part in "".join(batch).split("\n")])
    return lines


def _split(text: str, piece: int = 256 * 1024) -> list[str]:
    """``text.split("\\n")``, a slice at a time."""
    if len(text) <= piece:
        return text.split("\n")
    lines: list[str] = []
    start = 0
    while True:
        cut = text.find("\n", start + piece)
        if cut < 0:
            lines.extend(text[start:].split("\n"))
            return lines
        lines.extend(text[start:cut].split("\n"))
        start = cut + 1


def pretty_json_lines(body: bytes | str) -> list[str]:
    """The body as indented JSON (two spaces, non-ASCII kept), one escaped line each.

    Raises ``ValueError`` (:class:`json.JSONDecodeError` or
    :class:`UnicodeDecodeError`) when it is not UTF-8 JSON, and
    ``RecursionError`` when it nests absurdly deep.
    """
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    value, walked = _load(text)
    try:
        return _pretty(value)
    finally:
        del value
        _release(walked)


def text_lines(body: bytes) -> list[str]:
    """The body as text, split at newlines (``\\n`` or ``\\r\\n``), one escaped line each.

    Bytes that are not UTF-8 show as ``\\xNN``; control characters, a lone
    ``\\r`` included, are escaped. A final newline does not add an empty line.
    """
    text = codecs.decode(body, "utf-8", "backslashreplace")
    lines = _split(text)
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return [escape_text(line[:-1] if line.endswith("\r") else line) for line in lines]


def format_body(body: bytes, content_type: str | None = None) -> tuple[BodyKind, list[str] | None]:
    """Classify and format in one pass (the JSON is parsed once).

    Returns the kind and its lines: pretty-printed JSON, text lines, or ``None``
    for binary (shown as hex, row by row). Slow for a large body: run it in a thread.
    """
    kind, value, walked = _classify(body, content_type)
    if kind == "json":
        try:
            return kind, _pretty(value)
        except (ValueError, RecursionError):  # parsed, yet too deep to encode
            return "text", text_lines(body)
        finally:
            del value
            _release(walked)
    if kind == "text":
        return kind, text_lines(body)
    return kind, None


_STRING_SPAN = re.compile(r'"(?:[^"\\]|\\.)*"?')


def split_long_lines(
    lines: Iterable[str], width: int = ROW_CHARS, *, json_strings: bool = False
) -> tuple[list[str], dict[int, bool]]:
    """Cut lines longer than ``width`` characters into rows of ``width``.

    Returns the rows and, for each row that continues the line above it, whether
    it starts inside a JSON string (with ``json_strings``; always False
    otherwise), so a highlighter can style it without the rest of its line.
    """
    width = max(1, width)
    lines = lines if isinstance(lines, list) else list(lines)
    if max(map(len, lines), default=0) <= width:
        return lines, {}  # the usual case: nothing to cut, no copy
    rows: list[str] = []
    continued: dict[int, bool] = {}
    for line in lines:
        if len(line) <= width:
            rows.append(line)
            continue
        spans = (
            [m.span() for m in _STRING_SPAN.finditer(line)] if json_strings else []
        )  # string tokens, in order; a long line has few of them
        span_index = 0
        for start in range(0, len(line), width):
            if start:
                while span_index < len(spans) and spans[span_index][1] <= start:
                    span_index += 1
                inside = span_index < len(spans) and spans[span_index][0] < start
                continued[len(rows)] = inside
            rows.append(line[start : start + width])
    return rows, continued


# --- hex dump ---------------------------------------------------------------------

_ASCII_COLUMN = bytes(b if 0x20 <= b < 0x7F else ord(".") for b in range(256))


def hex_row_count(body: bytes) -> int:
    """How many :func:`hex_row` rows ``body`` takes (16 bytes each)."""
    return (len(body) + HEX_WIDTH - 1) // HEX_WIDTH


def hex_row(body: bytes, row: int) -> str:
    """Row ``row`` of a ``hexdump -C`` style dump, computed on its own.

    ``00000010  48 65 6c 6c 6f 20 77 6f  72 6c 64 0a              |Hello world.|``:
    offset, 16 bytes in hex in two groups of 8, and the bytes as ASCII with
    anything not printable shown as ``.``. An empty string past the end.
    """
    start = row * HEX_WIDTH
    if row < 0 or start >= len(body):
        return ""
    chunk = body[start : start + HEX_WIDTH]
    left = chunk[:8].hex(" ")
    right = chunk[8:].hex(" ")
    column = chunk.translate(_ASCII_COLUMN).decode("ascii")
    return f"{start:08x}  {left:<23}  {right:<23}  |{column}|"


# Where the parts of a hex row are, for styling.
HEX_OFFSET_END = 8
HEX_BYTES_END = 8 + 2 + 23 + 2 + 23


# --- JSON highlighting ------------------------------------------------------------

TokenKind = Literal["key", "string", "number", "literal", "punct", "plain"]

_TOKEN = re.compile(
    r"""
    (?P<string>"(?:[^"\\]|\\.)*"?)
    |(?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
    |(?P<literal>true|false|null|NaN|-?Infinity)
    |(?P<punct>[{}\[\],:])
    |(?P<plain>[^"{}\[\],:\-0-9tfnNI]+|.)
    """,
    re.VERBOSE,
)
_REST_OF_STRING = re.compile(r'(?:[^"\\]|\\.)*"?')
_KEY_FOLLOWS = re.compile(r"[ \t]*:")


def json_tokens(line: str, in_string: bool = False) -> list[tuple[TokenKind, str]]:
    """Split one pretty-printed JSON line into styled pieces; they join back to ``line``.

    ``in_string``: the line is the continuation of a row cut inside a string
    (see :func:`split_long_lines`). A line that is not JSON still comes back
    whole, as ``plain`` pieces where nothing else fits.
    """
    tokens: list[tuple[TokenKind, str]] = []
    pos = 0
    if in_string:
        match = _REST_OF_STRING.match(line)
        if match and match.end():
            pos = match.end()
            key = _KEY_FOLLOWS.match(line, pos) is not None and line[pos - 1] == '"'
            tokens.append(("key" if key else "string", line[:pos]))
    for match in _TOKEN.finditer(line, pos):
        kind = match.lastgroup
        text = match.group()
        if kind == "string":
            kind = "key" if _KEY_FOLLOWS.match(line, match.end()) else "string"
        if kind == "plain" and tokens and tokens[-1][0] == "plain":
            tokens[-1] = ("plain", tokens[-1][1] + text)
        else:
            tokens.append((kind, text))  # type: ignore[arg-type]
    return tokens
