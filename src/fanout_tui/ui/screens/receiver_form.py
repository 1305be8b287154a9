"""The Add-receiver and Edit-bindings forms.

Both build what they return with the receiver spec's own checks
(model/receiver_spec.py: ``parse_spec``, ``spec_from_mapping``), so a value the
command line refuses is refused here with the same one-line reason, and
nothing starts or re-binds until the form is accepted. The fields offered for
a kind are the spec's own list (``keys_for``), so the form and the parser
cannot disagree about what a kind takes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Select

from ...model.receiver_spec import (
    ACKS,
    KINDS,
    MATCHES,
    OVERFLOWS,
    QUEUE_TYPES,
    SPEC_KEYS,
    ReceiverSpec,
    SpecError,
    keys_for,
    parse_spec,
    spec_from_mapping,
    spec_text,
)
from ...present.fit import middle_ellipsis
from ...present.text import sanitize
from .forms import _Form

# What each kind is, one line under the kind's choice (help.py says more).
KIND_NOTES = {
    "exclusive": "the tutorial's queue: server-named, gone with its connection",
    "durable": "a named queue that outlives reconnects: a drop loses nothing",
    "shared": "a named queue several panes share: each message goes to one of them",
    "stream": "a stream: a late joiner replays history from its offset",
}
# Keys chosen from a list: (the first entry, "", means the spec's default).
_CHOICES: dict[str, tuple[str, tuple[str, ...]]] = {
    "type": ("classic", QUEUE_TYPES),
    "ack": ("manual", ACKS),
    "overflow": ("drop-head", OVERFLOWS),
    "keep": ("no", ("yes", "no")),
    "match": ("all", MATCHES),
}
# Typed keys: what the placeholder says they take.
_HINTS = {
    "name": "the queue's name",
    "offset": "first, last, next, a number, an ISO time or 10m (default next)",
    "prefetch": "messages in flight (blank: the receiver's default)",
    "delay": "processing time per message: 20ms, 1s (blank: none)",
    "max-length": "messages the queue holds (blank: no limit)",
    "max-bytes": "bytes the queue holds (blank: no limit)",
    "ttl": "how long a message may wait: 5s, 10m (blank: for ever)",
    "keys": "binding keys, ';' between: kern.*;*.critical",
}
HEADERS_HINT = "headers exchanges: NAME=VALUE, NAME2=VALUE2"


def parse_pairs(text: str) -> dict[str, str]:
    """``name=value, other=value`` (the headers a headers-exchange binding matches)."""
    pairs: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq or not name:
            shown = sanitize(part.strip(), 40)
            raise SpecError(f"write header pairs as NAME=VALUE, separated by commas: {shown!r}")
        pairs[name] = value.strip()
    return pairs


def pairs_text(headers: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{name}={value}" for name, value in headers)


def _field(key: str) -> Input | Select[str]:
    """The widget for one spec key, empty (the spec's default)."""
    if key in _CHOICES:
        default, choices = _CHOICES[key]
        options = [(f"default ({default})", ""), *((c, c) for c in choices)]
        return Select(options, value="", allow_blank=False, compact=True, id=f"rf-{key}")
    return Input("", placeholder=_HINTS.get(key, ""), compact=True, id=f"rf-{key}")


def _value(widget: Input | Select[Any]) -> str:
    value = widget.value
    return value.strip() if isinstance(value, str) else ""


# Beside forms.tcss (the base class's CSS_PATH), which every form shares.
_CSS = """
ReceiverFormScreen, BindingsFormScreen {
    align: center middle;
}
.form-fields {
    height: 16;  /* set to the rows shown, as the screen allows (_fit_fields) */
    margin-bottom: 1;
}
.form-row {
    height: 1;
}
.form-key {
    width: 12;
}
.form-row Input, .form-row Select {
    width: 1fr;
}
.form-note {
    width: 100%;
    color: $text-muted;
}
"""


# The receiver form's rows besides its fields: border and padding 4, title 2,
# the spec 2, the error line 1, the buttons 4, and 1 to spare.
_FORM_ROWS = 14


class _SpecForm(_Form):
    """A form that builds a spec: accepted, it is dismissed with the spec, or
    shows the one line that says what is wrong and stays open."""

    def build(self) -> ReceiverSpec:
        raise NotImplementedError

    @on(Input.Submitted)
    @on(Button.Pressed, ".ok")
    def _accept(self) -> None:
        try:
            spec = self.build()
        except SpecError as exc:
            self._error(one_line(exc))
            return
        self.dismiss(spec)


# The routing fields each exchange type ignores: a fanout routes by nothing, a
# direct or topic exchange by key alone, a headers exchange by headers alone.
_UNUSED_BY = {
    "fanout": frozenset({"keys", "match", "headers"}),
    "direct": frozenset({"match", "headers"}),
    "topic": frozenset({"match", "headers"}),
    "headers": frozenset({"keys"}),
}


class ReceiverFormScreen(_SpecForm):
    """Ask for a receiver's kind and spec keys; dismissed with a ReceiverSpec."""

    DEFAULT_CSS = _CSS
    ALL_KEYS = SPEC_KEYS

    def __init__(self, exchange_type: str = "") -> None:
        """``exchange_type``: the exchange's, when known; the routing fields it
        does not use are not offered ("" while unknown: all of them are)."""
        super().__init__()
        # The spec text as the fields last wrote it: a different value in the
        # spec input was typed or pasted there, and is what Add takes.
        self._written = "exclusive"
        self._unused = _UNUSED_BY.get(exchange_type, frozenset())

    def compose(self) -> ComposeResult:
        with Vertical(classes="form receiver-form"):
            yield Label("Add a receiver", classes="form-title")
            with VerticalScroll(classes="form-fields"):
                with Horizontal(classes="form-row"):
                    yield Label("kind", classes="form-key")
                    yield Select(
                        [(k, k) for k in KINDS],
                        value="exclusive",
                        allow_blank=False,
                        compact=True,
                        id="rf-kind",
                    )
                yield Label(KIND_NOTES["exclusive"], id="rf-kind-note", classes="form-note")
                for key in self.ALL_KEYS:
                    with Horizontal(classes="form-row", id=f"row-{key}"):
                        yield Label(key, classes="form-key")
                        yield _field(key)
                with Horizontal(classes="form-row", id="row-headers"):
                    yield Label("headers", classes="form-key")
                    yield Input("", placeholder=HEADERS_HINT, compact=True, id="rf-headers")
            yield Label("As a spec (paste one here; it is what --receiver takes)")
            yield Input("exclusive", compact=True, id="rf-spec")
            yield from self._footer("Add")

    def on_mount(self) -> None:
        self._show_fields()

    @property
    def kind(self) -> str:
        value = self.query_one("#rf-kind", Select).value
        return value if isinstance(value, str) else "exclusive"

    def _show_fields(self) -> None:
        """Only the keys the chosen kind takes (what the parser would accept)."""
        offered = self._offered()
        for key in self.ALL_KEYS:
            self.query_one(f"#row-{key}").display = key in offered
        self.query_one("#row-headers").display = "headers" not in self._unused
        self.query_one("#rf-kind-note", Label).update(KIND_NOTES[self.kind])
        self._fit_fields()

    def on_resize(self) -> None:
        self._fit_fields()

    def _fit_fields(self) -> None:
        """The fields' height: their rows, or what the screen leaves beside the
        rest of the form (they scroll). Set here, not as height: auto with a
        max-height, since Textual sizes an auto-height form by its child's
        height before that child's max-height, and the form would overflow."""
        rows = len(self._offered()) + 4  # kind, its note (up to 2 lines), headers
        room = self.size.height - _FORM_ROWS
        self.query_one(".form-fields").styles.height = max(3, min(rows, room))

    def _offered(self) -> tuple[str, ...]:
        """The keys the chosen kind takes, less the routing ones the exchange ignores."""
        return tuple(key for key in keys_for(self.kind) if key not in self._unused)

    def values(self) -> dict[str, str]:
        """The kind's filled-in fields as spec keys (``h.NAME`` for header pairs)."""
        values: dict[str, str] = {}
        for key in self._offered():
            widget = self.query_one(f"#rf-{key}")
            value = _value(widget) if isinstance(widget, Input | Select) else ""
            if value:
                values[key] = value
        headers = "" if "headers" in self._unused else self.query_one("#rf-headers", Input).value
        for name, value in parse_pairs(headers).items():
            values[f"h.{name}"] = value
        return values

    @on(Select.Changed)
    @on(Input.Changed)
    def _field_changed(self, event: Select.Changed | Input.Changed) -> None:
        """A field changed: the spec input shows the spec the fields make."""
        if event.control.id == "rf-spec":
            return
        if event.control.id == "rf-kind":
            self._show_fields()
        try:
            text = spec_text(self.kind, self.values())
        except SpecError:
            return  # a half-typed header pair; Add says what is wrong
        self._written = text
        self.query_one("#rf-spec", Input).value = text

    def build(self) -> ReceiverSpec:
        """The spec the form describes, or SpecError (one line)."""
        typed = self.query_one("#rf-spec", Input).value.strip()
        if typed != self._written:
            return parse_spec(typed)  # typed or pasted as text: taken as the CLI takes it
        # From the fields as they are, not re-parsed from the text: a value may
        # hold a comma, which the text form cannot.
        return spec_from_mapping(self.kind, self.values(), source=f"receiver {self.kind}", text="")


class BindingsFormScreen(_SpecForm):
    """A pane's binding keys, x-match and header pairs; dismissed with the new spec."""

    DEFAULT_CSS = _CSS

    def __init__(self, spec: ReceiverSpec, label: str, exchange_type: str) -> None:
        super().__init__()
        self._spec = spec
        self._label = label
        self._exchange_type = exchange_type or "unknown"

    def compose(self) -> ComposeResult:
        spec = self._spec
        with Vertical(classes="form bindings-form"):
            yield Label(f"Bindings of {self._label}", classes="form-title")
            yield Label(
                f"The exchange is {self._exchange_type}: "
                + _TYPE_NOTES.get(self._exchange_type, "the keys apply once it is known"),
                classes="form-note",
            )
            with Horizontal(classes="form-row"):
                yield Label("keys", classes="form-key")
                yield Input(";".join(spec.keys), compact=True, id="bf-keys")
            yield Label(
                "';' between: kern.*;*.critical (blank: '#' on topic, the empty key on direct)",
                classes="form-note",
            )
            with Horizontal(classes="form-row"):
                yield Label("x-match", classes="form-key")
                yield Select(
                    [(m, m) for m in MATCHES],
                    value=spec.match,
                    allow_blank=False,
                    compact=True,
                    id="bf-match",
                )
            with Horizontal(classes="form-row"):
                yield Label("headers", classes="form-key")
                yield Input(pairs_text(spec.headers), compact=True, id="bf-headers")
            yield Label(HEADERS_HINT, classes="form-note")
            yield from self._footer("Bind")

    def build(self) -> ReceiverSpec:
        """The pane's spec with the new bindings, checked as the spec checks them."""
        keys = self.query_one("#bf-keys", Input).value.strip()
        match = self.query_one("#bf-match", Select).value
        values: dict[str, str] = {"match": match if isinstance(match, str) else "all"}
        if keys:
            values["keys"] = keys
        for name, value in parse_pairs(self.query_one("#bf-headers", Input).value).items():
            values[f"h.{name}"] = value
        checked = _bindings_only(values)
        return self._spec.with_bindings(checked.keys, checked.match, checked.headers)


_TYPE_NOTES = {
    "fanout": "it ignores keys and headers (every bound queue gets a copy)",
    "direct": "a message goes where a binding key equals its routing key",
    "topic": "words split on '.', * is one word, # zero or more",
    "headers": "x-match all or any of the header pairs",
}


def _bindings_only(values: Mapping[str, str]) -> ReceiverSpec:
    """Bindings checked by the spec's rules (an exclusive spec carries them all)."""
    return spec_from_mapping("exclusive", values, source="bindings", text="")


_LONG_QUOTE = re.compile(r"'([^']{41,})'")


def one_line(exc: SpecError) -> str:
    """The error for the form's line: printable, and short enough that the reason
    at its end shows (a long value it quotes is shortened in its middle)."""
    text = sanitize(str(exc), 2000)
    text = _LONG_QUOTE.sub(lambda m: repr(middle_ellipsis(m.group(1), 40)), text)
    return sanitize(text, 240)
