"""The progress bar of a running burst, above the input."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import ProgressBar, Static

from ...transport.burst import BurstWorker


class BurstBar(Horizontal):
    DEFAULT_CSS = """
    BurstBar {
        display: none;
        dock: bottom;
        height: 1;
        margin: 0 0 3 0;
        padding: 0 1;
    }
    BurstBar > #burst-label {
        width: 40;
        height: 1;
    }
    """

    def __init__(self) -> None:
        super().__init__(id="burst")

    def compose(self) -> ComposeResult:
        yield Static(id="burst-label")
        yield ProgressBar(id="burst-progress", show_eta=True)

    def start(self, total: int) -> None:
        self.query_one(ProgressBar).update(total=total, progress=0)
        self.display = True

    def show(self, burst: BurstWorker | None) -> None:
        if burst is None:
            return
        self.query_one(ProgressBar).update(progress=burst.sent)
        label = f"burst {burst.sent:,}/{burst.count:,} · Escape cancels"
        self.query_one("#burst-label", Static).update(Content(label), layout=False)

    def finish(self) -> None:
        self.display = False
