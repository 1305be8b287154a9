"""The dashboard on a real three-node cluster (``rabbitmq_cluster``): receivers
spread over the nodes, and one node stopped under them.

The exclusive queues die with their node, and the panes say so; a durable
quorum receiver (``durable:type=quorum``) keeps every message across the loss
of its node.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from helpers import running_app, until
from nodes import Cluster
from test_app import has_line, result_text, status_text, type_and_publish

from fanout_tui.model.receiver_spec import parse_spec
from fanout_tui.model.states import WorkerState
from fanout_tui.transport.broker import node_of

RECOVERY = 40.0  # backoff tops out at 10 s


def _nodes(app: Any) -> list[str]:
    return [node_of(pane.state.url) for pane in app.panes]


@pytest.mark.timeout(240)
async def test_spread_receivers_on_three_nodes_and_lose_one(
    rabbitmq_cluster: Cluster, exchange: str
) -> None:
    cluster = rabbitmq_cluster
    nodes = [node_of(url) for url in cluster.urls]
    async with running_app(
        cluster.urls[0],
        receivers=6,
        exchange=exchange,
        timeout=60,
        urls=cluster.urls,
        spread=True,
    ) as (app, pilot):
        # Round-robin: R1 on the first node, R2 on the second, ... R4 on the first again.
        assert _nodes(app) == nodes + nodes
        for pane, node in zip(app.panes, nodes + nodes, strict=True):
            assert node in str(pane.border_subtitle)
        header = status_text(app)
        assert nodes[0] in header and "+2 nodes, receivers spread" in header
        assert "guest:guest" not in header

        await type_and_publish(pilot, "to every node")
        await until(pilot, lambda: all(has_line(p, "to every node") for p in app.panes))
        await until(pilot, lambda: result_text(app).startswith('#1 "to every node" → 6/6'))

        on_second = [app.panes[1], app.panes[4]]
        others = [p for p in app.panes if p not in on_second]
        kept = {p.number: p.state.queue for p in others}
        await asyncio.to_thread(cluster.nodes[1].stop_app)
        try:
            # The panes on the stopped node move on to the next node, the third,
            # and say that their exclusive queues died with the node.
            await until(
                pilot,
                lambda: all(
                    p.state.state is WorkerState.CONSUMING and node_of(p.state.url) == nodes[2]
                    for p in on_second
                ),
                timeout=RECOVERY,
            )
            for pane in on_second:
                assert has_line(
                    pane,
                    f"node {nodes[1]} shut down and its exclusive queue died with the node; "
                    f"reconnected on node {nodes[2]} — new queue",
                )
                assert nodes[2] in str(pane.border_subtitle)
            # The other panes never noticed: same nodes, same queues.
            assert {p.number: p.state.queue for p in others} == kept
            assert all(p.state.state is WorkerState.CONSUMING for p in others)

            await until(pilot, lambda: app.dashboard.publisher.state.state is WorkerState.READY)
            await type_and_publish(pilot, "after the node went")
            await until(pilot, lambda: all(has_line(p, "after the node went") for p in app.panes))
            assert all(p.received == 2 for p in app.panes)
        finally:
            await asyncio.to_thread(cluster.nodes[1].start_app)


@pytest.mark.timeout(240)
async def test_a_quorum_receiver_keeps_every_message_across_the_loss_of_its_node(
    rabbitmq_cluster: Cluster, exchange: str
) -> None:
    cluster = rabbitmq_cluster
    nodes = [node_of(url) for url in cluster.urls]
    queue = f"quorum-{exchange}"
    kinds = (parse_spec("exclusive"), parse_spec(f"durable:name={queue},type=quorum"))
    async with running_app(
        cluster.urls[0],
        receivers=2,
        receiver_specs=kinds,
        exchange=exchange,
        timeout=60,
        urls=cluster.urls,
        spread=True,
    ) as (app, pilot):
        quorum = app.panes[1]
        assert node_of(quorum.state.url) == nodes[1]  # R2 on the second node
        assert "durable" in str(quorum.border_title) and "quorum" in str(quorum.border_title)
        for n in range(1, 21):
            await type_and_publish(pilot, f"q{n}")
        await until(pilot, lambda: len(quorum.deliveries()) == 20)

        await asyncio.to_thread(cluster.nodes[1].stop_app)
        try:
            # Published while the pane's node is gone: the queue's other members keep it.
            for n in range(21, 41):
                await type_and_publish(pilot, f"q{n}")
            await until(
                pilot,
                lambda: (
                    quorum.state.state is WorkerState.CONSUMING
                    and node_of(quorum.state.url) != nodes[1]
                ),
                timeout=RECOVERY,
            )
            for n in range(41, 51):
                await type_and_publish(pilot, f"q{n}")
            await until(pilot, lambda: len(quorum.deliveries()) >= 50, timeout=RECOVERY)
            bodies = [d.body.decode() for d in quorum.deliveries()]
            assert bodies == [f"q{n}" for n in range(1, 51)]  # every one, once, in order
            assert has_line(quorum, f"queue '{queue}' kept what was published meanwhile")
            assert not has_line(quorum, "were not delivered here")
        finally:
            await asyncio.to_thread(cluster.nodes[1].start_app)
