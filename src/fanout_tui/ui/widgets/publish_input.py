"""The publish input: Enter publishes, Up/Down recall earlier messages; and
beside it the routing-key field, shown when the exchange routes by key.

When the key field shows (the rule keeps one decision in one place,
:func:`routes_by_key`): on every type but fanout, once the type is known. A
fanout ignores the key (the tutorial publishes with ``""``), so the field
stays hidden there; while the type is unknown (the publisher has not
connected yet, a moment after start) it is hidden too, so a fanout dashboard
does not show a field at start only to drop it a second later.
"""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input

from ...model.history import Entry, History
from ...model.routing import routing_key_problem, utf8_problem
from ..compat import QuietInput


def routes_by_key(exchange_type: str) -> bool:
    """Whether the routing-key field shows for an exchange of this type ("": unknown)."""
    return exchange_type not in ("", "fanout")


class RoutingKeyInput(QuietInput):
    """The routing key the next message is published with; Enter goes on to the message."""

    DEFAULT_CSS = """
    RoutingKeyInput {
        dock: left;
        width: 28;
        display: none;
    }
    """

    def __init__(self) -> None:
        super().__init__(placeholder="routing key", id="routing-key", select_on_focus=False)
        self.cursor_blink = False  # as the publish input's, for the same reason

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.screen.query_one(PublishInput).focus()

    def show_for(self, exchange_type: str) -> None:
        shown = routes_by_key(exchange_type)
        if self.display != shown:
            self.display = shown

    @property
    def key(self) -> str:
        """The key to publish with: "" while hidden (a fanout ignores it)."""
        return self.value if self.display else ""


class PublishInput(QuietInput):
    BINDINGS = [
        Binding("up", "history_previous", "Previous message", show=False),
        Binding("down", "history_next", "Next message", show=False),
    ]

    class Publish(Message):
        """The user asked to publish ``text`` (never empty) with ``routing_key``."""

        def __init__(self, text: str, routing_key: str = "") -> None:
            super().__init__()
            self.text = text
            self.routing_key = routing_key

    class HeldBack(Message):
        """Enter was pressed on ``text`` and it was not published (``reason``): the
        broker blocks publishers (``blocked``), or the key or the text cannot be
        written at all. It stays in the input."""

        def __init__(self, text: str, reason: str, blocked: bool = True) -> None:
            super().__init__()
            self.text = text
            self.reason = reason
            self.blocked = blocked

    def __init__(
        self,
        history: History,
        exchange: str,
        blocked: Callable[[], str] = lambda: "",
        key_input: RoutingKeyInput | None = None,
    ) -> None:
        super().__init__(
            placeholder=f"Type a message and press Enter to publish it to exchange {exchange!r}",
            id="publish",
            select_on_focus=False,
        )
        # A blinking cursor repaints the input twice a second; Textual repaints the
        # bounding box of everything dirty in a frame, so a blink that coincides
        # with a pane's paint repaints most of the screen. A steady cursor is cheap.
        self.cursor_blink = False
        self.history = history
        # Why the broker blocks publishers now ("" when it does not), asked at
        # each Enter: decided here, before the input is cleared, so a message
        # that is not written never leaves it.
        self.blocked = blocked
        self.key_input = key_input
        # Messages not sent that wait their turn, oldest first: the input shows one
        # at a time, and takes the next each time it is submitted. Never dropped.
        self.kept: list[Entry] = []

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value
        if text == "":
            self.app.notify("Nothing to publish: type a message first.", markup=False)
            return
        reason = self.blocked()
        if reason:
            self.post_message(self.HeldBack(text, reason))
            return
        key = self.key_input.key if self.key_input is not None else ""
        problem = routing_key_problem(key) or utf8_problem(text, "the message")
        if problem:  # refused before it is written: the text and the key stay
            self.post_message(self.HeldBack(text, problem, blocked=False))
            return
        self.history.add(text, key)
        if self.history.error:
            self.app.notify(self.history.error, severity="warning", markup=False)
        self.value = ""
        if self.kept:
            self._recall_entry(self.kept.pop(0))  # the next message not sent, in order
        self.post_message(self.Publish(text, key))

    def restore(self, entry: Entry) -> None:
        """Put back a message that was not sent: into the input when it is empty,
        else at the end of :attr:`kept`, so neither what is typed nor an earlier
        failure is overwritten."""
        self.kept.append(entry)
        if self.value == "":
            self._recall_entry(self.kept.pop(0))

    def action_history_previous(self) -> None:
        self._recall_entry(self.history.previous())

    def action_history_next(self) -> None:
        self._recall_entry(self.history.next())

    def _recall_entry(self, entry: Entry | None) -> None:
        """A message and its routing key, as they were published."""
        if entry is None:
            return
        self._recall(entry.text)
        if self.key_input is not None:
            self.key_input.value = entry.routing_key

    def _recall(self, text: str | None) -> None:
        if text is not None:
            self.value = text
            self.cursor_position = len(text)
