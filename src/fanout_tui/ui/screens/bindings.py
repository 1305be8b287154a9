"""The bindings panel: the exchange's bindings as ``rabbitmqctl list_bindings`` shows them.

With the management HTTP API it lists every binding of the exchange, the
queues of other programs included (marked "not this app's"); without it, this
app's own bindings and a one-line note saying why. The HTTP request runs in a
thread worker, so the UI never waits on it; the list refreshes while open.

Queue and exchange names, routing keys and error text come from elsewhere: they
are sanitized and shown as plain text, never parsed as markup.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from ...present.text import sanitize
from ...transport.management import (
    ExchangeBinding,
    ManagementSettings,
    ManagementUnavailable,
    list_bindings,
    queue_nodes,
)
from ..labels import Labels

REFRESH_INTERVAL = 3.0  # seconds between fetches while the panel is open
FETCH_TIMEOUT = 2.0  # per HTTP request; shorter than the interval
NOT_OURS = "not this app's"
NAME_LIMIT = 120  # characters of a name shown in a cell

OwnQueues = Callable[[], dict[str, str]]
# This app's own bindings: queue -> the routing key of each binding it made
# (a headers binding's arguments written in its place), in pane order.
OwnBindings = Callable[[], dict[str, list[str]]]


@dataclass(frozen=True)
class _Fetched:
    """What one refresh found: the API's bindings, or why there are none."""

    own: dict[str, str]  # queue -> pane label, as it was when the fetch started
    bindings: list[ExchangeBinding] | None
    reason: str = ""
    at: float = 0.0
    answered: bool = False  # the API was reached and refused (else: not reached)
    nodes: dict[str, str] = field(default_factory=dict)  # queue -> node, as the API says


def _cell(text: str, style: str = "") -> Text:
    # A Text cell: DataTable parses a str cell as markup.
    return Text(sanitize(text, NAME_LIMIT), style=style, no_wrap=True, overflow="ellipsis")


class BindingsScreen(ModalScreen[None]):
    """The exchange's bindings: source, destination, routing key, and whose queue it is."""

    CSS_PATH = Path(__file__).parent / "bindings.tcss"

    BINDINGS = [
        Binding("escape,ctrl+b,q", "dismiss", "Close"),
    ]

    def __init__(
        self,
        exchange: str,
        management: ManagementSettings,
        own_queues: OwnQueues,
        *,
        refresh_interval: float = REFRESH_INTERVAL,
        timeout: float = FETCH_TIMEOUT,
        labels: Labels | None = None,
        show_nodes: bool = False,
        own_bindings: OwnBindings | None = None,
    ) -> None:
        super().__init__()
        self.labels = labels or Labels()  # how queues, URLs and times are written
        self.exchange = exchange
        self.management = management
        self.own_queues = own_queues
        self.own_bindings = own_bindings
        self.refresh_interval = refresh_interval
        self.timeout = timeout
        # A node column (which node each queue lives on) when the app knows
        # several nodes and the management API names them.
        self.show_nodes = show_nodes
        self._node_column = False
        self._fetch_worker: Worker[_Fetched] | None = None
        # What is shown, for tests and callers: rows of (source, destination, routing
        # key, whose), the note (empty when the API answered), and refreshes done.
        self.rows: list[tuple[str, str, str, str]] = []
        self.nodes: dict[str, str] = {}  # queue -> node, for the queues shown
        self.note = ""
        self.refreshes = 0

    # Layout ---------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical(id="bindings"):
            yield Static(
                Content(
                    f"Bindings of exchange {sanitize(repr(self.exchange), NAME_LIMIT)} · "
                    f"vhost {sanitize(repr(self.management.vhost), NAME_LIMIT)}"
                ),
                id="bindings-title",
            )
            table: DataTable[Text] = DataTable(
                id="bindings-table", cursor_type="row", zebra_stripes=True
            )
            yield table
            yield Static(Content("asking the management API…"), id="bindings-status")
            yield Static(Content(""), id="bindings-note")
            yield Static(
                Content(
                    f"Escape closes · refreshes every {self.refresh_interval:g} s · "
                    "the management API lists other programs' queues too"
                ),
                id="bindings-keys",
            )

    def on_mount(self) -> None:
        table = self.query_one("#bindings-table", DataTable)
        table.add_column("source", key="source")
        table.add_column("destination", key="destination")
        table.add_column("routing key", key="routing_key")
        table.add_column("whose", key="whose")
        self.refresh_bindings()
        self.set_interval(self.refresh_interval, self.refresh_bindings)

    # Fetching -----------------------------------------------------------------------

    def refresh_bindings(self) -> None:
        """Start a fetch unless one is still running (it reports when done)."""
        worker = self._fetch_worker
        if worker is not None and worker.state in (WorkerState.PENDING, WorkerState.RUNNING):
            return
        # The app's own queues are read here, on the UI thread, never from the worker.
        own = dict(self.own_queues())
        self._fetch_worker = self.run_worker(
            partial(self._fetch, own),
            name="bindings-fetch",
            group="bindings",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    def _fetch(self, own: dict[str, str]) -> _Fetched:
        """Runs in a worker thread: the only place that waits on HTTP."""
        try:
            found = list_bindings(self.management, self.exchange, timeout=self.timeout)
        except ManagementUnavailable as exc:
            return _Fetched(own, None, str(exc), time.time(), exc.answered)
        nodes: dict[str, str] = {}
        if self.show_nodes:
            # Optional: the bindings stand without it, the node cells stay empty.
            with contextlib.suppress(ManagementUnavailable):
                nodes = queue_nodes(self.management, timeout=self.timeout)
        return _Fetched(own, found, "", time.time(), nodes=nodes)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._fetch_worker:
            return
        if event.state is WorkerState.SUCCESS and isinstance(event.worker.result, _Fetched):
            self._show(event.worker.result)
        elif event.state is WorkerState.ERROR:
            error = event.worker.error
            reason = f"{type(error).__name__}: {error}" if error else "unknown error"
            self._show(_Fetched(dict(self.own_queues()), None, reason, time.time()))

    # Showing --------------------------------------------------------------------

    def _rows(self, fetched: _Fetched) -> list[tuple[str, str, str, str]]:
        own = fetched.own
        if fetched.bindings is None:
            # Fallback: only what this app bound, one row per binding, with the
            # key it bound with (read now, on the UI thread). Other programs'
            # bindings cannot be seen without the API; the note says so.
            keys = self.own_bindings() if self.own_bindings is not None else {}
            return [
                (self.exchange, queue, key, label)
                for queue, label in own.items()
                for key in keys.get(queue, [""])
            ]
        ours: list[tuple[str, str, str, str]] = []
        others: list[tuple[str, str, str, str]] = []
        for binding in fetched.bindings:
            destination = binding.destination
            label = own.get(destination) if binding.destination_type == "queue" else None
            if binding.destination_type != "queue":
                destination = f"{destination} ({binding.destination_type})"
            row = (binding.source, destination, binding.routing_key, label or NOT_OURS)
            (ours if label else others).append(row)
        # This app's queues first, in pane order; then the others by name.
        order = {queue: index for index, queue in enumerate(own)}
        ours.sort(key=lambda row: order.get(row[1], len(order)))
        others.sort(key=lambda row: row[1])
        return ours + others

    def _show(self, fetched: _Fetched) -> None:
        rows = self._rows(fetched)
        self.rows = rows
        self.refreshes += 1
        table = self.query_one("#bindings-table", DataTable)
        cursor = table.cursor_row
        table.clear()
        queues = {row[1] for row in rows}
        self.nodes = {q: n for q, n in fetched.nodes.items() if q in queues}
        if bool(self.nodes) != self._node_column:
            self._node_column = bool(self.nodes)
            if self._node_column:
                table.add_column("node", key="node")
            else:
                table.remove_column("node")
        # This app's queues as their panes name them (pika binds with the queue's
        # name as the routing key, so that is named the same way).
        names = {queue: self.labels.queue(owner, queue) for queue, owner in fetched.own.items()}
        for source, destination, routing_key, whose in rows:
            ours = whose != NOT_OURS
            cells = [
                _cell(source),
                _cell(names.get(destination, destination), "bold" if ours else ""),
                _cell(names.get(routing_key, routing_key)),
                _cell(whose, "" if ours else "italic"),
            ]
            if self._node_column:
                cells.append(_cell(self.nodes.get(destination, "")))
            table.add_row(*cells)
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))
        count = f"{len(rows)} binding{'s' if len(rows) != 1 else ''}"
        updated = self.labels.clock(fetched.at)[:8]
        shown_url = sanitize(self.labels.url(self.management.shown_url), NAME_LIMIT)
        status = self.query_one("#bindings-status", Static)
        note = self.query_one("#bindings-note", Static)
        if fetched.bindings is None:
            self.note = (
                f"management API {'at' if fetched.answered else 'not reachable at'} {shown_url}"
                f"{' refused' if fetched.answered else ''}: "
                f"{sanitize(fetched.reason, 300)}; showing only this app's own bindings "
                "(other programs' bindings are not visible without it)"
            )
            status.update(Content(f"{count} of this app · updated {updated}"))
        else:
            self.note = ""
            status.update(Content(f"{count} · from the management API at {shown_url} · {updated}"))
        note.update(Content(self.note))
        note.set_class(bool(self.note), "-shown")
