"""The line at the top: broker, exchange, connection state, receivers; and a
control that adds a receiver."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static

from ...control.dashboard import Dashboard
from ...model.states import WorkerState
from ...present.fit import middle_ellipsis
from ...present.text import sanitize
from ...transport.broker import EXCHANGE_TYPE
from ..labels import Labels

MIN_NAME = 12  # characters a shortened URL or name keeps at least
MIN_REASON = 30  # characters of a lost connection's reason kept before the short form
Counts = tuple[int, int]  # receivers, consuming


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

    def on_resize(self) -> None:
        self.update_from_dashboard()  # what fits changed

    def update_from_dashboard(self) -> None:
        dashboard = self.dashboard
        state = dashboard.publisher.state
        # The type the broker said, else the one asked for; unknown until the
        # publisher has connected (or when this user may not declare it).
        kind = f"({dashboard.exchange_type or 'type unknown'})"
        if dashboard.blocked:
            link = f"⚠ broker is blocking publishers: {dashboard.blocked}"
        elif dashboard.exchange_problem:
            # In the state's place, which is cut last when the line is too long.
            kind, link = "(type changed)", f"⚠ {dashboard.exchange_problem}"
        elif state.state is WorkerState.READY:
            link = "● connected"
        elif state.state is WorkerState.RECONNECTING and state.detail:
            link = f"✗ {state.detail}"
        else:
            link = f"○ {state.state.value}"
        receivers = dashboard.receivers
        consuming = sum(1 for r in receivers if r.state.state is WorkerState.CONSUMING)
        status = self.query_one("#status", Static)
        text = fit_status(
            sanitize(self.labels.url(broker_shown(dashboard)), 300),
            sanitize(repr(dashboard.broker.exchange), 300),
            sanitize(link, 1000),
            (len(receivers), consuming),
            status.content_size.width or 1000,
            kind,
        )
        if text == self._text:
            return
        self._text = text
        status = self.query_one("#status", Static)
        # Its size is fixed, so no layout: one of the whole screen refreshed
        # every pane's scrollbar (measured under a burst).
        status.update(Content(text), layout=False)
        status.set_class(
            state.state is not WorkerState.READY
            or bool(dashboard.blocked or dashboard.exchange_problem),
            "-down",
        )


def broker_shown(dashboard: Dashboard) -> str:
    """The header's broker: the node the publisher is on (a masked URL, never a
    password), and with several URLs how many more and whether the receivers
    are spread over them."""
    urls = dashboard.broker.masked_urls
    shown = dashboard.publisher.state.url or urls[0]
    if len(urls) == 1:
        return shown
    more = f"+{len(urls) - 1} node{'s' if len(urls) > 2 else ''}"
    return f"{shown} ({more}{', receivers spread' if dashboard.settings.spread else ''})"


def fit_status(
    broker: str,
    exchange: str,
    link: str,
    counts: Counts,
    width: int,
    kind: str = f"({EXCHANGE_TYPE})",
) -> str:
    """The status line in ``width`` cells. The connection state and the counts
    matter most: the broker URL and the exchange's name are cut in the middle
    first, then a long reason for a lost connection is cut at its end, and only
    then does the line take its short form."""
    receivers, consuming = counts
    full = f"{receivers} receiver{'s' if receivers != 1 else ''}, {consuming} consuming"

    def line(url: str, name: str, state: str, short: bool) -> str:
        if short:
            return f"{url} · {name} {kind} · {state} · {consuming}/{receivers} consuming"
        return f"{url} · exchange {name} {kind} · {state} · {full}"

    given = broker, exchange
    for short, least in ((False, MIN_NAME), (True, MIN_NAME // 2)):
        broker, exchange = given  # each form shortens the names from scratch
        over = len(line(broker, exchange, link, short)) - width
        if over > 0:
            broker = middle_ellipsis(broker, max(least, len(broker) - over))
            over = len(line(broker, exchange, link, short)) - width
        if over > 0:
            exchange = middle_ellipsis(exchange, max(least, len(exchange) - over))
            over = len(line(broker, exchange, link, short)) - width
        if over <= 0:
            return line(broker, exchange, link, short)
        if len(link) - over - 1 >= MIN_REASON:  # a long reason gives way before the form
            return line(broker, exchange, link[: len(link) - over - 1] + "…", short)
    return line(broker, exchange, link[: max(MIN_NAME, len(link) - over - 1)] + "…", True)
