"""The dashboard's state driven without any UI: receivers, publishing, tracking,
pause, and what a failing connection adds to a pane. Real broker, no Textual
(test_architecture.py checks that control/ loads none)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import closed_port, wait_for

from fanout_tui.control.dashboard import Dashboard, Receiver
from fanout_tui.model.outcomes import Outcome
from fanout_tui.model.states import WorkerState
from fanout_tui.settings import Settings


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
