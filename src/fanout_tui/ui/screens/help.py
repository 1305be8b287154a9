"""The help screen: what a fanout exchange does, and the keys (from ui/actions.py)."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from ..actions import APP_ACTIONS, PANE_ACTIONS, Action, documented

LESSON = (
    "A fanout exchange copies every message it receives to every queue bound to it, "
    "ignoring the routing key; a message published while no queue is bound is dropped. "
    "Each pane is a separate receiver with its own connection and its own exclusive, "
    "server-named queue bound to the exchange, so each pane shows its own copy of every "
    "message, side by side. A pane line gives the message's sequence number (ext for "
    "one from another program), the time it arrived and its body with control characters "
    "escaped; the title names the pane's queue and the bottom border counts what it received."
)
KEY_COLUMN = 14


def _keys(heading: str, actions: tuple[Action, ...]) -> Content:
    rows = [Content.styled(heading, "bold")]
    for keys, text in documented(actions):
        rows.append(Content.assemble("  ", (keys.ljust(KEY_COLUMN), "bold"), " ", text))
    return Content("\n").join(rows)


def help_text() -> Content:
    return Content("\n\n").join(
        [
            Content.styled("fanout-tui", "bold"),
            Content(LESSON),
            _keys("Keys", APP_ACTIONS),
            _keys("On a focused pane", PANE_ACTIONS),
            Content("Press Escape to close."),
        ]
    )


class HelpScreen(ModalScreen[None]):
    CSS_PATH = Path(__file__).parent / "help.tcss"
    BINDINGS = [
        Binding("escape,q,f1,question_mark", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(help_text())
