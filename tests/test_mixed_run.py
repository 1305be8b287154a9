"""The long mixed run: 200,000 messages over 8 receivers while their connections
are closed at random moments. Afterwards every receiver must hold exactly what
was published while it was connected: within each connection an unbroken run
of sequence numbers, never a duplicate, never out of order, and gaps only where
it reconnected (exclusive queues lose what is published in between, and what
was still waiting in the queue when the connection dropped, by design).

This checks the AMQP layer the panes are fed from; the panes keep a bounded
scrollback, so they cannot hold 200,000 lines to check.
"""

from __future__ import annotations

import random
import re
import threading
from typing import Any

import pika
import pytest
from helpers import wait_for

from fanout_tui.model.delivery import SEQ_HEADER
from fanout_tui.model.mailbox import Mailbox
from fanout_tui.model.states import WorkerState
from fanout_tui.transport.broker import BrokerSettings
from fanout_tui.transport.receiver import ReceiverWorker

RECEIVERS = 8
MESSAGES = 200_000
_NAME = re.compile(r'connection_name","fanout-tui (R\d+)"')


def _publish(url: str, exchange: str, count: int) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    for seq in range(1, count + 1):
        props = pika.BasicProperties(headers={SEQ_HEADER: seq})
        channel.basic_publish(exchange=exchange, routing_key="", body=b"m", properties=props)
    connection.close()


def _close_random_receiver(node: Any, rng: random.Random) -> str | None:
    listing = node.rabbitctl_output(
        "list_connections", "pid", "client_properties", "--quiet", "--no-table-headers"
    )
    receivers = [
        (line.split("\t", 1)[0], match.group(1))
        for line in listing.splitlines()
        if (match := _NAME.search(line))
    ]
    if not receivers:
        return None
    pid, name = rng.choice(receivers)
    node.rabbitctl_output("close_connection", pid, "fault injection: mixed run")
    return name


@pytest.mark.timeout(420)
def test_mixed_run_every_receiver_gets_exactly_what_it_was_connected_for(
    broker_url: str, broker_node: Any, exchange: str
) -> None:
    broker = BrokerSettings(urls=(broker_url,), exchange=exchange)
    boxes = [Mailbox(max_deliveries=MESSAGES, max_events=10_000) for _ in range(RECEIVERS)]
    workers = [ReceiverWorker(broker, box, name=f"R{i + 1}") for i, box in enumerate(boxes)]
    seqs: list[list[int]] = [[] for _ in range(RECEIVERS)]
    sessions: list[list[int]] = [[] for _ in range(RECEIVERS)]  # index where each starts
    closed: list[str] = []
    done = threading.Event()
    rng = random.Random(1234)

    def chaos() -> None:
        while not done.wait(rng.uniform(1.0, 3.0)):
            name = _close_random_receiver(broker_node, rng)
            if name:
                closed.append(name)

    def collect() -> None:
        for i, box in enumerate(boxes):
            for event in box.drain_events():
                if event.state is WorkerState.CONSUMING and not event.note:
                    sessions[i].append(event.received)
            seqs[i].extend(d.headers[SEQ_HEADER] for d in box.drain_deliveries())

    try:
        for worker in workers:
            worker.start()
        wait_for(lambda: all(b.state.state is WorkerState.CONSUMING for b in boxes), 30)
        publisher = threading.Thread(target=_publish, args=(broker_url, exchange, MESSAGES))
        chaos_thread = threading.Thread(target=chaos)
        publisher.start()
        chaos_thread.start()
        publisher.join(300)
        assert not publisher.is_alive(), "the publisher did not finish"
        done.set()
        chaos_thread.join(30)

        # Everything published has been routed; let the receivers finish: each
        # has the last message, or reconnected after publishing ended (and so
        # will get nothing more).
        def finished() -> bool:
            collect()
            return all(
                b.pending == 0 and (s[-1:] == [MESSAGES] or sessions[i][-1] == len(s))
                for i, (s, b) in enumerate(zip(seqs, boxes, strict=True))
            )

        wait_for(finished, timeout=120)
    finally:
        done.set()
        for worker in workers:
            worker.request_stop()
        for worker in workers:
            worker.join(5)

    assert len(closed) >= 5, f"too few connections were closed: {closed}"
    for i in range(RECEIVERS):
        got = seqs[i]
        assert len(got) == boxes[i].received, f"R{i + 1}: deliveries dropped in the test"
        assert got, f"R{i + 1} received nothing"
        if sessions[i][-1] < len(got):
            # Its last connection got deliveries, so it was up at the end: it must
            # have everything up to the last message. (A connection closed after
            # publishing ended loses what was still queued, and the new one gets
            # nothing: exclusive queues die with their connection.)
            assert got[-1] == MESSAGES, f"R{i + 1} ends at {got[-1]}"
        starts = set(sessions[i])
        for k in range(1, len(got)):
            assert got[k] > got[k - 1], f"R{i + 1}: {got[k]} after {got[k - 1]} (dup/order)"
            if got[k] != got[k - 1] + 1:
                assert k in starts, (
                    f"R{i + 1}: gap {got[k - 1]}→{got[k]} at index {k} without a reconnect"
                )
        reconnects = len(sessions[i]) - 1
        if f"R{i + 1}" not in closed:
            assert reconnects == 0 and len(got) == MESSAGES, f"R{i + 1} lost messages"
    assert sum(len(s) - 1 for s in sessions) >= 5
