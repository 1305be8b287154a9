"""Where focus goes: three stops, and typing always to the message.

Tab goes key field → message → panes (the one last focused) → key field;
shift+tab back, so one shift+tab from whichever pane reaches the message and
two the key field. Left and right move between panes. Enter in the key field
goes on to the message; a key typed on a pane goes to the message input, never
to the key field.
"""

from __future__ import annotations

from typing import Any

import pika
from helpers import running_app, unique_exchange, until

from fanout_tui.model.history import Entry
from fanout_tui.ui.widgets.publish_input import PublishInput, RoutingKeyInput


def focused(app: Any) -> str:
    widget = app.screen.focused
    return f"{type(widget).__name__}#{widget.id}" if widget is not None else "nothing"


async def test_focus_moves_in_screen_order_and_the_key_reaches_the_key_field(
    broker_url: str, pika_connection: pika.BlockingConnection
) -> None:
    exchange = unique_exchange()
    pika_connection.channel().exchange_declare(exchange, "topic")
    async with running_app(broker_url, receivers=3, exchange=exchange) as (app, pilot):
        key, message = app.query_one(RoutingKeyInput), app.query_one(PublishInput)
        await until(pilot, lambda: key.display, 10, what="the key field shown on a topic exchange")
        panes = app.panes
        await pilot.press(*"first", "enter")  # a line to open
        await until(pilot, lambda: panes[1].deliveries(), 10, what="a delivery on R2")

        # The path: a detail screen, escape, then back to the key field.
        panes[1].focus()
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is not app.screen_stack[0], 5, what="the detail")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen.focused is panes[1], 5, what="R2 focused again")
        await pilot.press("shift+tab")
        assert app.screen.focused is message, focused(app)  # from any pane: the message
        await pilot.press("shift+tab")
        assert app.screen.focused is key
        await pilot.press(*"a.x", "tab", *"hello")
        assert (key.value, message.value) == ("a.x", "hello")
        assert app.screen.focused is message
        await pilot.press("tab")
        assert app.screen.focused is panes[1]  # on from the message: the pane last focused
        await pilot.press("right", "right")
        assert app.screen.focused is panes[0]  # right from the last pane wraps
        await pilot.press("left")
        assert app.screen.focused is panes[2]
        await pilot.press("tab")
        assert app.screen.focused is key  # on from the panes: the key field

        # Enter in the key field goes to the message; typing on a pane goes there too.
        await pilot.press("enter")
        assert app.screen.focused is message
        panes[0].focus()
        await pilot.press(*"!")
        assert (key.value, message.value) == ("a.x", "hello!"), focused(app)
        await pilot.press("enter")
        await until(pilot, lambda: message.value == "", 5, what="the message published")
        assert app.dashboard.history.entries[-1] == Entry("hello!", "a.x")  # sent with the key
