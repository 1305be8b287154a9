"""The lifecycle and the reconnect policy every worker shares (transport/worker.py).

The workers themselves are tested against a real broker (test_amqp.py,
test_reliability.py); this is the policy alone, which touches no network.
"""

from __future__ import annotations

import threading
import time

from fanout_tui.model.states import WorkerState
from fanout_tui.transport.worker import BACKOFF_MAX, Reconnect, Worker, backoff_delay, retrying


def test_every_failure_moves_to_the_next_node_and_waits_longer() -> None:
    reconnect = Reconnect(("amqp://a", "amqp://b", "amqp://c"))
    assert (reconnect.url, reconnect.state, reconnect.attempt) == (
        "amqp://a",
        WorkerState.CONNECTING,
        0,
    )
    tried, delays = [], []
    for _ in range(4):
        delays.append(reconnect.failed())
        tried.append(reconnect.url)
    assert tried == ["amqp://b", "amqp://c", "amqp://a", "amqp://b"]
    assert reconnect.state is WorkerState.RECONNECTING
    assert reconnect.attempt == 4
    # Jittered within the upper half of 0.5 s, 1 s, 2 s, 4 s.
    for delay, ceiling in zip(delays, (0.5, 1.0, 2.0, 4.0), strict=True):
        assert ceiling / 2 <= delay <= ceiling


def test_a_working_connection_starts_the_count_again_on_the_same_node() -> None:
    reconnect = Reconnect(("amqp://a", "amqp://b"))
    reconnect.failed()
    reconnect.failed()
    reconnect.succeeded()
    assert (reconnect.url, reconnect.state, reconnect.attempt) == (
        "amqp://a",
        WorkerState.CONNECTING,
        0,
    )
    reconnect.lost()  # it died later: a reconnect, at once, where it was
    assert (reconnect.url, reconnect.state, reconnect.attempt) == (
        "amqp://a",
        WorkerState.RECONNECTING,
        1,
    )


def test_the_backoff_is_capped() -> None:
    assert all(BACKOFF_MAX / 2 <= backoff_delay(50) <= BACKOFF_MAX for _ in range(100))
    assert retrying("connection refused", 1.234) == "connection refused; retrying in 1.2s"


class _Sleeper(Worker):
    """Waits only in sleep(), as the burst does between paced batches."""

    def __init__(self) -> None:
        super().__init__("test sleeper")
        self.woken = threading.Event()

    def wake(self) -> None:
        self.woken.set()

    def run(self) -> None:
        while not self.sleep(60):
            pass


def test_stop_ends_a_sleeping_worker_at_once_and_calls_its_wake() -> None:
    worker = _Sleeper()
    worker.start()
    try:
        assert not worker.stopping
        started = time.monotonic()
        assert worker.stop() is True
        assert time.monotonic() - started < 1.0
        assert worker.stopping and worker.woken.is_set()
    finally:
        worker.request_stop()
        worker.join(5)
    assert not worker.is_alive()


def test_a_stop_requested_before_the_start_ends_it_as_soon_as_it_runs() -> None:
    worker = _Sleeper()
    worker.request_stop()
    worker.start()
    worker.join(5)
    assert not worker.is_alive()
