"""A receiver: one thread, one connection, one exclusive server-named queue.

This is the tutorial's ``receive_logs.py`` as a thread: declare the fanout
exchange, declare ``queue=""`` exclusive, bind, consume. Deliveries and state
changes go to a :class:`Mailbox`, which never blocks.

It runs pika's asynchronous ``SelectConnection`` on the thread's own IOLoop
(``loop.py``), so each delivery is handed over as it is parsed and a stop or a
pause is seen at once. Unlike the tutorial it acknowledges manually, a window
of ``PREFETCH`` at a time with one ``multiple`` ack per read: pausing cancels
the consumer, and pika returns to the queue whatever a manual-ack consumer is
sent after its cancel, so a pause during a burst loses nothing and shows
nothing twice.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pika.exceptions as pex

from ..model.delivery import Delivery
from ..model.mailbox import Mailbox
from ..model.receiver_spec import ReceiverSpec
from ..model.states import StateChange, WorkerState
from .broker import BrokerSettings, mask_url, vhost_of
from .errors import PathLost, describe_error, refused
from .loop import Liveness, LoopWorker, close_quietly
from .steps import AsyncSteps, NewChannel, Steps, call
from .topology import exchange_steps_for
from .turns import TURN
from .worker import Reconnect, retrying

TOPOLOGY_CHECK_INTERVAL = 3.0  # seconds between checks that the exchange and binding exist
DEPTH_INTERVAL = 1.0  # seconds between queue-depth reads while paused
# Unacknowledged deliveries the broker may have in flight to one receiver. The
# window must outlast several of pika's reads so the broker never waits for an
# ack (in alternating runs a window of 2,000 or less cost throughput; unlimited
# gained nothing over this); bounded, a pause rejects at most this many back to
# the queue. Acks go once per read, or every ACK_EVERY deliveries within one.
PREFETCH = 10_000
ACK_EVERY = PREFETCH // 4


def delivery_from(
    method: Any, properties: Any, body: bytes, queue: str, received_at: float
) -> Delivery:
    """A :class:`Delivery` from what pika hands a consumer (``Basic.Deliver``,
    ``BasicProperties``, body), as it arrived on ``queue`` at ``received_at``."""
    return Delivery(
        body,
        properties,
        properties.headers or {},
        received_at,
        queue,
        method.exchange,
        method.routing_key,
        method.redelivered,
    )


def bindings(exchange_type: str, spec: ReceiverSpec) -> list[dict[str, Any]]:
    """The ``queue_bind`` arguments for a pane's bindings on an exchange of this type.

    fanout ignores keys (the tutorial binds with ""); direct and topic bind once
    per key, and with none, direct binds the empty key (it gets what is published
    with the empty key) and topic ``#`` (everything); headers binds once, with
    ``x-match`` and the pairs. An unknown type (the user may not declare the
    exchange, so the broker would not say) binds the keys given, or "".
    """
    if exchange_type == "fanout":
        return [{"routing_key": ""}]
    if exchange_type == "headers":
        return [{"routing_key": "", "arguments": {"x-match": spec.match, **dict(spec.headers)}}]
    default = "#" if exchange_type == "topic" else ""
    return [{"routing_key": key} for key in spec.keys or (default,)]


@contextlib.contextmanager
def _permission(operation: str) -> Iterator[None]:
    """A 403 inside becomes :class:`AccessRefused` naming what ``operation`` needs."""
    try:
        yield
    except pex.ChannelClosedByBroker as exc:
        raise refused(exc, operation) from None


class QueueCancelled(Exception):
    """Our queue was deleted: the broker cancelled our consumer, or (paused) the
    depth check found the queue gone."""

    def __init__(self, how: str = "the broker cancelled the consumer") -> None:
        super().__init__(how)
        self.how = how

    def __str__(self) -> str:
        return f"its queue was deleted ({self.how})"


class ReceiverWorker(LoopWorker):
    """Consume a fanout exchange through a fresh exclusive queue until stopped.

    Every failure moves to the next URL, with backoff. With ``reconnect`` (the
    dashboard, ``listen``) that goes on for as long as it runs; without it
    (``listen --no-reconnect``) losing a connection that worked is final.
    Before any connection has worked, ``start_attempts`` failures are final
    (``listen``: one try per URL, so a wrong URL or password ends it);
    ``None`` means one per URL without ``reconnect`` and no limit with it.
    A final failure ends in :attr:`WorkerState.FAILED`, ``error`` saying why.

    Everything below "Worker thread" runs on the thread's IOLoop, one callback
    at a time; other threads only set flags and :meth:`wake` it.
    """

    def __init__(
        self,
        broker: BrokerSettings,
        mailbox: Mailbox,
        *,
        name: str = "receiver",
        reconnect: bool = True,
        start_attempts: int | None = None,
        spec: ReceiverSpec | None = None,
    ) -> None:
        super().__init__(f"fanout-tui {name}")
        self.label = name
        self.spec = spec or ReceiverSpec()
        self.broker = broker
        self.mailbox = mailbox
        self.reconnect = reconnect
        if start_attempts is None and not reconnect:
            start_attempts = len(broker.urls)
        self.start_attempts = start_attempts
        self._connected_once = False
        self._start_failures = 0
        self.queue = ""
        self.exchange_type = ""  # as the broker said at set-up ("" if it would not)
        self.url = ""  # masked URL of the node in use
        self.error: str | None = None
        self._final = WorkerState.STOPPED
        self._retry = Reconnect(broker.urls)
        self._vhost = "/"
        self._retry_timer: Any = None
        self._connection: Any = None
        self._liveness: Liveness | None = None
        self._channel: Any = None
        self._tag = ""  # the consumer's tag while consuming
        self._pending = ""  # the AMQP method whose reply the channel awaits, if any
        self._last_tag = 0  # the last delivery tag handed over, not yet acked
        self._unacked = 0
        self._has_turn = False
        self._ticks = 0
        self._checked_at = 0  # deliveries handed over at the last topology check
        self._checking = False
        self._check_due = False
        # What the user asked for; the worker thread acts on it when woken.
        self._want_paused = False
        self.paused = False  # what the worker thread has done (its own view)

    # Any thread ----------------------------------------------------------------
    def check_topology_soon(self) -> None:
        """Check the exchange and the binding at once, not in up to 3 s (the
        publisher found the exchange deleted and declared it again)."""
        self._check_due = True
        self.wake()

    def set_paused(self, paused: bool) -> None:
        """Pause (cancel the consumer, keep the queue filling) or resume, from any thread.

        The queue lives on while paused because the connection does: it is
        exclusive to it. A pause survives a reconnect (the new queue starts paused).
        """
        self._want_paused = paused
        self.wake()

    @property
    def pause_requested(self) -> bool:
        return self._want_paused

    # Worker thread: connecting -------------------------------------------------
    def begin(self) -> None:
        self._connect()

    def _connect(self) -> None:
        self._retry_timer = None
        retry = self._retry
        url = retry.url
        self.url = mask_url(url)
        self._vhost = vhost_of(url)
        self._report(retry.state, attempt=retry.attempt)
        params = self.broker.parameters(url, f"fanout-tui {self.label}")
        try:
            self._connection = self.open_connection(
                params, self._opened, self._connection_closed, self._connection_closed
            )
        except Exception as exc:  # parameters pika refuses to use
            self._failed(exc)

    def _opened(self, connection: Any) -> None:
        if connection is not self._connection:
            return
        heartbeat = float(connection.params.heartbeat or 0)
        self._liveness = Liveness(
            connection, heartbeat, lambda silence: self._failed(PathLost(silence, heartbeat))
        )
        AsyncSteps(connection, self._set_up_steps(), self._set_up, self._failed)

    def _set_up_steps(self) -> Steps[tuple[Any, str]]:
        # Each step needs its own permission (configure on the server-named
        # queue, write on it and read on the exchange to bind, read to consume);
        # a refusal says which one, on what.
        channel, self.exchange_type = yield from exchange_steps_for(self.broker)
        with _permission("queue.declare"):
            declared = yield call(channel, "queue_declare", queue="", exclusive=True)
        queue: str = declared.method.queue
        with _permission("queue.bind"):
            for binding in bindings(self.exchange_type, self.spec):
                yield call(
                    channel, "queue_bind", queue=queue, exchange=self.broker.exchange, **binding
                )
        yield call(channel, "basic_qos", prefetch_count=PREFETCH)
        return channel, queue

    def _set_up(self, result: tuple[Any, str]) -> None:
        channel, queue = result
        self._channel = channel
        self._tag, self._pending = "", ""
        self._last_tag = self._unacked = 0
        channel.add_on_close_callback(self._channel_closed)
        channel.add_on_cancel_callback(lambda _frame: self._failed(QueueCancelled()))
        self.queue = queue
        self.error = None
        self._retry.succeeded()  # a failure from here on starts the backoff afresh
        self._checked_at = self.mailbox.received
        self._ticks = 0
        self._schedule_tick(self._connection)
        if self._want_paused:
            self._connected_once = True
            self._paused_now()
        else:
            self._consume()

    def _consume(self) -> None:
        self.paused = False
        self._pending = "basic.consume"
        self._tag = self._channel.basic_consume(
            self.queue, self._on_message, auto_ack=False, callback=self._consuming
        )

    def _consuming(self, _frame: Any) -> None:
        # Reported at the consume-ok itself, so its count of deliveries handed
        # over marks exactly where this queue's deliveries begin. Only now has
        # the connection worked: a refused consume is still a start failure.
        self._pending = ""
        self._connected_once = True
        self._report(WorkerState.CONSUMING)
        self._follow_wishes()

    # Worker thread: deliveries -------------------------------------------------
    def _on_message(self, _channel: Any, method: Any, properties: Any, body: bytes) -> None:
        if not self._has_turn:
            # Held until this read is handled: the IOLoop runs due timers right
            # after it has dispatched what one poll read (see turns.py).
            TURN.acquire()
            self._has_turn = True
            self.ioloop.call_later(0, self._read_handled)
        self.mailbox.put_delivery(delivery_from(method, properties, body, self.queue, time.time()))
        self._last_tag = method.delivery_tag
        self._unacked += 1
        if self._unacked >= ACK_EVERY:
            self._ack()

    def _read_handled(self) -> None:
        self._ack()
        self._pass_turn()

    def _pass_turn(self) -> None:
        if self._has_turn:
            self._has_turn = False
            TURN.release()

    def _ack(self) -> None:
        """Acknowledge everything handed over so far, with one ``multiple`` ack."""
        channel = self._channel
        if self._unacked and channel is not None and channel.is_open:
            channel.basic_ack(self._last_tag, multiple=True)
        self._unacked = 0

    # Worker thread: pause, depth, topology -------------------------------------
    def woken(self) -> None:
        self._follow_wishes()

    def _follow_wishes(self) -> None:
        """Move towards what was asked for (pause, resume, a topology check), one
        broker conversation at a time: each reply calls this again."""
        channel = self._channel
        if channel is None or not channel.is_open or self._pending:
            return
        if self._want_paused and self._tag:
            # Everything handed over is acked first; pika rejects (requeues)
            # whatever is delivered after the cancel, and the broker keeps it.
            self._ack()
            tag, self._tag = self._tag, ""
            self._pending = "basic.cancel"
            channel.basic_cancel(tag, callback=self._cancelled)
        elif self.paused and not self._want_paused:
            self._consume()
        elif self._check_due and not self._checking:
            self._check_due = False
            self._check_topology()

    def _cancelled(self, _frame: Any) -> None:
        self._pending = ""
        self._paused_now()
        self._follow_wishes()

    def _paused_now(self) -> None:
        self.paused = True
        self._read_depth()  # at once, then every DEPTH_INTERVAL

    def _schedule_tick(self, connection: Any) -> None:
        self.ioloop.call_later(DEPTH_INTERVAL, lambda: self._tick(connection))

    def _tick(self, connection: Any) -> None:
        if connection is not self._connection or self._channel is None:
            return  # the connection this tick was for is gone, and its ticks with it
        self._ticks += 1
        if self.paused and not self._pending:
            self._read_depth()
        if self._ticks % round(TOPOLOGY_CHECK_INTERVAL / DEPTH_INTERVAL) == 0:
            # Only on a quiet connection: deliveries arriving prove the binding
            # works, and the check's replies would queue behind all of them. A
            # deleted exchange stops them, and then the check runs.
            if self.mailbox.received == self._checked_at:
                self._check_due = True
            self._checked_at = self.mailbox.received
        self._follow_wishes()
        self._schedule_tick(connection)

    def _read_depth(self) -> None:
        """Passive declare: how many messages wait in the paused queue.

        Only while paused: a consuming queue has deliveries in flight to us, and
        the reply would wait behind all of them.
        """
        self._pending = "depth"
        self._channel.queue_declare(self.queue, passive=True, callback=self._depth_read)

    def _depth_read(self, frame: Any) -> None:
        self._pending = ""
        waiting = frame.method.message_count
        state = self.mailbox.state
        if self.paused and (state.state is not WorkerState.PAUSED or state.waiting != waiting):
            self._report(WorkerState.PAUSED, waiting=waiting)
        self._follow_wishes()

    def _check_topology(self) -> None:
        self._checking = True
        AsyncSteps(self._connection, self._topology_steps(), self._topology_checked, self._failed)

    def _topology_steps(self) -> Steps[bool]:
        """Notice an exchange deleted (or replaced) under us, and repair it.

        Deleting an exchange silently removes its bindings: the queue lives on
        and simply stops receiving. So: is the exchange still there? Declare it
        again if not (a type conflict raises, and the pane says so while the
        worker retries), and bind again (idempotent: an exchange deleted and
        declared again by someone else between two checks exists, but without
        our binding).
        """
        exchange, queue = self.broker.exchange, self.queue
        probe = yield NewChannel()
        try:
            yield call(probe, "exchange_declare", exchange=exchange, passive=True)
            probe.close()
            missing = False
        except pex.ChannelClosedByBroker as exc:
            if exc.reply_code != 404:
                raise
            missing = True
        # Declared with the type found at set-up even when it exists: an exchange
        # replaced by one of another type still takes our binding, and only the
        # declare says so.
        channel, _type = yield from exchange_steps_for(self.broker, self.exchange_type)
        for binding in bindings(self.exchange_type, self.spec):
            yield call(channel, "queue_bind", queue=queue, exchange=exchange, **binding)
        channel.close()
        return missing

    def _topology_checked(self, missing: bool) -> None:
        self._checking = False
        if missing:
            # Every receiver's binding went with the exchange; the others find it
            # back already, so this one receiver's report speaks for all of them.
            exchange = self.broker.exchange
            self._report(
                WorkerState.PAUSED if self.paused else WorkerState.CONSUMING,
                note=f"exchange {exchange!r} was deleted; declared it again and re-bound the "
                "queues (messages published meanwhile reached no queue)",
            )

    # Worker thread: failures and the end ---------------------------------------
    def _channel_closed(self, channel: Any, reason: BaseException) -> None:
        if channel is not self._channel or self.stopping:
            return  # a stop closes the connection, and its channels with it
        if isinstance(reason, pex.ChannelClosedByBroker):
            if self._pending == "depth" and reason.reply_code == 404:
                reason = QueueCancelled("found missing while paused")
            elif self._pending == "basic.consume":
                reason = refused(reason, "basic.consume")
        self._failed(reason)

    def _connection_closed(self, connection: Any, reason: BaseException) -> None:
        """The connection closed, or could not be opened."""
        if connection is not self._connection:
            return  # one given up on earlier, closing at last
        self._connection = None
        if self.stopping:
            self.finish()
        else:
            self._failed(reason)

    def _failed(self, exc: BaseException) -> None:
        """Give the connection up and try again later, or for good."""
        if self.stopping:
            self.shut_down()  # the connection's own close, if under way, finishes
            return
        self._drop_connection()
        queue_deleted = isinstance(exc, QueueCancelled)
        if queue_deleted:
            self.error = str(exc)  # not a connection failure: no class name
        else:
            self.error = describe_error(exc, self.url, self._vhost)
        if self._gives_up():
            self._final = WorkerState.FAILED
            self.finish()
            return
        self.queue = ""
        delay = self._retry.failed()
        self._report(
            WorkerState.RECONNECTING,
            retrying(self.error, delay),
            attempt=self._retry.attempt,
            queue_deleted=queue_deleted,
        )
        self._retry_timer = self.ioloop.call_later(delay, self._connect)

    def _drop_connection(self) -> None:
        """Forget the connection; if it is open it closes by itself, later, on
        this IOLoop (over a dead path it may never answer)."""
        connection, self._connection = self._connection, None
        self._channel, self._tag, self._pending = None, "", ""
        self._unacked = 0
        self._checking = False
        self.paused = False
        if self._liveness is not None:
            self._liveness.stop()
            self._liveness = None
        self._pass_turn()
        close_quietly(connection)

    def _gives_up(self) -> bool:
        """Whether the failure just met is final (see the class)."""
        if self._connected_once:
            return not self.reconnect
        self._start_failures += 1
        return self.start_attempts is not None and self._start_failures >= self.start_attempts

    def shut_down(self) -> None:
        if self._retry_timer is not None:
            self.ioloop.remove_timeout(self._retry_timer)
            self._retry_timer = None
        connection = self._connection
        if connection is None or not (connection.is_open or connection.is_closing):
            self.finish()  # nothing to close cleanly (see close_quietly)
            return
        # What was shown is acknowledged; the exclusive queue goes with the close.
        self._ack()
        if self._liveness is not None:
            self._liveness.stop()
        close_quietly(connection)  # its close callback finishes

    def crashed(self, exc: Exception) -> None:
        self.error = f"internal error: {describe_error(exc)}"
        self._final = WorkerState.FAILED

    def finished(self) -> None:
        self._pass_turn()
        error = (self.error or "") if self._final is WorkerState.FAILED else ""
        self._report(self._final, error)

    def _report(
        self,
        state: WorkerState,
        detail: str = "",
        attempt: int = 0,
        note: str = "",
        waiting: int | None = None,
        queue_deleted: bool = False,
    ) -> None:
        self.mailbox.put_event(
            StateChange(
                state,
                detail,
                self.queue,
                self.url,
                attempt,
                time.time(),
                note,
                self.mailbox.received,
                waiting,
                queue_deleted,
            )
        )
