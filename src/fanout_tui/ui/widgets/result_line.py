"""The line under the input: what became of the last message or burst, live."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from ...present.text import sanitize


class ResultLine(Static):
    DEFAULT_CSS = """
    ResultLine {
        dock: bottom;
        height: 1;
        margin: 0 0 1 0;
        padding: 0 1;
        color: $text-muted;
    }
    ResultLine.ok {
        color: $success;
    }
    ResultLine.warning {
        color: $warning;
    }
    ResultLine.error {
        color: $error;
    }
    """

    def __init__(self) -> None:
        super().__init__(id="result")

    def show(self, text: str, kind: str, kept: int = 0) -> None:
        """``kind``: "ok", "warning", "error", or "" while it is still going out;
        ``kept``: messages not sent that wait to come back into the input."""
        if kept:
            more = "1 more message" if kept == 1 else f"{kept} more messages"
            text += f" · {more} not sent, kept: each comes back into the input as you send"
        content = Content(sanitize(text, 1000))  # never parsed as markup
        if self.visual != content:  # a repaint, only on change; its size is fixed
            self.update(content, layout=False)
        self.set_classes(kind)
