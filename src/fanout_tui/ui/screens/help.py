"""The help screen: what a fanout exchange does, the receiver kinds and the
exchange types in a sentence each, and the keys (from ui/actions.py)."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from ..actions import APP_ACTIONS, PANE_ACTIONS, Action, documented

LESSON = (
    "A fanout exchange copies every message it receives to every queue bound to it, "
    "ignoring the routing key; a message published while no queue is bound is dropped. "
    "Each pane is a separate receiver with its own connection and (by default) its own exclusive, "
    "server-named queue bound to the exchange, so each pane shows its own copy of every "
    "message, side by side. A pane line gives the message's sequence number (ext for "
    "one from another program), the time it arrived and its body with control characters "
    "escaped; the title names the pane's queue and the bottom border counts what it received."
)


# One sentence each, as a lesson: what survives a disconnect, who gets a copy,
# what is replayed (the spec's kinds: model/receiver_spec.py KINDS).
KINDS_LESSON = (
    (
        "exclusive",
        "the tutorial's server-named queue, gone with its connection: what is "
        "published while it is disconnected is lost, and every such pane gets its own copy.",
    ),
    (
        "durable",
        "a named queue that outlives its connection, so a reconnect finds every "
        "message published meanwhile waiting; it gets its own copy of each.",
    ),
    (
        "shared",
        "one named queue several panes consume together: each message goes to one of "
        "them (a work queue), and the queue keeps what arrives while they are away.",
    ),
    (
        "stream",
        "an append-only log the broker keeps: a pane reads from its offset, so a late "
        "joiner replays history (offset=first) and every reader sees every message.",
    ),
)
TYPES_LESSON = (
    ("fanout", "copies every message to every bound queue; the routing key is ignored."),
    ("direct", "a queue gets a message when its binding key equals the routing key."),
    (
        "topic",
        "keys are words between dots: in a binding, * matches one word and # zero or "
        "more (kern.*, *.critical, #).",
    ),
    (
        "headers",
        "the routing key is ignored: a binding's header pairs must all (x-match=all) "
        "or any (x-match=any) equal the message's header values.",
    ),
)


# Every glyph and abbreviation a pane shows, where it stands.
LEGEND = (
    ("#12", "a line's sequence number: the 12th message this dashboard published"),
    ("cli#N", "a message fanout-tui publish sent, numbered on across its runs"),
    ("ext", "a message another program published (no stamp of this app's)"),
    ("@340", "a stream line's offset in the stream"),
    ("last · p50 · p99", "publish-to-receive latency: the latest, and over the last 1,000"),
    ("N recv · N/s", "the bottom border: copies received, and the rate now"),
    ("N queued", "messages waiting in the pane's queue (N waiting while paused)"),
    ("(2 s ago)", "a depth reading that missed a round: how old it is"),
    ("consuming ‖ pause", "the pane consumes; click (or space on the pane) to pause"),
    ("paused ▶ resume", "its consumer is cancelled and the queue fills; click to resume"),
    ("✕", "in the title: remove the pane"),
    ("⚠", "something the broker dropped, refused or a fault: the line says which"),
)


def _lesson(heading: str, rows: tuple[tuple[str, str], ...]) -> ComposeResult:
    yield Static(Content.styled(heading, "bold"), classes="help-heading")
    for name, text in rows:
        with Horizontal(classes="help-row"):
            yield Static(Content.styled(name, "bold"), classes="help-keys")
            yield Static(Content(text), classes="help-what")


def _keys(heading: str, actions: tuple[Action, ...]) -> ComposeResult:
    yield Static(Content.styled(heading, "bold"), classes="help-heading")
    for keys, text in documented(actions):
        with Horizontal(classes="help-row"):
            yield Static(Content.styled(keys, "bold"), classes="help-keys")
            yield Static(Content(text), classes="help-what")


class HelpScreen(ModalScreen[None]):
    CSS_PATH = Path(__file__).parent / "help.tcss"
    BINDINGS = [
        Binding("escape,q,f1,question_mark", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(Content.styled("fanout-tui", "bold"))
            yield Static(Content(LESSON), classes="help-heading")
            yield from _lesson("Receiver kinds (Add receiver…, --receiver KIND)", KINDS_LESSON)
            yield from _lesson("Exchange types (--exchange-type)", TYPES_LESSON)
            yield from _lesson("What the panes show", LEGEND)
            yield from _keys("Keys", APP_ACTIONS)
            yield from _keys("On a focused pane", PANE_ACTIONS)
            yield Static(Content("Press Escape to close."), classes="help-heading")

    def text(self) -> str:
        """Everything the screen says, as plain text (tests read it)."""
        return "\n".join(str(w.render()) for w in self.query(Static))
