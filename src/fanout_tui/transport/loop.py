"""A worker thread that runs pika's asynchronous ``SelectConnection`` on its own IOLoop.

Each worker creates its IOLoop and every connection in its own thread, and
other threads reach it only through ``IOLoop.add_callback_threadsafe``
(:meth:`LoopWorker.wake`), the one pika call documented as safe from another
thread. Callbacks then run as each frame is parsed, with no event queue in
between, and nothing in the thread ever blocks on the broker: a stop is seen
at once, whatever the connection is doing.

A connection that is given up on (a dead network path, a connection that will
not close) is left to close on the same IOLoop while the worker goes on with a
new one, so a socket that no longer passes bytes never holds the worker up.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import pika
from pika.adapters.select_connection import IOLoop

from .errors import PathLost
from .worker import Worker

# How long a stopping worker gives its connection to close cleanly (Close and
# Close-Ok) before it ends its IOLoop anyway; below Worker.STOP_TIMEOUT, so a
# stop over a dead path still ends within the caller's bound.
CLOSE_GRACE = 1.0


class LoopWorker(Worker):
    """A :class:`Worker` whose thread runs an IOLoop until stopped.

    Subclasses implement :meth:`begin` (called once, in the thread, when the
    loop starts), :meth:`woken` (in the thread, after :meth:`wake`) and
    :meth:`shut_down` (in the thread, once a stop is asked for: close what is
    open, then call :meth:`finish`).
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._ioloop: IOLoop | None = None
        self._finished = False
        self._connection: Any = None  # the one in use (worker thread only)

    # Any thread ----------------------------------------------------------------
    def wake(self) -> None:
        ioloop = self._ioloop
        if ioloop is not None:
            # Closed already (the thread is ending): nothing is left to wake.
            with contextlib.suppress(Exception):
                ioloop.add_callback_threadsafe(self._on_wake)

    # Worker thread -------------------------------------------------------------
    def run(self) -> None:
        ioloop = IOLoop()
        self._ioloop = ioloop
        ioloop.call_later(0, self._on_start)
        try:
            ioloop.start()
        except Exception as exc:  # a defect in a callback: say so rather than vanish
            self.crashed(exc)
        finally:
            self._ioloop = None
            if not self._finished:
                self.finished()
            ioloop.close()

    @property
    def ioloop(self) -> IOLoop:
        assert self._ioloop is not None, "used outside the worker thread"
        return self._ioloop

    def open_connection(
        self,
        parameters: pika.connection.Parameters,
        on_open: Callable[[Any], None],
        on_open_error: Callable[[Any, Any], None],
        on_closed: Callable[[Any, Any], None],
    ) -> pika.SelectConnection:
        """A new connection on this worker's IOLoop (callbacks run in this thread)."""
        return pika.SelectConnection(
            parameters,
            on_open_callback=on_open,
            on_open_error_callback=on_open_error,
            on_close_callback=on_closed,
            custom_ioloop=self.ioloop,
        )

    def _closed(self, connection: Any, reason: BaseException) -> None:
        """The connection closed, or could not be opened (pass this as both
        callbacks of :meth:`open_connection`): the end when it was closed on
        purpose, else a failure to recover from."""
        if connection is not self._connection:
            return  # one given up on earlier, closing at last
        self._connection = None
        if self.stopping or self.closing_for_good:
            self.finish()
        else:
            self._failed(reason)

    @property
    def closing_for_good(self) -> bool:
        """Closing by its own choice, not asked to stop (a burst that is done)."""
        return False

    def _failed(self, exc: BaseException) -> None:
        """The connection failed: retry, or give up."""
        raise NotImplementedError

    def _on_start(self) -> None:
        if self.stopping:
            self.finish()
        else:
            self.begin()

    def _on_wake(self) -> None:
        if self._finished:
            return
        if self.stopping:
            # A last resort: the connection may never answer a Close.
            self.ioloop.call_later(CLOSE_GRACE, self.finish)
            self.shut_down()
        else:
            self.woken()

    def finish(self) -> None:
        """End the IOLoop (once); :meth:`finished` runs first."""
        if self._finished:
            return
        self._finished = True
        self.finished()
        self.ioloop.stop()

    def begin(self) -> None:
        """The loop runs: open the first connection."""

    def woken(self) -> None:
        """Another thread called :meth:`wake` and no stop was asked for."""

    def shut_down(self) -> None:
        """A stop was asked for: close what is open, then :meth:`finish`."""
        self.finish()

    def finished(self) -> None:
        """The thread is about to end (report a final state here)."""

    def crashed(self, exc: Exception) -> None:
        """A callback raised ``exc`` and ended the IOLoop; :meth:`finished` follows."""


def close_quietly(connection: Any) -> None:
    """Start closing ``connection`` if it is open.

    One still opening is left alone: closing it mid-handshake trips an assertion
    inside pika; abandoned, it ends with its handshake timeout, or with the
    IOLoop.
    """
    if connection is not None and connection.is_open:
        with contextlib.suppress(Exception):
            connection.close()


class Liveness:
    """Notices a network path that stopped passing bytes while the socket stays open.

    The broker sends a heartbeat at least every half heartbeat interval when it
    has nothing else to send, so a connection that received no byte for two
    intervals has lost its path. pika's own check would take up to two of its
    check periods (the interval plus 5 s each). This one looks at the
    connection's byte count a few times per interval and calls ``on_dead`` with
    the seconds of silence; it does nothing when heartbeats are off.
    """

    def __init__(self, connection: Any, heartbeat: float, on_dead: Callable[[float], None]) -> None:
        self._connection = connection
        self._heartbeat = heartbeat
        self._on_dead = on_dead
        self._seen = connection.bytes_received
        self._since = time.monotonic()
        self._timer: Any = None
        self._exempt: Callable[[], bool] = lambda: False
        if heartbeat > 0:
            self._schedule()

    @classmethod
    def of(cls, connection: Any, on_lost: Callable[[PathLost], None]) -> Liveness:
        """A watch at the heartbeat the connection negotiated, reporting a lost
        path as :class:`PathLost`, as every worker reports it."""
        heartbeat = float(connection.params.heartbeat or 0)
        return cls(connection, heartbeat, lambda silence: on_lost(PathLost(silence, heartbeat)))

    @property
    def limit(self) -> float:
        """Seconds of silence after which the path counts as lost."""
        return 2 * self._heartbeat

    def exempt_while(self, condition: Callable[[], bool]) -> None:
        """Never declare the path dead while ``condition()`` holds (a connection
        the broker deliberately stops reading from may also go quiet)."""
        self._exempt = condition

    def _schedule(self) -> None:
        tick = min(self._heartbeat / 4, 1.0)
        self._timer = self._connection.ioloop.call_later(tick, self._check)

    def _check(self) -> None:
        self._timer = None
        now = time.monotonic()
        received = self._connection.bytes_received
        if received != self._seen or self._exempt():
            self._seen, self._since = received, now
        elif now - self._since > self.limit:
            self._on_dead(now - self._since)
            return
        self._schedule()

    def stop(self) -> None:
        if self._timer is not None:
            with contextlib.suppress(Exception):
                self._connection.ioloop.remove_timeout(self._timer)
            self._timer = None
