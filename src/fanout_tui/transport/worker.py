"""What every worker thread shares: how it is stopped, and how it reconnects.

A :class:`Worker` is a daemon thread that any thread may ask to stop without
waiting (:meth:`Worker.request_stop`, to stop many at once) or stop and join
within a bound (:meth:`Worker.stop`). The thread itself never blocks past a
stop: it waits on :meth:`Worker.sleep`, or a subclass's :meth:`Worker.wake`
interrupts whatever else its loop waits on.

:class:`Reconnect` is the one retry policy of the workers that reconnect:
every failure moves to the next node and waits longer before trying again.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence

from ..model.states import WorkerState

STOP_TIMEOUT = 2.0  # what stop() waits by default; a stop must never hang the caller
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 10.0


class Worker(threading.Thread):
    """A daemon thread that runs until it is done or asked to stop."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._stop_event = threading.Event()

    # Any thread ----------------------------------------------------------------
    def request_stop(self) -> None:
        """Ask the thread to finish without waiting for it (to stop many at once).

        Safe before the thread starts: it then ends as soon as it runs.
        """
        self._stop_event.set()
        self.wake()

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Ask the thread to finish and wait up to ``timeout``; True if it ended."""
        self.request_stop()
        self.join(timeout)
        return not self.is_alive()

    @property
    def stopping(self) -> bool:
        """A stop was asked for (the thread may still be finishing)."""
        return self._stop_event.is_set()

    def wake(self) -> None:
        """Interrupt what the thread's loop is waiting on, so it looks at its
        flags at once. Called from any thread; must not block. A worker that
        waits only in :meth:`sleep` needs nothing more."""

    # Worker thread -------------------------------------------------------------
    def sleep(self, seconds: float) -> bool:
        """Wait up to ``seconds``, ending early on a stop; True if stopping."""
        return self._stop_event.wait(seconds)


def backoff_delay(attempt: int) -> float:
    """Exponential backoff with full jitter in its upper half: 0.5 s up to 10 s.

    The jitter keeps many workers that lost the same broker from retrying in step.
    """
    ceiling = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(attempt - 1, 0))
    return float(ceiling / 2 + random.random() * ceiling / 2)


def retrying(reason: str, delay: float) -> str:
    """A failure's detail while the worker waits to try again."""
    return f"{reason}; retrying in {delay:.1f}s"


class Reconnect:
    """Which node a worker tries next, and how long it waits first.

    Every failure moves to the next of ``urls`` (so a cluster's other nodes are
    tried in turn) and counts an attempt; the count, which lengthens the
    backoff, starts again once a connection works. Used by one thread only.
    """

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = urls
        self.attempt = 0  # failures since the last connection that worked
        self._node = 0

    @property
    def url(self) -> str:
        """The node to try now."""
        return self.urls[self._node % len(self.urls)]

    @property
    def state(self) -> WorkerState:
        """What trying now is called: connecting at first, reconnecting after a failure."""
        return WorkerState.CONNECTING if self.attempt == 0 else WorkerState.RECONNECTING

    def succeeded(self) -> None:
        self.attempt = 0

    def failed(self) -> float:
        """A connect, or a connection, failed: move to the next node; the seconds
        to wait before trying it."""
        self.attempt += 1
        self._node += 1
        return backoff_delay(self.attempt)

    def lost(self) -> None:
        """A working connection died: the next try, on the same node and at once,
        counts as a reconnect."""
        self.attempt = max(self.attempt, 1)
