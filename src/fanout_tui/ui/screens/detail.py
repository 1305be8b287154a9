"""The message detail screen: one delivery in full.

Summary, AMQP properties and headers on top; below, the whole body in a Line
API view that renders only the rows on screen. A body shows as pretty-printed
and highlighted JSON, as text, or as a hex dump (``j`` / ``t`` / ``h``).

Formatting a large body takes a while (about 2 s for 10 MiB of JSON), so for
anything but a small body it runs in a thread worker while the screen is
already open, says "formatting…", and answers keys (Escape closes it at once).
Hex rows need no preparation: each is computed when it is drawn.

Long lines scroll sideways; a line longer than ``ROW_CHARS`` (2,000 characters)
continues on the next rows, each marked with ``↪``.

Nothing from the message is ever parsed as markup: the text goes into
``Content`` and ``Segment`` objects as plain text, already escaped by
:mod:`fanout_tui.present.bodies` and :func:`~fanout_tui.present.text.sanitize`.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import filterfalse
from pathlib import Path
from typing import Literal

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.binding import Binding
from textual.cache import LRUCache
from textual.containers import VerticalScroll
from textual.content import Content
from textual.geometry import Region, Size
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from ...model.delivery import Delivery
from ...present.bodies import (
    HEX_BYTES_END,
    HEX_OFFSET_END,
    ROW_CHARS,
    BodyKind,
    format_body,
    hex_row,
    hex_row_count,
    json_tokens,
    split_long_lines,
    text_lines,
)
from ...present.properties import describe_properties
from ...present.text import has_unstable_width, label_meaning, not_kept, sanitize, stream_offset
from ..labels import Labels

Mode = Literal["json", "text", "hex"]
SYNC_LIMIT = 64 * 1024  # bodies up to this size are formatted at once, without a worker
CONTINUED = "↪ "
_STRIP_CACHE = 256

_MODE_LABELS: dict[str, str] = {"json": "JSON, pretty", "text": "text", "hex": "hex dump"}
_KIND_LABELS: dict[str, str] = {"json": "JSON", "text": "text", "binary": "binary"}


@dataclass(frozen=True, slots=True)
class Prepared:
    """Rows ready to show (built in a worker thread for a large body)."""

    mode: Mode
    kind: BodyKind | None  # None: not classified (a text view asked for by name)
    rows: list[str]
    continued: dict[int, bool]  # row index -> starts inside a JSON string
    width: int  # cells of the widest row


def _widest(rows: list[str], continued: dict[int, bool]) -> int:
    """Cells of the widest row: its length, unless it has wide characters."""
    widest = max(map(len, rows), default=0)
    wide = max(map(cell_len, filterfalse(str.isascii, rows)), default=0)
    return max(widest, wide) + (len(CONTINUED) if continued else 0)


def prepare(body: bytes, content_type: str | None, mode: Mode | None) -> Prepared:
    """Classify and format ``body`` for ``mode`` (``None``: the mode its kind calls for)."""
    if mode is None:
        kind, lines = format_body(body, content_type)
        mode = "json" if kind == "json" else "text" if kind == "text" else "hex"
        return _rows(mode, kind, lines)
    # Only "text" is asked for by name: json comes with the first pass, hex needs none.
    return _rows(mode, None, text_lines(body))


def _rows(mode: Mode, kind: BodyKind | None, lines: list[str] | None) -> Prepared:
    if lines is None:
        return Prepared(mode, kind, [], {}, 0)
    rows, continued = split_long_lines(lines, ROW_CHARS, json_strings=mode == "json")
    return Prepared(mode, kind, rows, continued, _widest(rows, continued))


class BodyView(ScrollView, can_focus=True):
    """The body, one row at a time: only the rows on screen are styled."""

    COMPONENT_CLASSES = {
        "body-view--text",
        "body-view--key",
        "body-view--string",
        "body-view--number",
        "body-view--literal",
        "body-view--punct",
        "body-view--offset",
        "body-view--bytes",
        "body-view--ascii",
        "body-view--marker",
        "body-view--note",
    }
    _PARTS: tuple[str, ...] = ("text", "key", "string", "number", "literal", "punct")
    _PARTS += ("offset", "bytes", "ascii", "marker", "note")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.mode: Mode | Literal["note"] = "note"
        self._rows: list[str] = []
        self._continued: dict[int, bool] = {}
        self._body = b""
        self._note = ""
        self._strips: LRUCache[int, Strip] = LRUCache(_STRIP_CACHE)
        self._styles: dict[str, Style] = {}
        self._render_style = Style()

    # What to show ---------------------------------------------------------------
    def show_note(self, note: str) -> None:
        self.mode = "note"
        self._note = note
        self._reset(Size(cell_len(note), 1))

    def show_rows(self, prepared: Prepared) -> None:
        self.mode = prepared.mode
        self._rows = prepared.rows
        self._continued = prepared.continued
        self._reset(Size(prepared.width, len(prepared.rows)))

    def show_hex(self, body: bytes) -> None:
        self.mode = "hex"
        self._body = body
        self._reset(Size(len(hex_row(body, 0)), hex_row_count(body)))

    def _reset(self, size: Size) -> None:
        self._strips.clear()
        self.virtual_size = size
        self.scroll_to(0, 0, animate=False, immediate=True, force=True)
        self.refresh()

    @property
    def row_count(self) -> int:
        if self.mode == "hex":
            return hex_row_count(self._body)
        if self.mode == "note":
            return 1
        return len(self._rows)

    def row_text(self, index: int) -> str:
        """The plain text of a row as shown (tests, copying)."""
        return self._row_strip(index).text

    # Rendering ------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = {}
        self._strips.clear()

    def _part_styles(self) -> dict[str, Style]:
        if not self._styles:
            base = self.rich_style
            self._styles = {
                name: base + self.get_component_rich_style(f"body-view--{name}", partial=True)
                for name in self._PARTS
            }
        return self._styles

    def _row_strip(self, index: int) -> Strip:
        cached = self._strips.get(index)
        if cached is not None:
            return cached
        styles = self._part_styles()
        segments: list[Segment]
        if self.mode == "note":
            segments = [Segment(self._note, styles["note"])] if index == 0 else []
        elif self.mode == "hex":
            row = hex_row(self._body, index)
            segments = [
                Segment(row[:HEX_OFFSET_END], styles["offset"]),
                Segment(row[HEX_OFFSET_END:HEX_BYTES_END], styles["bytes"]),
                Segment(row[HEX_BYTES_END:], styles["ascii"]),
            ]
        elif 0 <= index < len(self._rows):
            row = self._rows[index]
            in_string = self._continued.get(index)
            segments = [Segment(CONTINUED, styles["marker"])] if in_string is not None else []
            if self.mode == "json":
                segments += [
                    Segment(text, styles[kind if kind != "plain" else "text"])
                    for kind, text in json_tokens(row, bool(in_string))
                ]
            else:
                segments.append(Segment(row, styles["text"]))
        else:
            segments = []
        strip = Strip(segments)
        self._strips[index] = strip
        return strip

    def render_lines(self, crop: Region) -> list[Strip]:
        self._render_style = self.rich_style  # once per render, not per line
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        index = scroll_y + y
        if 0 <= index < self.row_count:
            strip = self._row_strip(index)
            return strip.crop_extend(scroll_x, scroll_x + width, self._render_style)
        return Strip.blank(width, self._render_style)


def _field(name: str, value: str, width: int = 13) -> Content:
    return Content.assemble((f"{name:<{width}}", "bold"), " ", value)


class MessageDetailScreen(Screen[None]):
    """One delivery in full. ``title`` names it, e.g. ``R3 · #12``."""

    CSS_PATH = Path(__file__).parent / "detail.tcss"

    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("j", "view('json')", "JSON"),
        Binding("t", "view('text')", "Text"),
        Binding("h", "view('hex')", "Hex"),
    ]

    def __init__(
        self,
        delivery: Delivery,
        title: str,
        owner: str = "",
        labels: Labels | None = None,
        *,
        body_budget: int | None = None,
        origin: str | None = None,
    ) -> None:
        """``body_budget``: bytes of whole bodies the pane keeps, for the note on a
        body it did not keep; ``origin``: this dashboard's stamp origin, which
        tells its own messages (``#12``) from other publishers' (``ext``)."""
        super().__init__(classes="message-detail")
        # The body as it is now, held while the screen is open: the pane's budget
        # may release it meanwhile, and the screen shows one body throughout.
        delivery = delivery.pinned()
        self.delivery = delivery
        # Only its preview is left when the pane did not keep the whole body.
        self.not_kept = "" if delivery.body_kept else not_kept(delivery.size, body_budget)
        self.detail_title = title
        self.origin = origin
        self.owner = owner  # the receiver it came from ("R1"), which names its queue
        self.labels = labels or Labels()  # how times and queues are written
        self.content_type = getattr(delivery.properties, "content_type", None)
        self.kind: BodyKind | None = None  # known once the body is classified
        self.mode: Mode | None = None  # what the body view shows or waits for
        self._prepared: dict[Mode, Prepared] = {}
        self._formatting: set[Mode | None] = set()
        self.body_view = BodyView(id="detail-body")
        # The text and JSON views escape characters whose width terminals disagree
        # on; the bar says so, and the hex view keeps the bytes. Looked for in the
        # first SYNC_LIMIT bytes: cheap at any size, and where a person looks.
        head = delivery.body[:SYNC_LIMIT].decode("utf-8", "replace")
        self.escapes_widths = has_unstable_width(head)

    # Layout -----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(Content(sanitize(self.detail_title, 200)), id="detail-title")
        with VerticalScroll(id="detail-meta"):
            yield Static(self._summary(), id="detail-summary")
        yield Static(Content(""), id="detail-body-bar")
        yield self.body_view
        yield Footer()

    def _summary(self) -> Content:
        delivery = self.delivery
        size = delivery.size
        lines = [
            _field("label", sanitize(label_meaning(delivery, self.origin), 300)),
            _field("exchange", sanitize(delivery.exchange, 300) or "(default exchange)"),
            _field("routing key", sanitize(delivery.routing_key, 300) or '""'),
            _field("queue", sanitize(self.labels.queue(self.owner, delivery.queue), 300) or "-"),
            _field(
                "received",
                f"{self.labels.clock(delivery.received_at)}  "
                f"{self.labels.date(delivery.received_at)}",
            ),
            _field("size", f"{size:,} byte{'' if size == 1 else 's'}"),
        ]
        offset = stream_offset(delivery).strip()
        if offset:
            lines.append(_field("stream offset", f"{offset}: its place in the stream"))
        if self.not_kept:
            shown = len(delivery.body)
            lines.append(_field("body", f"{self.not_kept}; the first {shown:,} bytes are shown"))
        latency = delivery.latency
        if latency is not None:
            lines.append(_field("latency", f"{latency * 1000:,.1f} ms"))
        lines.append(_field("redelivered", "yes" if delivery.redelivered else "no"))
        described = describe_properties(delivery)
        properties = [(k, v) for k, v in described if not k.startswith("headers.")]
        headers = [
            (k.removeprefix("headers."), v) for k, v in described if k.startswith("headers.")
        ]
        lines.append(Content.assemble(("Properties", "bold underline")))
        lines += [_field(f"  {k}", v, 18) for k, v in properties] or [Content("  (none)")]
        lines.append(Content.assemble(("Headers", "bold underline")))
        width = max([18, *(len(k) + 3 for k, _ in headers)])
        lines += [_field(f"  {k}", v, min(width, 40)) for k, v in headers] or [Content("  (none)")]
        return Content("\n").join(lines)

    def on_mount(self) -> None:
        self.body_view.focus()
        if len(self.delivery.body) <= SYNC_LIMIT:
            self._show(prepare(self.delivery.body, self.content_type, None))
        else:
            self._start(None)

    # Switching views ------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "view" and parameters and parameters[0] == "json":
            return self.kind in (None, "json") or None  # greyed out unless JSON
        return True

    def action_view(self, mode: Mode) -> None:
        if mode == "json" and self.kind not in (None, "json"):
            self.notify("this body is not JSON", severity="warning", timeout=2)
            return
        self.mode = mode
        if mode == "hex":
            self.body_view.show_hex(self.delivery.body)
            self._update_bar()
        elif mode in self._prepared:
            self._show(self._prepared[mode])
        elif mode == "json" or len(self.delivery.body) > SYNC_LIMIT:
            # json: the first pass (classify and pretty-print) is still running.
            self._start(None if mode == "json" else mode)
        else:
            self._show(prepare(self.delivery.body, self.content_type, mode))

    def action_close(self) -> None:
        self.dismiss()

    def _start(self, mode: Mode | None) -> None:
        """Format in a thread; the screen says so meanwhile."""
        self.body_view.show_note("formatting…")
        self._update_bar(busy=True)
        if mode in self._formatting:
            return
        self._formatting.add(mode)
        body, content_type = self.delivery.body, self.content_type
        self.run_worker(
            lambda: prepare(body, content_type, mode),
            name=f"format-{mode or 'auto'}",
            group="detail-format",
            thread=True,
            exit_on_error=False,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "detail-format":
            return
        if event.state is WorkerState.SUCCESS and isinstance(worker.result, Prepared):
            self._formatting.discard(None if worker.name == "format-auto" else "text")
            self._show(worker.result)
        elif event.state is WorkerState.ERROR:
            self._formatting.clear()
            reason = sanitize(str(worker.error), 200)
            self.body_view.show_note(f"could not format the body: {reason}; h shows it as hex")
            self._update_bar()

    def _show(self, prepared: Prepared) -> None:
        """Keep what was prepared; show it if it is what the view waits for."""
        if prepared.kind is not None:
            self.kind = prepared.kind
            self.refresh_bindings()
        self._prepared[prepared.mode] = prepared
        if self.mode is None:
            self.mode = prepared.mode  # the first pass picks the view
        if self.mode == "hex":
            if self.body_view.mode != "hex":
                self.body_view.show_hex(self.delivery.body)
        elif self.mode == prepared.mode:
            self.body_view.show_rows(prepared)
        self._update_bar(busy=bool(self._formatting) and self.body_view.mode == "note")

    def _update_bar(self, busy: bool = False) -> None:
        kind = _KIND_LABELS[self.kind] if self.kind else "…"
        shown = "formatting…" if busy else f"showing {_MODE_LABELS.get(self.mode or '', '')}"
        size = len(self.delivery.body)
        rows = self.body_view.row_count if self.body_view.mode != "note" else 0
        if self.not_kept:  # the preview only: say so before anything else
            text = f"Body {self.not_kept} · preview, {size:,} B · {kind} · {shown}"
        else:
            text = f"Body · {kind} · {size:,} B · {shown}"
        if rows:
            text += f" · {rows:,} row{'' if rows == 1 else 's'}"
        if self.escapes_widths and self.mode != "hex":
            text += " · \\u escapes: characters of uncertain width (h: the bytes)"
        keys = "j pretty JSON · " if self.kind in (None, "json") else ""
        bar = Content.assemble((text, "bold"), "   ", (f"{keys}t text · h hex", "dim"))
        self.query_one("#detail-body-bar", Static).update(bar)
