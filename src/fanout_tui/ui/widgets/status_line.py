"""The line at the top: broker, exchange, connection state, receivers; and a
control that adds a receiver."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static

from ...control.dashboard import Dashboard
from ...model.states import WorkerState
from ...present.text import sanitize
from ...transport.broker import EXCHANGE_TYPE
from ..labels import Labels


class StatusLine(Horizontal):
    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        dock: top;
    }
    StatusLine > #status {
        width: 1fr;
        height: 1;
        padding: 0 1;
        background: $primary-background;
        color: $text;
    }
    StatusLine > #status.-down {
        background: $error 40%;
    }
    StatusLine > #add {
        width: auto;
        height: 1;
        background: $accent;
        color: $text;
    }
    StatusLine > #add:hover {
        background: $accent-lighten-1;
    }
    """

    def __init__(self, dashboard: Dashboard, labels: Labels) -> None:
        super().__init__(id="top")
        self.dashboard = dashboard
        self.labels = labels
        self._text = ""

    def compose(self) -> ComposeResult:
        yield Static(id="status")
        yield Static(Content.from_markup("[@click=app.add_receiver] + receiver [/]"), id="add")

    def on_mount(self) -> None:
        self.update_from_dashboard()

    def update_from_dashboard(self) -> None:
        dashboard = self.dashboard
        state = dashboard.publisher.state
        if state.state is WorkerState.READY:
            link = "● connected"
        elif state.state is WorkerState.RECONNECTING and state.detail:
            link = f"✗ {state.detail}"
        else:
            link = f"○ {state.state.value}"
        receivers = dashboard.receivers
        consuming = sum(1 for r in receivers if r.state.state is WorkerState.CONSUMING)
        broker = self.labels.url(dashboard.broker.masked_urls[0])
        text = (
            f"{broker} · exchange {dashboard.broker.exchange!r} ({EXCHANGE_TYPE}) · "
            f"{link} · {len(receivers)} receivers, {consuming} consuming"
        )
        if text == self._text:
            return
        self._text = text
        status = self.query_one("#status", Static)
        # Its size is fixed, so no layout: one of the whole screen refreshed
        # every pane's scrollbar (measured under a burst).
        status.update(Content(sanitize(text, 1000)), layout=False)
        status.set_class(state.state is not WorkerState.READY, "-down")
