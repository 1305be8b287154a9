"""The bindings panel in a minimal Textual app: with a real management API it lists
another program's queue as not this app's; without one it says so and lists this
app's own bindings. Names are shown as plain text, never as markup."""

from __future__ import annotations

import socket
from typing import Any

import pika
import pytest
from helpers import bind_tutorial_queue, closed_port, until
from rich.text import Text
from textual.app import App
from textual.widgets import DataTable, Static

from fanout_tui.present.text import sanitize
from fanout_tui.transport.management import ManagementSettings, management_settings
from fanout_tui.ui.screens.bindings import NOT_OURS, BindingsScreen

SIZE = (130, 30)


class Host(App[None]):
    """Just enough app to show the screen."""

    def __init__(self, screen: BindingsScreen) -> None:
        super().__init__()
        self.bindings_screen = screen

    def on_mount(self) -> None:
        self.push_screen(self.bindings_screen)


def table_rows(screen: BindingsScreen) -> list[tuple[str, ...]]:
    table = screen.query_one("#bindings-table", DataTable)
    rows = []
    for index in range(table.row_count):
        cells = table.get_row_at(index)
        # Every cell is a Text: a str cell would be parsed as markup.
        assert all(isinstance(cell, Text) for cell in cells)
        rows.append(tuple(cell.plain for cell in cells))
    return rows


def shown(screen: BindingsScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_lists_another_programs_queue_as_not_this_apps(
    management_node: Any, node_connection: pika.BlockingConnection, exchange: str
) -> None:
    settings = management_settings(management_node.amqp_url, management_node.api_url)
    _, ours = bind_tutorial_queue(node_connection, exchange)
    _, theirs = bind_tutorial_queue(node_connection, exchange)
    own = {ours: "R1"}
    screen = BindingsScreen(exchange, settings, lambda: dict(own), refresh_interval=0.3)
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: screen.refreshes >= 1)
        assert screen.note == ""
        assert table_rows(screen) == [
            (exchange, ours, ours, "R1"),
            (exchange, theirs, theirs, NOT_OURS),
        ]
        assert "from the management API at http://guest@127.0.0.1:" in shown(
            screen, "#bindings-status"
        )
        # The screen's own .tcss was loaded: the panel has its border and width.
        panel = screen.query_one("#bindings")
        assert panel.styles.border_top[0] == "round"
        assert panel.outer_size.width == 120

        # It refreshes while open: a queue bound later shows up, one that goes away goes.
        _, later = bind_tutorial_queue(node_connection, exchange)
        own[later] = "R2"
        await until(pilot, lambda: any(row[1] == later for row in screen.rows))
        assert (exchange, later, later, "R2") in table_rows(screen)

        await pilot.press("escape")
        await until(pilot, lambda: app.screen is not screen)


async def test_without_the_api_it_says_why_and_lists_its_own_bindings() -> None:
    port = closed_port()
    settings = management_settings(
        "amqp://guest:Hush-Pw-7@127.0.0.1:5672/%2F", f"http://127.0.0.1:{port}"
    )
    evil = "[@click=app.quit]amq.gen-x[/]\x1b[2J"
    own = {"amq.gen-AAA": "R1", evil: "R2"}
    keys = {"amq.gen-AAA": ["kern.*", "*.critical"], evil: [""]}
    screen = BindingsScreen(
        "logs", settings, lambda: own, refresh_interval=0.3, own_bindings=lambda: keys
    )
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: screen.refreshes >= 1)
        assert screen.note == (
            f"management API not reachable at http://guest@127.0.0.1:{port}: connection refused "
            "(is the rabbitmq_management plugin enabled?); showing only this app's own "
            "bindings (other programs' bindings are not visible without it)"
        )
        assert "Hush-Pw-7" not in screen.note
        assert shown(screen, "#bindings-note") == screen.note
        assert screen.query_one("#bindings-note").display
        # Each binding with the key it was made with, never the queue's name.
        assert table_rows(screen) == [
            ("logs", "amq.gen-AAA", "kern.*", "R1"),
            ("logs", "amq.gen-AAA", "*.critical", "R1"),
            ("logs", sanitize(evil), "", "R2"),
        ]
        assert "\\x1b" in sanitize(evil)
        # Keeps trying: a later refresh happens and the panel stays open.
        await until(pilot, lambda: screen.refreshes >= 2)
        assert app.is_running
        await pilot.press("ctrl+b")
        await until(pilot, lambda: app.screen is not screen)


@pytest.mark.parametrize("key", ["escape", "q", "ctrl+b"])
async def test_each_close_key_closes_it(key: str) -> None:
    settings = ManagementSettings(url=f"http://127.0.0.1:{closed_port()}")
    screen = BindingsScreen("logs", settings, dict)
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: screen.refreshes >= 1)
        assert table_rows(screen) == []
        await pilot.press(key)
        await until(pilot, lambda: app.screen is not screen)


async def test_markup_in_the_exchange_name_is_not_parsed() -> None:
    settings = ManagementSettings(url=f"http://127.0.0.1:{closed_port()}")
    exchange = "[b]x[/b][@click=app.quit]"
    screen = BindingsScreen(exchange, settings, lambda: {"q1": "R1"})
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: screen.refreshes >= 1)
        assert exchange in shown(screen, "#bindings-title")
        assert table_rows(screen) == [(exchange, "q1", "", "R1")]  # bound with the empty key


async def test_with_several_nodes_it_names_the_node_each_queue_lives_on(
    management_node: Any, node_connection: pika.BlockingConnection, exchange: str
) -> None:
    settings = management_settings(management_node.amqp_url, management_node.api_url)
    _, ours = bind_tutorial_queue(node_connection, exchange)
    node_connection.channel().exchange_declare(exchange=f"{exchange}-to", exchange_type="fanout")
    node_connection.channel().exchange_bind(destination=f"{exchange}-to", source=exchange)
    screen = BindingsScreen(
        exchange, settings, lambda: {ours: "R1"}, refresh_interval=0.3, show_nodes=True
    )
    app = Host(screen)
    port = management_node.amqp_url.rsplit(":", 1)[1].split("/")[0]
    node = f"rabbitmq-mgmt-{port}@{socket.gethostname().split('.')[0]}"
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: screen.refreshes >= 1)
        assert screen.note == ""
        assert screen.nodes == {ours: node}  # the API's word, for the queues shown
        # A queue's node in the last column; an exchange bound to it has none.
        assert table_rows(screen) == [
            (exchange, ours, ours, "R1", node),
            (exchange, f"{exchange}-to (exchange)", "", NOT_OURS, ""),
        ]
    node_connection.channel().exchange_delete(exchange=f"{exchange}-to")
