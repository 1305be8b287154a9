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
    BurstBar.-blocked > #burst-label {
        width: 1fr;  /* the reason needs the room */
        color: $warning;
    }
    BurstBar.-blocked > #burst-progress {
        display: none;  /* paused: its rate and time left mean nothing now */
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
        label = burst_label(burst.sent, burst.count, burst.blocked)
        blocked = bool(burst.blocked)
        # The label's width changes only with the block: a layout then, never per count.
        layout = blocked != self.has_class("-blocked")
        self.set_class(blocked, "-blocked")
        self.query_one("#burst-label", Static).update(Content(label), layout=layout)

    def finish(self) -> None:
        self.display = False


def burst_label(sent: int, count: int, blocked: str) -> str:
    """``burst 1,200/10,000 · Escape cancels``, or while the broker blocks
    publishers why the burst is paused (``blocked``: the broker's reason,
    sanitized by the worker; shown as plain text, never markup)."""
    head = f"burst {sent:,}/{count:,}"
    if blocked:
        return f"{head} · paused: the broker is blocking publishers ({blocked}) · resumes by itself"
    return f"{head} · Escape cancels"
