"""Subscriber kinds side by side in the dashboard, on a private node of the test's
own (it closes every connection and lists the queues left behind).

What a person sees is what is checked: each pane's lines, title, stats line
and the result line, after the connections are pulled.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pika
import pytest
from conftest import node_url
from helpers import running_app, unique_exchange, until
from test_app import has_line, result_text, type_and_publish

from fanout_tui.model.receiver_spec import parse_spec
from fanout_tui.model.states import WorkerState
from fanout_tui.settings import Settings
from fanout_tui.ui.app import FanoutApp

pytestmark = pytest.mark.timeout(180)


def specs(*texts: str) -> dict[str, Any]:
    parsed = tuple(parse_spec(text) for text in texts)
    return {"receivers": len(parsed), "receiver_specs": parsed}


def queues_on(node: Any) -> list[str]:
    """Every queue on the node, by name (rabbitmqctl, as an operator would look)."""
    out = node.rabbitctl_output("list_queues", "name", "--quiet", "--no-table-headers")
    return [line.strip() for line in str(out).splitlines() if line.strip()]


def tutorial_publish(url: str, exchange: str, body: bytes) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        connection.channel().basic_publish(exchange=exchange, routing_key="", body=body)
    finally:
        connection.close()


def bodies(pane: Any) -> list[str]:
    return [d.body.decode() for d in pane.deliveries()]


def all_bound(app: FanoutApp) -> bool:
    return all(p.state.state is WorkerState.CONSUMING for p in app.panes) and (
        app.dashboard.publisher.state.state is WorkerState.READY
    )


async def test_kinds_side_by_side_across_pulled_connections(fault_node: Any, exchange: str) -> None:
    url = node_url(fault_node)
    kinds = specs(
        "exclusive",
        "durable",
        "shared:name=jobs",
        "shared:name=jobs",
        "stream:offset=first",
    )
    async with running_app(url, exchange=exchange, timeout=60, **kinds) as (app, pilot):
        exclusive, durable, shared_a, shared_b, stream = app.panes
        assert "shared 'jobs' · 1 of 2" in str(shared_a.border_title)
        assert "shared 'jobs' · 2 of 2" in str(shared_b.border_title)
        for n in range(1, 11):
            await type_and_publish(pilot, f"before {n}")
        await until(pilot, lambda: len(bodies(durable)) == 10 and len(bodies(stream)) == 10)
        await until(pilot, lambda: len(bodies(shared_a)) + len(bodies(shared_b)) == 10)
        assert "2/2 receivers" not in result_text(app)
        assert "5/5" not in result_text(app)  # the work queue is one subscriber: 4 of them

        await asyncio.to_thread(fault_node.rabbitctl_output, "close_all_connections", "test")
        # While they reconnect, publish again: durable, shared and stream keep it.
        await until(pilot, lambda: app.dashboard.publisher.state.state is WorkerState.READY, 30)
        for n in range(1, 11):
            await type_and_publish(pilot, f"during {n}")
        await until(pilot, lambda: all_bound(app), 40)
        for n in range(1, 6):
            await type_and_publish(pilot, f"after {n}")

        def complete(pane: Any) -> bool:
            return sum(1 for b in bodies(pane) if b.startswith("after")) == 5

        await until(pilot, lambda: complete(durable) and complete(stream), 30)
        expected = [f"before {n}" for n in range(1, 11)]
        expected += [f"during {n}" for n in range(1, 11)] + [f"after {n}" for n in range(1, 6)]
        # Durable and stream: everything, once, in order, across the pulled connections.
        assert bodies(durable) == expected
        assert bodies(stream) == expected
        assert has_line(durable, "kept what was published meanwhile")
        # The work queue: every message once among its two panes.
        await until(pilot, lambda: len(bodies(shared_a)) + len(bodies(shared_b)) == 25, 30)
        assert sorted(bodies(shared_a) + bodies(shared_b)) == sorted(expected)
        # The exclusive pane lost what was published while it reconnected, and says so.
        got = bodies(exclusive)
        assert got[:10] == expected[:10] and got[-5:] == expected[-5:]
        assert has_line(exclusive, "reconnected — new queue")
        # Each stream line shows its offset.
        assert all(d.headers.get("x-stream-offset") is not None for d in stream.deliveries())

        made = [p.receiver.worker.queue for p in (durable, shared_a, stream)]
        assert set(made) <= set(await asyncio.to_thread(queues_on, fault_node))
    # Quit: nothing the app created is left.
    left = await asyncio.to_thread(queues_on, fault_node)
    assert not [q for q in left if q in made or q.startswith("amq.gen")], left


async def test_a_slow_bounded_receiver_counts_what_the_broker_dropped(
    broker_url: str, exchange: str
) -> None:
    kinds = specs("exclusive", "exclusive:max-length=10")
    async with running_app(broker_url, exchange=exchange, **kinds) as (app, pilot):
        full, bounded = app.panes
        app.toggle_pause(bounded)
        await until(pilot, lambda: bounded.state.state is WorkerState.PAUSED)
        for n in range(1, 51):
            await type_and_publish(pilot, f"m{n}")
        await until(pilot, lambda: len(bodies(full)) == 50)
        app.toggle_pause(bounded)
        await until(pilot, lambda: len(bodies(bounded)) == 10, 20)
        assert bodies(bounded) == [f"m{n}" for n in range(41, 51)]
        line = "dropped by the broker: 40 (max-length 10, drop-head)"
        await until(pilot, lambda: line in bounded.stats.render().plain, 10)


async def test_reject_publish_names_the_full_queue_while_the_others_got_it(
    broker_url: str, exchange: str
) -> None:
    kinds = specs("exclusive", "exclusive:max-length=2,overflow=reject-publish", "exclusive")
    async with running_app(broker_url, exchange=exchange, **kinds) as (app, pilot):
        full = app.panes[1]
        app.toggle_pause(full)
        await until(pilot, lambda: full.state.state is WorkerState.PAUSED)
        for n in (1, 2, 3):
            await type_and_publish(pilot, f"r{n}")
        await until(
            pilot,
            lambda: result_text(app).startswith(
                '#3 "r3" → nacked: R2\'s queue is full (reject-publish); 2 others got it'
            ),
            20,
        )


async def test_the_queue_cap_drops_and_says_so(broker_url: str, exchange: str) -> None:
    async with running_app(broker_url, exchange=exchange, receivers=1, queue_cap=20) as (
        app,
        pilot,
    ):
        [pane] = app.panes
        app.toggle_pause(pane)
        await until(pilot, lambda: pane.state.state is WorkerState.PAUSED)
        for n in range(1, 31):
            await type_and_publish(pilot, f"c{n}")
        app.toggle_pause(pane)
        await until(pilot, lambda: len(bodies(pane)) == 20, 20)
        line = "dropped by the broker: 10 (queue cap 20, drop-head (queue_cap))"
        await until(pilot, lambda: line in pane.stats.render().plain, 10)
        assert "R1 dropped by the broker" in result_text(app) or bodies(pane)[-1] == "c30"


async def test_a_kept_queue_is_left_and_found_again(fault_node: Any, exchange: str) -> None:
    url = node_url(fault_node)
    kinds = specs("durable:name=kept-q,keep=yes")
    async with running_app(url, exchange=exchange, **kinds) as (app, pilot):
        await type_and_publish(pilot, "first run")
        await until(pilot, lambda: bodies(app.panes[0]) == ["first run"])
    assert "kept-q" in await asyncio.to_thread(queues_on, fault_node)
    # Published while no dashboard runs: the kept queue holds it for the next start.
    await asyncio.to_thread(tutorial_publish, url, exchange, b"between runs")
    async with running_app(url, exchange=exchange, **kinds) as (app, pilot):
        await type_and_publish(pilot, "second run")
        await until(pilot, lambda: bodies(app.panes[0]) == ["between runs", "second run"])
    assert "kept-q" in await asyncio.to_thread(queues_on, fault_node)
    await asyncio.to_thread(fault_node.rabbitctl_output, "delete_queue", "kept-q")


async def test_a_failed_panes_whole_reason_is_one_enter_away_in_a_narrow_pane(
    broker_url: str, pika_connection: pika.BlockingConnection
) -> None:
    name = f"narrow-{time.monotonic_ns()}"
    pika_connection.channel().queue_declare(name, durable=True, arguments={"x-max-length": 5})
    try:
        app = FanoutApp(
            Settings(
                urls=(broker_url,), exchange=unique_exchange(), **specs(f"durable:name={name}")
            )
        )
        async with app.run_test(size=(50, 20)) as pilot:
            (pane,) = app.panes
            await until(pilot, lambda: pane.state.state is WorkerState.FAILED, 15)
            reason = "x-max-length is 5 there; this pane asks for none"
            view = pane.view
            rows = " ".join(view.render_line(y).text for y in range(view.size.height))
            assert has_line(pane, reason) and reason not in rows  # cut at the pane's width
            pane.focus()
            await pilot.press("enter")  # the newest line: the reason

            await until(
                pilot,
                lambda: any(reason in str(n.message) for n in app._notifications),
                5,
                what="the whole reason shown",
            )
    finally:
        pika_connection.channel().queue_delete(name)
