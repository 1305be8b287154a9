"""The dashboard's state driven without any UI: receivers, publishing, tracking,
pause, and what a failing connection adds to a pane. Real broker, no Textual
(test_architecture.py checks that control/ loads none)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import closed_port, wait_for

from fanout_tui.control.dashboard import Dashboard
from fanout_tui.control.receiver import Receiver
from fanout_tui.model.mailbox import Mailbox
from fanout_tui.model.outcomes import Outcome
from fanout_tui.model.states import StateChange, WorkerState
from fanout_tui.model.tracking import DeliveryTracker
from fanout_tui.settings import Settings
from fanout_tui.transport.broker import BrokerSettings
from fanout_tui.transport.receiver import ReceiverWorker


@pytest.fixture
def dashboard(broker_url: str, exchange: str, tmp_path: Path) -> Iterator[Dashboard]:
    board = Dashboard(Settings(urls=(broker_url,), exchange=exchange), tmp_path / "history")
    board.start()
    yield board
    board.stop()
    assert not board.publisher.is_alive()


def pump(board: Dashboard) -> list[str]:
    """What a drain does for each receiver; every line it would add to a pane."""
    lines = []
    for receiver in board.receivers:
        collected = board.collect(receiver, 0.0)
        lines.extend(collected.lines)
        receiver.mailbox.drain_deliveries()
    board.take_results()
    return lines


def all_consuming(board: Dashboard) -> bool:
    pump(board)
    return all(r.state.state is WorkerState.CONSUMING for r in board.receivers)


def test_a_publish_is_tracked_to_every_receiver(dashboard: Dashboard) -> None:
    for _ in range(2):
        assert dashboard.add_receiver() is not None
    wait_for(lambda: all_consuming(dashboard), what="both receivers consuming")
    seq = dashboard.publish("hello")
    message = dashboard.tracker.get(seq)
    assert message is not None

    def reached_both() -> bool:
        pump(dashboard)
        return message.outcome is Outcome.ROUTED and set(message.got) == {1, 2}

    wait_for(reached_both, what="the message tracked to R1 and R2")
    result = dashboard.result()
    assert result is not None
    text, severity = result
    assert text.startswith(f'#{seq} "hello" → 2/2 receivers')
    assert severity == "ok"


def test_a_paused_receiver_is_named_and_gets_the_backlog_on_resume(dashboard: Dashboard) -> None:
    first, second = dashboard.add_receiver(), dashboard.add_receiver()
    assert isinstance(first, Receiver) and isinstance(second, Receiver)
    wait_for(lambda: all_consuming(dashboard), what="both receivers consuming")
    dashboard.toggle_pause(second)
    wait_for(lambda: pump(dashboard) == [] and second.state.state is WorkerState.PAUSED)
    seq = dashboard.publish("while paused")
    message = dashboard.tracker.get(seq)
    assert message is not None
    wait_for(lambda: not pump(dashboard) and 1 in message.got, what="R1 got it")
    wait_for(lambda: not pump(dashboard) and second.state.waiting == 1, what="R2's queue holds 1")
    result = dashboard.result()
    assert result is not None and "R2 paused, waiting in its queue" in result[0]
    dashboard.toggle_pause(second)
    wait_for(lambda: not pump(dashboard) and 2 in message.got, what="R2 got the backlog")


def test_a_refused_connection_is_said_once_per_reason(tmp_path: Path) -> None:
    url = f"amqp://guest:guest@127.0.0.1:{closed_port()}/%2F"
    board = Dashboard(Settings(urls=(url,)), tmp_path / "history")
    board.start()
    try:
        receiver = board.add_receiver()
        assert receiver is not None
        lines: list[str] = []

        def retried_twice() -> bool:
            lines.extend(pump(board))
            return receiver.state.attempt >= 2

        wait_for(retried_twice, timeout=20, what="two reconnect attempts")
        assert receiver.state.state is WorkerState.RECONNECTING
        assert len(lines) == 1 and lines[0].startswith("⚠ ") and "refused" in lines[0]
    finally:
        board.stop()


def test_removing_a_receiver_stops_its_thread(dashboard: Dashboard) -> None:
    receiver = dashboard.add_receiver()
    assert receiver is not None
    wait_for(lambda: all_consuming(dashboard))
    dashboard.remove_receiver(receiver)
    assert dashboard.receivers == []
    wait_for(lambda: not receiver.worker.is_alive(), timeout=5, what="the worker ended")


def _receiver_on_three_nodes() -> Receiver:
    urls = tuple(f"amqp://guest:pw@node-{n}:5672/%2F" for n in "abc")
    worker = ReceiverWorker(BrokerSettings(urls=urls), Mailbox())  # never started
    return Receiver(1, worker)


@pytest.mark.parametrize(
    ("reason", "said"),
    [
        (
            "the broker closed the connection at amqp://guest:***@node-a:5672/%2F: broker "
            "forced connection closure with reason 'shutdown' (320)",
            "node node-a:5672 shut down and its exclusive queue died with the node",
        ),
        (
            "connection lost at amqp://guest:***@node-a:5672/%2F",
            "lost the connection to node node-a:5672, and its exclusive queue with it",
        ),
    ],
)
def test_a_receiver_back_on_another_node_says_its_queue_died_with_the_old_one(
    reason: str, said: str
) -> None:
    receiver, tracker = _receiver_on_three_nodes(), DeliveryTracker()
    node_a, node_b = "amqp://guest:***@node-a:5672/%2F", "amqp://guest:***@node-b:5672/%2F"
    receiver.apply(StateChange(WorkerState.CONSUMING, queue="amq.gen-1", url=node_a), tracker)
    lost = receiver.apply(StateChange(WorkerState.RECONNECTING, reason, url=node_a), tracker)
    assert lost == [f"⚠ {reason}"]
    receiver.apply(StateChange(WorkerState.RECONNECTING, "connection refused", url=node_b), tracker)
    back = receiver.apply(
        StateChange(WorkerState.CONSUMING, queue="amq.gen-2", url=node_b), tracker
    )
    assert back == [
        f"{said}; reconnected on node node-b:5672 — new queue amq.gen-2; messages published "
        "meanwhile were not delivered here"
    ]
    assert not any("pw" in line for line in lost + back)
    # Back on the same node: the plain reconnect line, no node named.
    receiver.apply(StateChange(WorkerState.RECONNECTING, "connection lost", url=node_b), tracker)
    again = receiver.apply(
        StateChange(WorkerState.CONSUMING, queue="amq.gen-3", url=node_b), tracker
    )
    assert again[-1].startswith("reconnected — new queue amq.gen-3")
