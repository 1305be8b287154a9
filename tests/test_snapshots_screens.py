"""How every other screen and state looks, as SVG snapshots (pytest-textual-snapshot).

test_snapshots.py has the dashboard with 1, 3 and 8 receivers and the paused
receiver with the delivery log; this file has the rest: the message detail in
its three views, the bindings panel with and without the management API, the
burst and properties forms, help, the delivery log, the dashboard with no
receivers, with the broker down, with receivers reconnecting, with a paused
receiver, and 8 receivers in an 80x24 terminal.

Real brokers, real receivers, real keys and the command palette. What would
differ between runs is fixed, and nothing else:

- times, dates, queue names, rates, the broker's and the API's URLs: the
  fixed ``Labels`` that ``SnapshotApp`` passes to the app, and
  ``_fix_measurements`` for latencies and sparklines (test_snapshots.py);
- connection errors name the node's random port, and a worker that keeps
  failing counts attempts and backoff delays. ``RoutedSettings`` gives the app
  the URL it shows (localhost:5672) while each connect really goes where the
  scenario says; a connect sent to a listener that never answers stays in
  flight, so "reconnecting (attempt 1)" holds still for the screenshot.
"""

from __future__ import annotations

import asyncio
import calendar
import dataclasses
import signal
import socket
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pika
import pytest
from conftest import node_url
from helpers import closed_port, emit_log, silent_listener, until
from test_snapshots import SnapshotApp, _fix_measurements
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, Static

from fanout_tui.model.states import WorkerState
from fanout_tui.settings import Settings
from fanout_tui.transport.broker import BrokerSettings
from fanout_tui.ui.screens.bindings import BindingsScreen
from fanout_tui.ui.screens.detail import MessageDetailScreen
from fanout_tui.ui.screens.forms import BurstScreen, PropertiesScreen
from fanout_tui.ui.screens.help import HelpScreen
from fanout_tui.ui.widgets.delivery_log import DeliveryLog
from fanout_tui.ui.widgets.receiver_pane import ReceiverPane

SIZE = (160, 48)
SMALL = (80, 24)
SETTLE = 30.0  # seconds any one wait may take (a busy shared machine, a node starting)
STAMP = calendar.timegm((2025, 1, 1, 12, 0, 0))  # a timestamp property, shown in UTC
SHOWN_URL = "amqp://guest:guest@localhost:5672/%2F"  # what the app is told (see RoutedSettings)
STALL = 300.0  # seconds a connect to the silent listener may wait: longer than any test


# Waiting --------------------------------------------------------------------------


async def settled(pilot: Pilot[Any], condition: Callable[[], object], what: str) -> None:
    """helpers.until with this file's budget: a node starting on a busy machine."""
    await until(pilot, condition, SETTLE, what=what)


def shown(app: SnapshotApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def all_connected(app: SnapshotApp) -> bool:
    # The status line too: it follows the publisher at the next second's tick.
    return (
        all(p.state.state is WorkerState.CONSUMING for p in app.panes)
        and app.dashboard.publisher.state.state is WorkerState.READY
        and "● connected" in shown(app, "#status")
    )


async def publish_typed(pilot: Pilot[Any], app: SnapshotApp, *texts: str) -> None:
    """Type each text and press Enter; wait until every pane has them all."""
    before = [p.received for p in app.panes]
    for text in texts:
        await pilot.press(*text, "enter")
    want = [n + len(texts) for n in before]
    await settled(pilot, lambda: [p.received for p in app.panes] == want, f"{want} received")
    await settled(pilot, lambda: "/" in shown(app, "#result"), "the result line")


def fix_measurements(app: SnapshotApp) -> None:
    """test_snapshots' fixed latencies and rates, bursts' slowest copies too, drawn."""
    _fix_measurements(app)
    for burst in app.dashboard.tracker.bursts:
        for number in burst.slowest:
            burst.slowest[number] = 0.0031
    app.tracking.draw(0.0)  # the result line and the log, with the fixed numbers


def no_blink(screen: Screen[Any]) -> None:
    for box in screen.query(Input):
        box.cursor_blink = False  # a blinking cursor is not deterministic


async def connected_with_messages(pilot: Pilot[Any], app: SnapshotApp) -> None:
    """Every receiver consuming and the publisher ready; one typed message each got."""
    no_blink(app.screen)
    await settled(pilot, lambda: all_connected(app), "every worker connected")
    await publish_typed(pilot, app, "hello, fanout")
    fix_measurements(app)


async def run_command(pilot: Pilot[Any], app: SnapshotApp, search: str) -> None:
    """Open the command palette, type ``search`` and run the first command it finds."""
    await pilot.press("ctrl+p")
    await settled(pilot, lambda: isinstance(app.screen, CommandPalette), "the command palette")

    def found() -> bool:
        commands = app.screen.query_one(CommandList)
        index = commands.highlighted
        if index is None or commands.option_count == 0:
            return False
        return search in str(commands.get_option_at_index(index).prompt)

    await pilot.press(*search)
    await settled(pilot, found, f"the palette offering {search!r}")
    await pilot.press("enter")
    await settled(pilot, lambda: not isinstance(app.screen, CommandPalette), "the palette closed")


# Where connections really go ------------------------------------------------------


class Network:
    """Where each of the app's connects goes, by connection name.

    Connects go to ``port`` (a node, or a closed port), except those that
    ``stalls`` picks: those go to a listener that accepts and never answers,
    and wait there (a worker in flight, its state frozen). Counts every connect.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.connects: Counter[str] = Counter()
        self.stalled: Counter[str] = Counter()
        self.stalls: Callable[[str, int], bool] = lambda name, nth: False
        self._listener: socket.socket = silent_listener()
        self._lock = threading.Lock()

    @property
    def silent_port(self) -> int:
        return int(self._listener.getsockname()[1])

    def route(self, name: str) -> bool:
        """Count a connect by ``name``; True if it is to stall."""
        with self._lock:
            self.connects[name] += 1
            stall = self.stalls(name, self.connects[name])
            self.stalled[name] += stall
            return stall

    def close(self) -> None:
        """Reset the stalled connects, so their threads end."""
        self._listener.close()


@dataclasses.dataclass(frozen=True)
class RoutedBroker(BrokerSettings):
    network: Network | None = dataclasses.field(default=None, compare=False, repr=False)

    def parameters(self, url: str, connection_name: str | None = None) -> pika.URLParameters:
        params = super().parameters(url, connection_name)
        assert self.network is not None
        params.host = "127.0.0.1"
        if self.network.route(connection_name or ""):
            params.port = self.network.silent_port
            params.socket_timeout = params.stack_timeout = STALL
        else:
            params.port = self.network.port
        return params


@dataclasses.dataclass(frozen=True)
class RoutedSettings(Settings):
    """The app is given SHOWN_URL, which its error messages quote; its
    connects go where ``network`` says."""

    network: Network | None = dataclasses.field(default=None, compare=False, repr=False)

    def broker(self) -> BrokerSettings:
        return RoutedBroker(
            urls=self.urls, exchange=self.exchange, heartbeat=self.heartbeat, network=self.network
        )


def is_receiver(name: str) -> bool:
    return name.startswith("fanout-tui R")


# The message detail ---------------------------------------------------------------

ORDER = (
    b'{"order": 1042, "customer": {"id": "c-77", "name": "Ada Lovelace"}, '
    b'"items": [{"sku": "A-1", "qty": 2, "price": 9.5}, {"sku": "B-7", "qty": 1, '
    b'"price": 24.0}], "paid": true, "coupon": null}'
)
ORDER_PROPERTIES = pika.BasicProperties(
    content_type="application/json",
    delivery_mode=2,
    message_id="order-1042",
    timestamp=STAMP,
    app_id="checkout",
    headers={"source": "web", "retries": 0},
)


@pytest.mark.parametrize("view", ["json", "text", "hex"])
def test_message_detail_snapshot(snap_compare, broker_url: str, view: str) -> None:  # type: ignore[no-untyped-def]
    """A JSON message from another program, opened from its pane; j, t or h."""
    exchange = f"snapshot-detail-{view}"
    app = SnapshotApp(Settings(urls=(broker_url,), exchange=exchange, receivers=1))

    async def run_before(pilot: Pilot[Any]) -> None:
        no_blink(app.screen)
        await settled(pilot, lambda: all_connected(app), "every worker connected")
        emit_log(broker_url, exchange, ORDER, ORDER_PROPERTIES)
        (pane,) = app.panes
        await settled(pilot, lambda: pane.received == 1, "the order received")
        fix_measurements(app)
        (delivery,) = pane.deliveries()
        pane.post_message(ReceiverPane.DetailRequested(pane, delivery))  # what Enter asks for
        await settled(pilot, lambda: isinstance(app.screen, MessageDetailScreen), "the detail")
        screen = app.screen
        assert isinstance(screen, MessageDetailScreen)
        await settled(pilot, lambda: screen.mode == "json", "the body pretty-printed")
        if view != "json":
            await pilot.press(view[0])
        await settled(pilot, lambda: screen.body_view.mode == view, f"the {view} view")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


# The bindings panel ---------------------------------------------------------------


async def open_bindings(pilot: Pilot[Any], app: SnapshotApp, rows: int) -> None:
    await connected_with_messages(pilot, app)
    await pilot.press("ctrl+b")
    await settled(pilot, lambda: isinstance(app.screen, BindingsScreen), "the bindings panel")
    screen = app.screen
    assert isinstance(screen, BindingsScreen)
    await settled(pilot, lambda: screen.refreshes >= 1 and len(screen.rows) == rows, f"{rows} rows")


def test_bindings_from_the_management_api_snapshot(  # type: ignore[no-untyped-def]
    snap_compare, management_node: Any, node_connection: pika.BlockingConnection
) -> None:
    """Both receivers' bindings, then another program's queue and an exchange bound to it."""
    exchange = "snapshot-bindings"
    channel = node_connection.channel()
    channel.exchange_declare(exchange=exchange, exchange_type="fanout")
    channel.queue_declare(queue="audit-log", durable=True)
    channel.queue_bind(queue="audit-log", exchange=exchange, routing_key="")
    channel.exchange_declare(exchange="snapshot-archive", exchange_type="fanout")
    channel.exchange_bind(destination="snapshot-archive", source=exchange, routing_key="")
    settings = Settings(
        urls=(management_node.amqp_url,),
        exchange=exchange,
        receivers=2,
        management_url=management_node.api_url,
    )
    app = SnapshotApp(settings)
    try:
        assert snap_compare(
            app, terminal_size=SIZE, run_before=lambda pilot: open_bindings(pilot, app, rows=4)
        )
    finally:
        channel.queue_delete(queue="audit-log")
        channel.exchange_delete(exchange="snapshot-archive")
        channel.exchange_delete(exchange=exchange)


def test_bindings_without_the_management_api_snapshot(snap_compare, broker_url: str) -> None:  # type: ignore[no-untyped-def]
    """No API where it was looked for: the panel says why and lists the app's own bindings."""
    settings = Settings(
        urls=(broker_url,),
        exchange="snapshot-bindings-own",
        receivers=2,
        management_url=f"http://127.0.0.1:{closed_port()}",
    )
    app = SnapshotApp(settings)
    assert snap_compare(
        app, terminal_size=SIZE, run_before=lambda pilot: open_bindings(pilot, app, rows=2)
    )


# Forms and help -------------------------------------------------------------------


@pytest.mark.parametrize("mistake", [False, True], ids=["fresh", "invalid-count"])
def test_burst_form_snapshot(snap_compare, broker_url: str, mistake: bool) -> None:  # type: ignore[no-untyped-def]
    """Publish burst… from the palette: its defaults, or a count it refuses."""
    exchange = f"snapshot-burst-form-{int(mistake)}"
    app = SnapshotApp(Settings(urls=(broker_url,), exchange=exchange, receivers=2))

    async def run_before(pilot: Pilot[Any]) -> None:
        await connected_with_messages(pilot, app)
        await run_command(pilot, app, "Publish burst")
        await settled(pilot, lambda: isinstance(app.screen, BurstScreen), "the burst form")
        no_blink(app.screen)
        if mistake:
            await pilot.press("tab", *"lots", "enter")  # focusing the count selects it
            await settled(pilot, lambda: "whole number" in shown(app, ".form-error"), "the error")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("mistake", [False, True], ids=["fresh", "invalid-headers"])
def test_properties_form_snapshot(snap_compare, broker_url: str, mistake: bool) -> None:  # type: ignore[no-untyped-def]
    """Publish properties… from the palette: the tutorial's defaults, or headers it refuses."""
    exchange = f"snapshot-properties-form-{int(mistake)}"
    app = SnapshotApp(Settings(urls=(broker_url,), exchange=exchange, receivers=2))

    async def run_before(pilot: Pilot[Any]) -> None:
        await connected_with_messages(pilot, app)
        await run_command(pilot, app, "Publish properties")
        await settled(pilot, lambda: isinstance(app.screen, PropertiesScreen), "the form")
        no_blink(app.screen)
        if mistake:
            await pilot.press("tab", "tab", *"source", "enter")  # no "=value"
            await settled(pilot, lambda: "key=value" in shown(app, ".form-error"), "the error")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("size", [SIZE, SMALL], ids=["160x48", "80x24"])
def test_help_snapshot(snap_compare, broker_url: str, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    """F1 over the dashboard; at 80x24 the text is longer than the screen and scrolls."""
    app = SnapshotApp(Settings(urls=(broker_url,), exchange="snapshot-help", receivers=2))

    async def run_before(pilot: Pilot[Any]) -> None:
        await connected_with_messages(pilot, app)
        await pilot.press("f1")
        await settled(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")

    assert snap_compare(app, terminal_size=size, run_before=run_before)


# The delivery log and dashboard states ------------------------------------------


def test_delivery_log_after_a_burst_snapshot(snap_compare, broker_url: str) -> None:  # type: ignore[no-untyped-def]
    """ctrl+l after two typed messages and a burst of 20, everything delivered."""
    app = SnapshotApp(Settings(urls=(broker_url,), exchange="snapshot-log", receivers=2))

    async def run_before(pilot: Pilot[Any]) -> None:
        no_blink(app.screen)
        await settled(pilot, lambda: all_connected(app), "every worker connected")
        await publish_typed(pilot, app, "hello, fanout", '{"user": 42, "action": "login"}')
        await run_command(pilot, app, "Publish burst")
        await settled(pilot, lambda: isinstance(app.screen, BurstScreen), "the burst form")
        await pilot.press("tab", *"20", "enter")
        await settled(pilot, lambda: not isinstance(app.screen, BurstScreen), "the burst started")
        await settled(
            pilot,
            lambda: app.dashboard.burst is None and all(p.received == 22 for p in app.panes),
            "the burst delivered",
        )
        await pilot.press("ctrl+l")
        await settled(pilot, lambda: app.query_one(DeliveryLog).display, "the delivery log")
        fix_measurements(app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_paused_receiver_snapshot(snap_compare, broker_url: str) -> None:  # type: ignore[no-untyped-def]
    """R2 paused (space on its pane) while two more messages wait in its queue."""
    app = SnapshotApp(Settings(urls=(broker_url,), exchange="snapshot-paused-only", receivers=3))

    async def run_before(pilot: Pilot[Any]) -> None:
        await connected_with_messages(pilot, app)
        paused = app.panes[1]
        paused.focus()
        await pilot.press("space")
        await settled(pilot, lambda: paused.paused and paused.state.waiting == 0, "R2 paused")
        for text, waiting in (("while R2 is paused", 1), ("and another", 2)):
            await pilot.press(*text, "enter")
            await settled(pilot, lambda w=waiting: paused.state.waiting == w, f"{waiting} waiting")
        others = [p for p in app.panes if p is not paused]
        await settled(pilot, lambda: all(p.received == 3 for p in others), "the others got both")
        fix_measurements(app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_no_receivers_snapshot(snap_compare, broker_url: str) -> None:  # type: ignore[no-untyped-def]
    """Started with no receivers: the grid says how to add one; a publish is unroutable."""
    app = SnapshotApp(Settings(urls=(broker_url,), exchange="snapshot-empty", receivers=0))

    async def run_before(pilot: Pilot[Any]) -> None:
        no_blink(app.screen)
        await settled(pilot, lambda: all_connected(app), "the publisher connected")
        await pilot.press(*"hello, anyone?", "enter")
        await settled(pilot, lambda: "unroutable" in shown(app, "#result"), "unroutable")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_eight_receivers_at_80x24_snapshot(snap_compare, broker_url: str) -> None:  # type: ignore[no-untyped-def]
    """The smallest common terminal with 8 panes and three messages."""
    exchange = "snapshot-8-small"
    app = SnapshotApp(Settings(urls=(broker_url,), exchange=exchange, receivers=8))

    async def run_before(pilot: Pilot[Any]) -> None:
        no_blink(app.screen)
        await settled(pilot, lambda: all_connected(app), "every worker connected")
        await publish_typed(pilot, app, "hello, fanout", '{"user": 42, "action": "login"}')
        emit_log(broker_url, exchange)
        await settled(pilot, lambda: all(p.received == 3 for p in app.panes), "the tutorial's")
        fix_measurements(app)

    assert snap_compare(app, terminal_size=SMALL, run_before=run_before)


def test_broker_down_at_start_snapshot(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """Nothing listens: each receiver's first connect was refused and it is trying
    again; a typed message was not sent and stays in the input."""
    network = Network(closed_port())
    # A receiver's second connect stays in flight; the publisher keeps being
    # refused, so a publish fails at once (its backoff delay is past the
    # status line's end).
    network.stalls = lambda name, nth: is_receiver(name) and nth >= 2
    settings = RoutedSettings(
        urls=(SHOWN_URL,), exchange="snapshot-down", receivers=2, network=network
    )
    app = SnapshotApp(settings)

    def trying_again() -> bool:
        return all(
            p.state.state is WorkerState.RECONNECTING
            and p.state.attempt == 1
            and not p.state.detail  # in flight, not waiting out a backoff
            and network.stalled[f"fanout-tui R{p.number}"] == 1
            for p in app.panes
        ) and "✗ cannot reach the broker" in shown(app, "#status")

    async def run_before(pilot: Pilot[Any]) -> None:
        no_blink(app.screen)
        await settled(pilot, trying_again, "both receivers trying again")
        await pilot.press(*"hello, fanout", "enter")
        await settled(pilot, lambda: "not sent" in shown(app, "#result"), "the publish failed")

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
    finally:
        network.close()


@pytest.mark.timeout(180)
def test_node_killed_receivers_reconnecting_snapshot(snap_compare, fault_node: Any) -> None:  # type: ignore[no-untyped-def]
    """The node was killed (SIGKILL) after a message: every receiver lost its
    connection and its first reconnect is in flight; so is the publisher's."""
    network = Network(int(fault_node.port))
    exchange = "snapshot-reconnecting"
    settings = RoutedSettings(urls=(SHOWN_URL,), exchange=exchange, receivers=3, network=network)
    app = SnapshotApp(settings)

    def reconnecting() -> bool:
        return all(
            p.state.state is WorkerState.RECONNECTING
            and p.state.attempt == 1
            and not p.state.detail
            and network.stalled[f"fanout-tui R{p.number}"] == 1
            for p in app.panes
        ) and "✗ connection lost" in shown(app, "#status")

    async def run_before(pilot: Pilot[Any]) -> None:
        await connected_with_messages(pilot, app)
        emit_log(node_url(fault_node), exchange)
        await settled(pilot, lambda: all(p.received == 2 for p in app.panes), "the tutorial's")
        fix_measurements(app)
        network.stalls = lambda name, nth: True  # every reconnect from now on stays in flight
        await asyncio.to_thread(fault_node.kill, True, signal.SIGKILL)
        await settled(pilot, reconnecting, "every worker reconnecting")

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
    finally:
        network.close()
