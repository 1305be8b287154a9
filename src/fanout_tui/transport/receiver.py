"""A receiver: one thread, one connection, one queue of the pane's kind.

This is the tutorial's ``receive_logs.py`` as a thread: declare the exchange,
declare the queue, bind, consume. Deliveries and state changes go to a
:class:`Mailbox`, which never blocks. The queue is the spec's kind
(``queues.py``): the tutorial's exclusive server-named one (capped), or a
named durable, shared or stream queue, declared again on each connection.

It runs pika's asynchronous ``SelectConnection`` on the thread's own IOLoop
(``loop.py``), so each delivery is handed over as it is parsed and a stop or a
pause is seen at once. Unless the spec says ``ack=auto`` it acknowledges
manually, a window of ``PREFETCH`` at a time (or the spec's) with one
``multiple`` ack per read: pausing cancels the consumer, and pika returns to
the queue whatever a manual-ack consumer is sent after its cancel, so a pause
during a burst loses nothing and shows nothing twice. A stream pane pauses by
closing its channel instead (a stream refuses the reject) and resumes after
the last offset it showed.

The worker is built in three parts, each a module: ``consumer.py`` (its state,
the consumer and each delivery), ``upkeep.py`` (pause and resume, depths,
binding edits, the topology check) and this one (connecting and declaring,
failures, reconnecting and the end).
"""

from __future__ import annotations

from typing import Any

import pika.exceptions as pex

from ..model.states import WorkerState
from .broker import mask_url, vhost_of
from .consumer import QueueCancelled
from .errors import describe_error, refused
from .loop import Liveness, close_quietly
from .queues import QueueConflict, bindings, conflict_from, declare_arguments
from .steps import AsyncSteps, NewChannel, Steps, call
from .topology import exchange_steps_for
from .upkeep import Upkeep, permission
from .worker import retrying


class ReceiverWorker(Upkeep):
    """Consume an exchange through the pane's queue until stopped.

    The queue is the spec's kind (``queues.py``): a fresh exclusive one, or a
    named one (``queue``, resolved by the caller with ``spec.queue_name``)
    declared again on every connection, so a durable, shared or stream pane
    loses nothing while disconnected.

    Every failure moves to the next URL, with backoff. With ``reconnect`` (the
    dashboard, ``listen``) that goes on for as long as it runs; without it
    (``listen --no-reconnect``) losing a connection that worked is final.
    Before any connection has worked, ``start_attempts`` failures are final
    (``listen``: one try per URL, so a wrong URL or password ends it);
    ``None`` means one per URL without ``reconnect`` and no limit with it.
    A final failure ends in :attr:`WorkerState.FAILED`, ``error`` saying why.

    Read by other threads (written by the worker thread only): ``created``
    (this worker declared its queue anew), ``depth`` and ``depth_at`` (the
    queue's depth and when it was read, see :meth:`_depth_safe`),
    ``bindings_applied`` (the ``queue_bind`` arguments in place) and
    ``lost_in_flight`` (auto-acked deliveries pika dropped at a pause).

    Everything below "Worker thread" runs on the thread's IOLoop, one callback
    at a time; other threads only set flags and :meth:`wake` it.
    """

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
                params, self._opened, self._closed, self._closed
            )
        except Exception as exc:  # parameters pika refuses to use
            self._failed(exc)

    def _opened(self, connection: Any) -> None:
        if connection is not self._connection:
            return
        self._liveness = Liveness.of(connection, self._failed)
        AsyncSteps(connection, self._set_up_steps(), self._set_up, self._failed)

    def _set_up_steps(self) -> Steps[tuple[Any, str, bool]]:
        # Each step needs its own permission (configure on the queue, write on
        # it and read on the exchange to bind, read to consume); a refusal says
        # which one, on what.
        spec = self.spec
        channel, self.exchange_type = yield from exchange_steps_for(self.broker)
        existed = False
        if spec.named:
            # Passive first (no permission needed): whether the queue was there
            # tells a reconnect that kept it from one that lost it, and whether
            # this worker created it (so may delete it).
            try:
                yield call(channel, "queue_declare", queue=self.queue_name, passive=True)
                existed = True
            except pex.ChannelClosedByBroker as exc:
                if exc.reply_code != 404:
                    raise
                channel = yield NewChannel()
        try:
            declared = yield call(
                channel,
                "queue_declare",
                **declare_arguments(spec, self.queue_name, self.queue_cap),
            )
        except pex.ChannelClosedByBroker as exc:
            raise (conflict_from(exc, self.queue_name) or refused(exc, "queue.declare")) from None
        queue: str = declared.method.queue
        wanted = bindings(self.exchange_type, spec)
        with permission("queue.bind"):  # unbind needs the same permissions as bind
            for binding in wanted:
                yield call(
                    channel, "queue_bind", queue=queue, exchange=self.broker.exchange, **binding
                )
            self._attached = self._record_attached(queue, existed, wanted)
            for stale in self._attached.stale:
                yield call(channel, "queue_unbind", queue=queue, **stale)
        if not self._auto:  # a window means nothing to an auto-ack consumer
            yield call(channel, "basic_qos", prefetch_count=self._prefetch)
        return channel, queue, existed

    def _set_up(self, result: tuple[Any, str, bool]) -> None:
        channel, queue, existed = result
        self._take_channel(channel)
        self.queue = queue
        self.error = None
        self.created = self.created or not existed or bool(self._attached.leftover_of)
        self.bindings_applied = tuple(bindings(self.exchange_type, self.spec))
        # A reconnect that found its named queue: nothing published meanwhile
        # is lost, and what was shown but not acked may come again.
        self._kept_now = existed and self._connected_once
        self._after_reconnect = self._kept_now and self._shown is not None
        self._retry.succeeded()  # a failure from here on starts the backoff afresh
        self._checked_at = self._depth_mark = self.mailbox.received
        self._ticks = 0
        self._schedule_tick(self._connection)
        if self._want_paused:
            self._connected_once = True
            self._paused_now()
        else:
            self._consume()

    # Worker thread: failures and the end ---------------------------------------
    def _channel_closed(self, channel: Any, reason: BaseException) -> None:
        if channel is not self._channel:
            return  # a stream channel closed for a pause, or one given up on
        if self.stopping:
            # A delete refused (or the queue already gone) closes the channel:
            # the connection still closes, and its close callback finishes.
            close_quietly(self._connection)
            return
        if isinstance(reason, pex.ChannelClosedByBroker):
            if self._pending == "depth" and reason.reply_code == 404:
                reason = QueueCancelled("found missing by the depth check")
            elif self._pending == "basic.consume":
                reason = refused(reason, "basic.consume")
        self._failed(reason)

    def _failed(self, exc: BaseException) -> None:
        """Give the connection up and try again later, or for good."""
        if self.stopping:
            self.shut_down()  # the connection's own close, if under way, finishes
            return
        self._drop_connection()
        queue_deleted = isinstance(exc, QueueCancelled)
        if isinstance(exc, QueueCancelled | QueueConflict):
            self.error = str(exc)  # not a connection failure: no class name
        else:
            self.error = describe_error(exc, self.url, self._vhost)
        if isinstance(exc, QueueConflict) or self._gives_up():
            self._final = WorkerState.FAILED
            self.finish()
            return
        self.queue = self.queue_name  # a named queue keeps its name; a server-named one is gone
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
        self._drop_delayed()  # unacked: the broker requeues them (or a stream keeps them)
        self._checking = False
        self.paused = False
        self.depth = None
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
        if self._pending == "queue.delete":
            return  # asked again while deleting: the delete's reply closes
        # What was shown is acknowledged; the exclusive queue goes with the close.
        self._ack()
        self._drop_delayed()  # not shown: unacked, so the broker keeps them (if the queue stays)
        if self._liveness is not None:
            self._liveness.stop()
        channel = self._channel
        if self.delete_on_stop and self.spec.named and channel is not None and channel.is_open:
            # On this connection, before it closes, within the stop's close grace:
            # a queue the app created is not left on the broker.
            self._pending = "queue.delete"

            def deleted(_frame: Any) -> None:
                self._record_deleted()
                close_quietly(connection)

            channel.queue_delete(self.queue, callback=deleted)
            return
        close_quietly(connection)  # its close callback finishes

    def crashed(self, exc: Exception) -> None:
        self.error = f"internal error: {describe_error(exc)}"
        self._final = WorkerState.FAILED

    def finished(self) -> None:
        self._pass_turn()
        error = (self.error or "") if self._final is WorkerState.FAILED else ""
        self._report(self._final, error)
