"""Small forms opened from the command palette: a burst, and publish properties.

Each validates what was typed and says what is wrong on one line; nothing is
sent until the form is accepted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from ...model.routing import routing_key_problem, utf8_problem
from ...present.text import sanitize
from ...transport.burst import MAX_BURST, MAX_RATE, MIN_RATE, RATE_RANGE
from ...transport.stamps import MessageProperties


class FormError(ValueError):
    """What is wrong with a field, in one line."""


@dataclass(frozen=True)
class BurstRequest:
    text: str
    count: int
    rate: float | None
    routing_key: str = ""


# A number as people write it: digits, commas (or underscores) only between
# groups of three (1,500 or 1_000_000), an optional fraction. ``1,5`` is refused,
# not read as 15 or 1.5: which was meant cannot be known.
_GROUPED = re.compile(r"\d{1,3}([,_]\d{3})+(\.\d*)?")


def _ungrouped(text: str, what: str) -> str:
    cleaned = text.strip()
    if "," in cleaned or "_" in cleaned:
        if not _GROUPED.fullmatch(cleaned):
            raise FormError(
                f"{what} {sanitize(text, 40)!r} is ambiguous: a comma only groups thousands "
                "(1,500); use a dot for a fraction"
            )
        cleaned = cleaned.replace(",", "").replace("_", "")
    return cleaned


def parse_count(text: str) -> int:
    cleaned = _ungrouped(text, "count")
    try:
        count = int(cleaned)
    except ValueError:
        raise FormError(f"count must be a whole number, not {sanitize(text, 40)!r}") from None
    if not 1 <= count <= MAX_BURST:
        raise FormError(f"count must be between 1 and {MAX_BURST:,}")
    return count


def parse_rate(text: str) -> float | None:
    cleaned = _ungrouped(text, "rate")
    if not cleaned:
        return None
    try:
        rate = float(cleaned)
    except ValueError:
        raise FormError(f"rate must be a number per second, not {sanitize(text, 40)!r}") from None
    if not MIN_RATE <= rate <= MAX_RATE:
        raise FormError(f"rate must be {RATE_RANGE} (leave it blank for as fast as possible)")
    return rate


def parse_headers(text: str) -> dict[str, Any]:
    """``key=value, other=value`` (values as text) or a JSON object of simple values.

    Only what AMQP tables carry and pika encodes: text, booleans and integers
    in the signed 64-bit range (a JSON number with a fraction is kept as text);
    names up to 255 bytes.
    """
    text = text.strip()
    if not text:
        return {}
    headers: dict[str, Any] = {}
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FormError(f"headers are not valid JSON: {exc.msg} (column {exc.colno})") from None
        if not isinstance(value, dict):
            raise FormError("headers must be a JSON object")
        for key, item in value.items():
            if isinstance(item, float):
                item = repr(item)  # pika cannot encode floats; keep the number as text
            elif (
                isinstance(item, int)
                and not isinstance(item, bool)
                and not (-(2**63) <= item < 2**63)
            ):
                raise FormError(f"header {sanitize(key, 40)!r}: the number is too large")
            elif not isinstance(item, str | int | bool):
                raise FormError(f"header {sanitize(key, 40)!r}: only text, numbers and booleans")
            headers[key] = item
    else:
        for part in text.split(","):
            key, sep, item = part.partition("=")
            key = key.strip()
            if not sep or not key:
                shown = sanitize(part, 40)
                raise FormError(f"write headers as key=value, separated by commas: {shown!r}")
            headers[key] = item.strip()
    for key in headers:
        if len(key.encode("utf-8")) > 255:
            raise FormError(f"header name {sanitize(key, 40)!r}… is longer than 255 bytes")
    return headers


def parse_content_type(text: str) -> str | None:
    text = text.strip()
    if len(text.encode("utf-8")) > 255:
        raise FormError("the content type is longer than 255 bytes")
    return text or None


def summarize_publish_properties(props: MessageProperties) -> str:
    mode = "persistent" if props.delivery_mode == 2 else "transient"
    text = f"{props.content_type or 'no content type'}, {mode}"
    if props.headers:
        text += f", headers {', '.join(f'{k}={v}' for k, v in props.headers.items())}"
    return sanitize(text, 200)


class _Form(ModalScreen[Any]):
    CSS_PATH = Path(__file__).parent / "forms.tcss"
    BINDINGS = [Binding("escape", "dismiss_form", "Cancel")]

    def _footer(self, accept: str) -> ComposeResult:
        """The one-line error (empty until something is wrong) and the two buttons."""
        yield Static(classes="form-error")
        yield Horizontal(
            Button(accept, variant="primary", classes="ok"),
            Button("Cancel", classes="cancel"),
            classes="form-buttons",
        )

    def _error(self, text: str) -> None:
        self.query_one(".form-error", Static).update(Content(text))

    def action_dismiss_form(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, ".cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


class BurstScreen(_Form):
    """Ask for the text, how many copies and how fast."""

    def __init__(self, text: str, routing_key: str | None = None) -> None:
        """``routing_key``: the key field's, while it shows (None on a fanout
        exchange, or one of a type not known yet, where the form shows no key)."""
        super().__init__()
        self._text = text or "burst"
        self._key = routing_key

    def compose(self) -> ComposeResult:
        with Vertical(classes="form"):
            yield Label("Publish a burst of numbered copies", classes="form-title")
            yield Label("Text (each copy ends with its number, e.g. 17/1000)")
            yield Input(self._text, id="burst-text")
            yield Label(f"How many (1 to {MAX_BURST:,})")
            yield Input("1000", id="burst-count")
            yield Label("Messages per second (blank: as fast as the broker takes them)")
            yield Input("", id="burst-rate", placeholder="as fast as possible")
            if self._key is not None:
                # The key field's key, as every copy will carry it (changed there).
                shown = repr(sanitize(self._key, 80)) if self._key else "'' (the empty key)"
                yield Label(Content(f"Routing key: {shown}, from the key field"), id="burst-key")
            yield from self._footer("Publish")

    @on(Input.Submitted)
    @on(Button.Pressed, ".ok")
    def _accept(self) -> None:
        try:
            text = self.query_one("#burst-text", Input).value
            if utf8_problem(text, "the text"):
                raise FormError(utf8_problem(text, "the text"))
            count = parse_count(self.query_one("#burst-count", Input).value)
            rate = parse_rate(self.query_one("#burst-rate", Input).value)
            if routing_key_problem(self._key or ""):
                raise FormError(routing_key_problem(self._key or "") + " (the key field's)")
        except FormError as exc:
            self._error(str(exc))
            return
        self.dismiss(BurstRequest(text or "burst", count, rate, self._key or ""))


class PropertiesScreen(_Form):
    """Content type, delivery mode and headers for the next publishes."""

    def __init__(self, current: MessageProperties) -> None:
        super().__init__()
        self._current = current

    def compose(self) -> ComposeResult:
        current = self._current
        headers = json.dumps(dict(current.headers)) if current.headers else ""
        with Vertical(classes="form"):
            yield Label("Properties of the next publishes", classes="form-title")
            yield Label("Content type (blank: none)")
            yield Input(current.content_type or "", id="prop-content-type")
            yield Label("Delivery mode")
            yield Select(
                [("1 — transient", 1), ("2 — persistent", 2)],
                value=current.delivery_mode,
                allow_blank=False,
                id="prop-delivery-mode",
            )
            yield Label('Headers: key=value, key2=value2 or a JSON object ({"k": 1})')
            yield Input(headers, id="prop-headers")
            yield from self._footer("Use these")

    @on(Input.Submitted)
    @on(Button.Pressed, ".ok")
    def _accept(self) -> None:
        try:
            headers = parse_headers(self.query_one("#prop-headers", Input).value)
            content_type = parse_content_type(self.query_one("#prop-content-type", Input).value)
        except FormError as exc:
            self._error(str(exc))
            return
        mode = self.query_one("#prop-delivery-mode", Select).value
        self.dismiss(
            MessageProperties(
                content_type=content_type,
                delivery_mode=mode if isinstance(mode, int) else 1,
                headers=headers,
            )
        )
