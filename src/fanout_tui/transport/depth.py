"""Queue depths, read live from a connection that consumes nothing.

A passive ``queue_declare`` answers with a queue's message and consumer
counts. On a consuming connection that reply would wait behind every delivery
in flight while pika buffers them all (measured earlier: 89 MB → 800 MB of RSS
over 1M deliveries), so the depths the panes show come from here instead: one
thread with one connection of its own ("fanout-tui depths") that reads every
watched queue once a second (:data:`DEPTH_INTERVAL`). It never publishes, so a
broker's resource alarm never blocks it, and depths stay live while the
publishers are blocked.

Exclusive queues cannot be read from another connection: RabbitMQ answers
``405 RESOURCE_LOCKED``. The dashboard must not watch them (their receiver
reads its own depth while its socket is quiet); one watched anyway is reported
:attr:`Unreadable.locked` and tried again only every :data:`LOCKED_RECHECK`
seconds, rather than costing a closed channel every round.

Any thread calls :meth:`QueueDepths.watch`, :meth:`~QueueDepths.unwatch` and
:meth:`~QueueDepths.get`; none of them waits on the network. Readings live in
a dict the worker thread writes one key at a time (an assignment is atomic
under the GIL), and a short lock keeps ``watch``/``unwatch`` and the worker's
writes in step, so an unwatched queue never comes back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pika.exceptions as pex

from ..present.text import sanitize
from .broker import BrokerSettings, mask_url, vhost_of
from .errors import describe_error
from .loop import Liveness, LoopWorker, close_quietly
from .steps import AsyncSteps, NewChannel, Steps, call
from .worker import Reconnect, retrying

CONNECTION_NAME = "fanout-tui depths"
DEPTH_INTERVAL = 1.0  # seconds between two rounds of reads
# Channels a round reads on at once, each reading its share of the queues in
# turn. Measured with 64 queues on a busy 2-core machine: one lane took about
# 11 ms of this thread's CPU a round and up to 0.6 s when the scheduler was
# slow (64 round trips in a row); 8 lanes took about 8.5 ms and at most 50 ms,
# while the broker opens 8 channels a round rather than one per queue.
LANES = 8
LOCKED_RECHECK = 10.0  # seconds before a queue found locked (405) is tried again
MISSING = "missing"  # 404 NOT_FOUND: no queue of that name
LOCKED = "locked"  # 405 RESOURCE_LOCKED: another connection's exclusive queue
_MAX_NAME = 255  # bytes: AMQP's short string, which pika cannot encode beyond


@dataclass(frozen=True)
class Depth:
    """What a passive declare said about a queue, at ``at`` (``time.time()``)."""

    messages: int
    consumers: int
    at: float
    # The queue's deliveries so far as its ``delivered`` counter (given to
    # watch) said when the read was asked: every one counted after that left
    # the queue after it was asked, so ``messages`` less them never counts a
    # message twice.
    delivered: int = 0


@dataclass(frozen=True)
class Unreadable:
    """A watched queue whose depth could not be read at ``at``: ``why`` is
    :data:`MISSING`, :data:`LOCKED`, or the broker's reply (sanitized) for
    anything else."""

    why: str
    at: float

    @property
    def missing(self) -> bool:
        return self.why == MISSING

    @property
    def locked(self) -> bool:
        return self.why == LOCKED


Reading = Depth | Unreadable


def check_queue_name(queue: str) -> None:
    """Raise ValueError if ``queue`` cannot name a queue to read (pika would
    raise inside the worker's IOLoop on a name it cannot encode, and a passive
    declare of "" means the channel's last declared queue, which is none)."""
    if not queue:
        raise ValueError("a queue to watch needs a name")
    if len(queue.encode("utf-8")) > _MAX_NAME:
        raise ValueError(f"a queue name is at most {_MAX_NAME} bytes")


class QueueDepths(LoopWorker):
    """Reads the depth of every watched queue each ``interval`` seconds.

    After a connection failure every reading is forgotten (``get`` answers
    None: unknown, never an old value passed off as live) and the worker
    reconnects by itself with the workers' backoff, moving through the URLs.
    A reading carries its time, so a caller can also tell one grown old while
    a round is slow. ``error`` says why there is no connection ("" while
    connected).

    Everything below "Worker thread" runs on the thread's IOLoop.
    """

    def __init__(self, broker: BrokerSettings, *, interval: float = DEPTH_INTERVAL) -> None:
        super().__init__(CONNECTION_NAME)
        self.broker = broker
        self.interval = interval
        self._lock = threading.Lock()
        # An ordered set, read in the order watched: each queue with the counter
        # of its deliveries so far (see Depth.delivered).
        self._watched: dict[str, Callable[[], int] | None] = {}
        self._readings: dict[str, Reading] = {}
        # Written by the worker thread only; read by anyone.
        self.connected = False
        self.error = ""
        self.rounds = 0  # rounds completed
        self.round_seconds = 0.0  # wall time of the last round
        self.round_cpu = 0.0  # this thread's CPU time during the last round
        # Worker thread only:
        self._retry = Reconnect(broker.urls)
        self._url = ""
        self._liveness: Liveness | None = None
        self._tick_timer: Any = None
        self._retry_timer: Any = None
        self._in_round = False
        self._skip_until: dict[str, float] = {}  # locked queues: not read before then

    # Any thread ----------------------------------------------------------------
    def watch(self, queue: str, delivered: Callable[[], int] | None = None) -> None:
        """Read ``queue``'s depth from the next round on (ValueError: no name a
        queue can have). Never an exclusive queue of another connection (see
        the module). ``delivered``, called on this worker's thread, counts the
        queue's deliveries to this app so far (any thread may be counting)."""
        check_queue_name(queue)
        with self._lock:
            self._watched[queue] = delivered

    def unwatch(self, queue: str) -> None:
        """Stop reading ``queue`` and forget its reading."""
        with self._lock:
            self._watched.pop(queue, None)
            self._readings.pop(queue, None)

    def get(self, queue: str) -> Reading | None:
        """The last reading of ``queue``; None while unknown (not read yet, not
        watched, or the connection failed since)."""
        return self._readings.get(queue)

    @property
    def watched(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._watched)

    # Worker thread: connecting -------------------------------------------------
    def begin(self) -> None:
        self._connect()

    def _connect(self) -> None:
        self._retry_timer = None
        url = self._url = self._retry.url
        params = self.broker.parameters(url, CONNECTION_NAME)
        try:
            self._connection = self.open_connection(
                params, self._opened, self._closed, self._closed
            )
        except Exception as exc:  # parameters pika refuses to use
            self._failed(exc)

    def _opened(self, connection: Any) -> None:
        if connection is not self._connection:
            return
        self._liveness = Liveness.of(connection, self._failed)
        self._retry.succeeded()
        self.connected, self.error = True, ""
        self._tick()  # the first round at once

    # Worker thread: rounds -----------------------------------------------------
    def _tick(self) -> None:
        self._tick_timer = self.ioloop.call_later(self.interval, self._tick)
        if self._in_round:
            return  # the last round is still going (a slow broker): never two at once
        now = time.time()
        queues = [q for q in self.watched if self._skip_until.get(q, 0.0) <= now]
        if not queues:
            return
        self._in_round = True
        started = (time.monotonic(), time.thread_time())
        connection = self._connection
        lanes = [queues[i::LANES] for i in range(min(LANES, len(queues)))]
        left = [len(lanes)]

        def lane_done(_none: None) -> None:
            left[0] -= 1
            if left[0] == 0 and connection is self._connection:
                self._round_done(started)

        def lane_failed(exc: BaseException) -> None:
            if connection is self._connection:  # once, for the connection it was on
                self._failed(exc)

        for lane in lanes:
            AsyncSteps(connection, self._round_steps(lane), lane_done, lane_failed)

    def _round_steps(self, queues: Iterable[str]) -> Steps[None]:
        """One lane of a round: a passive declare after another on one channel
        (pika sends a channel's next RPC only once the last is answered). A
        refused read closes the channel: a new one is opened for the rest."""
        channel = yield NewChannel()
        for queue in queues:
            if queue not in self._watched:
                continue  # unwatched since the round began
            counter = self._watched.get(queue)
            delivered = counter() if counter is not None else 0
            try:
                frame = yield call(channel, "queue_declare", queue=queue, passive=True)
            except pex.ChannelClosedByBroker as exc:
                self._store(queue, self._unreadable(queue, exc))
                channel = yield NewChannel()
                continue
            method = frame.method
            reading = Depth(method.message_count, method.consumer_count, time.time(), delivered)
            self._store(queue, reading)
        channel.close()

    def _unreadable(self, queue: str, exc: pex.ChannelClosedByBroker) -> Unreadable:
        now = time.time()
        if exc.reply_code == 404:
            return Unreadable(MISSING, now)
        if exc.reply_code == 405:
            self._skip_until[queue] = now + LOCKED_RECHECK
            return Unreadable(LOCKED, now)
        return Unreadable(sanitize(f"{exc.reply_code} {exc.reply_text}", 200), now)

    def _store(self, queue: str, reading: Reading) -> None:
        with self._lock:
            if queue in self._watched:
                self._readings[queue] = reading
            else:
                self._skip_until.pop(queue, None)

    def _round_done(self, started: tuple[float, float]) -> None:
        self._in_round = False
        self.rounds += 1
        self.round_seconds = time.monotonic() - started[0]
        self.round_cpu = time.thread_time() - started[1]

    # Worker thread: failures and the end ---------------------------------------
    def _failed(self, exc: BaseException) -> None:
        if self.stopping:
            self.shut_down()
            return
        self._drop()
        delay = self._retry.failed()
        self.error = retrying(describe_error(exc, mask_url(self._url), vhost_of(self._url)), delay)
        self._retry_timer = self.ioloop.call_later(delay, self._connect)

    def _drop(self) -> None:
        """Forget the connection (if open it closes by itself later, on this
        IOLoop) and every reading: from now on they are unknown."""
        connection, self._connection = self._connection, None
        self._stop_timers()
        self._in_round = False
        self.connected = False
        with self._lock:
            self._readings.clear()
        close_quietly(connection)

    def _stop_timers(self) -> None:
        if self._tick_timer is not None:
            self.ioloop.remove_timeout(self._tick_timer)
            self._tick_timer = None
        if self._liveness is not None:
            self._liveness.stop()
            self._liveness = None

    def shut_down(self) -> None:
        self._stop_timers()
        if self._retry_timer is not None:
            self.ioloop.remove_timeout(self._retry_timer)
            self._retry_timer = None
        connection = self._connection
        if connection is None or not (connection.is_open or connection.is_closing):
            self.finish()  # nothing to close cleanly (see close_quietly)
            return
        close_quietly(connection)  # its close callback finishes

    def crashed(self, exc: Exception) -> None:
        self.error = f"internal error: {describe_error(exc)}"

    def finished(self) -> None:
        self.connected = False
        with self._lock:
            self._readings.clear()
