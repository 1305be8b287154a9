"""The publish input: Enter publishes, Up/Down recall earlier messages."""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input

from ...model.history import History
from ..compat import QuietInput


class PublishInput(QuietInput):
    BINDINGS = [
        Binding("up", "history_previous", "Previous message", show=False),
        Binding("down", "history_next", "Next message", show=False),
    ]

    class Publish(Message):
        """The user asked to publish ``text`` (never empty)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class HeldBack(Message):
        """Enter was pressed on ``text`` while publishers are blocked (``reason``):
        it was not published and stays in the input."""

        def __init__(self, text: str, reason: str) -> None:
            super().__init__()
            self.text = text
            self.reason = reason

    def __init__(
        self, history: History, exchange: str, blocked: Callable[[], str] = lambda: ""
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
        # Messages not sent that wait their turn, oldest first: the input shows one
        # at a time, and takes the next each time it is submitted. Never dropped.
        self.kept: list[str] = []

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
        self.history.add(text)
        if self.history.error:
            self.app.notify(self.history.error, severity="warning", markup=False)
        self.value = ""
        if self.kept:
            self._recall(self.kept.pop(0))  # the next message not sent, in order
        self.post_message(self.Publish(text))

    def restore(self, text: str) -> None:
        """Put back a message that was not sent: into the input when it is empty,
        else at the end of :attr:`kept`, so neither what is typed nor an earlier
        failure is overwritten."""
        self.kept.append(text)
        if self.value == "":
            self._recall(self.kept.pop(0))

    def action_history_previous(self) -> None:
        self._recall(self.history.previous())

    def action_history_next(self) -> None:
        self._recall(self.history.next())

    def _recall(self, text: str | None) -> None:
        if text is not None:
            self.value = text
            self.cursor_position = len(text)
