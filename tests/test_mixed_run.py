"""The long mixed run: 200,000 messages over 8 receivers while their connections
are closed at random moments, and the links of half of them turn slow and thin
(200 ms each way, 50 KB/s) or silent (a blackhole, every socket left open) for
a few seconds at a time: four receivers reach the node through a fault proxy
each (tests/faultproxy.py). Afterwards every
receiver must hold exactly what was published while it was connected: within
each connection an unbroken run of sequence numbers, never a duplicate, never
out of order, and gaps only where it reconnected (exclusive queues lose what is
published in between, and what was still waiting in the queue when the
connection dropped, by design). A slow link costs nothing: a receiver only
ever slowed down ends with every message.

This checks the AMQP layer the panes are fed from; the panes keep a bounded
scrollback, so they cannot hold 200,000 lines to check.
"""

from __future__ import annotations

import random
import re
import threading
from typing import Any
from urllib.parse import urlsplit

import pika
import pytest
from faultproxy import FaultProxy
from helpers import wait_for

from fanout_tui.model.delivery import SEQ_HEADER
from fanout_tui.model.mailbox import Mailbox
from fanout_tui.model.states import WorkerState
from fanout_tui.transport.broker import BrokerSettings
from fanout_tui.transport.receiver import ReceiverWorker

RECEIVERS = 8
PROXIED = 4  # the last four receivers reach the node through a fault proxy each
MESSAGES = 200_000
SLOW = {"delay": 0.2, "rate": 50_000}  # a slow, thin link: 200 ms each way, 50 KB/s
HEARTBEAT = 2  # the proxied receivers': a slow link must not look dead
_NAME = re.compile(r'connection_name","fanout-tui (R\d+)"')


def _publish(url: str, exchange: str, count: int, chaos_done: threading.Event) -> None:
    """``count`` numbered messages; the last tenth only once the chaos has done
    its share (or two minutes passed), so the faults land while messages flow
    however fast this machine publishes."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    for seq in range(1, count + 1):
        if seq == count - count // 10:
            waited = 0.0
            while not chaos_done.is_set() and waited < 120:
                connection.sleep(0.5)  # keeps the connection serviced while waiting
                waited += 0.5
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


def _proxies(url: str, count: int) -> list[FaultProxy]:
    """``count`` fault proxies to the node of ``url`` (the caller closes them;
    if one fails to start, those made already are closed here)."""
    parts = urlsplit(url)
    made: list[FaultProxy] = []
    try:
        for _ in range(count):
            made.append(FaultProxy(parts.hostname or "127.0.0.1", parts.port or 5672))
    except BaseException:
        for proxy in made:
            proxy.close()
        raise
    return made


@pytest.mark.timeout(420)
def test_mixed_run_every_receiver_gets_exactly_what_it_was_connected_for(
    broker_url: str, broker_node: Any, exchange: str
) -> None:
    broker = BrokerSettings(urls=(broker_url,), exchange=exchange)
    proxies = _proxies(broker_url, PROXIED)
    # Receiver i's proxy (None: straight to the node).
    paths: list[FaultProxy | None] = [None] * (RECEIVERS - PROXIED) + list(proxies)
    settings = [
        broker
        if path is None
        else BrokerSettings(urls=(path.url(broker_url),), exchange=exchange, heartbeat=HEARTBEAT)
        for path in paths
    ]
    boxes = [Mailbox(max_deliveries=MESSAGES, max_events=10_000) for _ in range(RECEIVERS)]
    workers = [ReceiverWorker(settings[i], box, name=f"R{i + 1}") for i, box in enumerate(boxes)]
    seqs: list[list[int]] = [[] for _ in range(RECEIVERS)]
    sessions: list[list[int]] = [[] for _ in range(RECEIVERS)]  # index where each starts
    closed: list[str] = []
    slowed: list[str] = []
    blackholed: list[str] = []
    done = threading.Event()
    enough = threading.Event()  # the chaos did at least what the asserts below need
    rng = random.Random(1234)

    def spoil(index: int, seconds: float, **link: Any) -> None:
        """Receiver ``index``'s link spoiled for ``seconds`` (or until the run ends)."""
        path = paths[index]
        assert path is not None
        path.set(**link)
        try:
            done.wait(seconds)
        finally:
            path.clear()

    def chaos() -> None:
        while not done.wait(rng.uniform(1.0, 3.0)):
            if len(closed) >= 5 and len(slowed) >= 3 and len(blackholed) >= 2:
                enough.set()
            action = rng.random()
            if action < 0.4:
                name = _close_random_receiver(broker_node, rng)
                if name:
                    closed.append(name)
                continue
            index = rng.randrange(RECEIVERS - PROXIED, RECEIVERS)
            if action < 0.7:
                slowed.append(f"R{index + 1}")
                spoil(index, rng.uniform(1.0, 3.0), **SLOW)
            else:
                # Longer than 2 x heartbeat: the receiver must notice, drop the
                # connection and come back on a new queue once the path returns.
                blackholed.append(f"R{index + 1}")
                spoil(index, rng.uniform(3.0, 6.0), blackhole=True)

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
        publisher = threading.Thread(target=_publish, args=(broker_url, exchange, MESSAGES, enough))
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
        for proxy in proxies:
            proxy.close()

    assert len(closed) >= 5, f"too few connections were closed: {closed}"
    assert len(slowed) >= 3, f"too few links were slowed: {slowed}"
    assert len(blackholed) >= 2, f"too few links were blackholed: {blackholed}"
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
        if f"R{i + 1}" not in closed + blackholed:
            assert reconnects == 0 and len(got) == MESSAGES, f"R{i + 1} lost messages"
    assert sum(len(s) - 1 for s in sessions) >= 5
