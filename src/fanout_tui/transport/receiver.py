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
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pika.exceptions as pex

from ..model.delivery import Delivery
from ..model.mailbox import Mailbox
from ..model.receiver_spec import ReceiverSpec
from ..model.states import StateChange, WorkerState
from .broker import BrokerSettings, mask_url, vhost_of
from .errors import describe_error, refused
from .loop import Liveness, LoopWorker, close_quietly
from .queues import (
    QUEUE_CAP,
    QueueConflict,
    binding_text,
    bindings,
    conflict_from,
    consume_arguments,
    declare_arguments,
    prefetch_of,
)
from .redelivery import ShownWindow
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
# A window this small bounds what is in flight, so a depth read on the consuming
# connection is answered soon even while deliveries flow.
SMALL_PREFETCH = 100
STREAM_OFFSET = "x-stream-offset"  # the header a stream delivery carries its offset in


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


@contextlib.contextmanager
def _permission(operation: str) -> Iterator[None]:
    """A 403 inside becomes :class:`AccessRefused` naming what ``operation`` needs."""
    try:
        yield
    except pex.ChannelClosedByBroker as exc:
        raise refused(exc, operation) from None


class QueueCancelled(Exception):
    """Our queue was deleted: the broker cancelled our consumer, or the depth
    check found the queue gone."""

    def __init__(self, how: str = "the broker cancelled the consumer") -> None:
        super().__init__(how)
        self.how = how

    def __str__(self) -> str:
        return f"its queue was deleted ({self.how})"


class ReceiverWorker(LoopWorker):
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

    def __init__(
        self,
        broker: BrokerSettings,
        mailbox: Mailbox,
        *,
        name: str = "receiver",
        reconnect: bool = True,
        start_attempts: int | None = None,
        spec: ReceiverSpec | None = None,
        queue: str = "",
        queue_cap: int = QUEUE_CAP,
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
        self.queue_cap = queue_cap
        # The named queue's name; a server-named queue's comes with each declare.
        # Without ``queue``, one derived from the worker's name as queue_name
        # derives it from the pane's ("R3"), so two unnamed panes never share one.
        derived = self.spec.name or f"fanout-tui.{broker.exchange}.{name}"
        self.queue_name = (queue or derived) if self.spec.named else ""
        self.queue = self.queue_name
        self.created = False  # this worker declared its queue anew (so it may delete it)
        self._delete_on_stop: bool | None = None  # None: decided by created and keep
        self.depth: int | None = None  # messages ready in the queue, as last read
        self.depth_at = 0.0  # time.time() of that reading
        self.bindings_applied: tuple[dict[str, Any], ...] = ()
        self.lost_in_flight = 0
        self._connected_once = False
        self._start_failures = 0
        self.exchange_type = ""  # as the broker said at set-up ("" if it would not)
        self.url = ""  # masked URL of the node in use
        self.error: str | None = None
        self._final = WorkerState.STOPPED
        self._retry = Reconnect(broker.urls)
        self._vhost = "/"
        self._retry_timer: Any = None
        self._liveness: Liveness | None = None
        self._channel: Any = None
        self._tag = ""  # the consumer's tag while consuming
        self._pending = ""  # the AMQP method whose reply the channel awaits, if any
        self._last_tag = 0  # the last delivery tag handed over (not yet acked, if manual)
        self._unacked = 0
        self._auto = self.spec.ack == "auto"
        self._delay = self.spec.delay  # seconds of "processing" per message
        self._stream = self.spec.kind == "stream"
        self._prefetch = prefetch_of(self.spec, PREFETCH)
        self._ack_every = max(1, (self._prefetch or PREFETCH) // 4)
        # A slow consumer's deliveries, waiting for their turn to be "processed".
        self._delayed: deque[tuple[Any, Any, Any, bytes]] = deque()
        self._delay_timer: Any = None
        # A stream pane resumes after what it showed (a pause or a reconnect must
        # neither skip nor repeat): the next offset, once one was shown.
        self._stream_next: int | None = None
        self._attached_at: datetime | None = None
        # Durable and shared panes: what was shown, so a redelivery after a
        # reconnect (its ack lost with the connection) is not shown twice.
        named_manual = self.spec.named and not self._stream and not self._auto
        self._shown = ShownWindow(self._prefetch or PREFETCH) if named_manual else None
        self._after_reconnect = False  # redeliveries are being checked against _shown
        self._kept_now = False  # the next bound report says the named queue was kept
        self._has_turn = False
        self._ticks = 0
        self._checked_at = 0  # deliveries handed over at the last topology check
        self._depth_mark = 0  # deliveries handed over at the last tick
        self._checking = False
        self._check_due = False
        # What the user asked for; the worker thread acts on it when woken.
        self._want_paused = False
        self._want_spec: ReceiverSpec | None = None
        self.paused = False  # what the worker thread has done (its own view)

    # Any thread ----------------------------------------------------------------
    @property
    def delete_on_stop(self) -> bool:
        """Whether a stop deletes the named queue: by default if this worker
        created it and the spec does not keep it; the dashboard decides for a
        shared group (only its last pane deletes). Exclusive queues go with
        their connection anyway."""
        if self._delete_on_stop is not None:
            return self._delete_on_stop
        return self.spec.named and self.created and not self.spec.keep

    @delete_on_stop.setter
    def delete_on_stop(self, value: bool) -> None:
        self._delete_on_stop = value

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

    def set_bindings(self, spec: ReceiverSpec) -> None:
        """Bind as ``spec``'s keys, match and headers say, on the same queue, from
        any thread: what is new is bound first, then what is gone unbound, so
        no message that both match is missed. Done when ``bindings_applied``
        changes, and a state change says ``bindings now: ...`` in its detail."""
        self._want_spec = spec
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
        with _permission("queue.bind"):
            for binding in bindings(self.exchange_type, spec):
                yield call(
                    channel, "queue_bind", queue=queue, exchange=self.broker.exchange, **binding
                )
        if not self._auto:  # a window means nothing to an auto-ack consumer
            yield call(channel, "basic_qos", prefetch_count=self._prefetch)
        return channel, queue, existed

    def _set_up(self, result: tuple[Any, str, bool]) -> None:
        channel, queue, existed = result
        self._take_channel(channel)
        self.queue = queue
        self.error = None
        self.created = self.created or not existed
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

    def _take_channel(self, channel: Any) -> None:
        """``channel`` is the consuming one from now on (delivery tags start afresh)."""
        self._channel = channel
        self._tag, self._pending = "", ""
        self._last_tag = self._unacked = 0
        self._drop_delayed()
        channel.add_on_close_callback(self._channel_closed)
        channel.add_on_cancel_callback(self._cancelled_by_broker)

    def _cancelled_by_broker(self, _frame: Any) -> None:
        if not self.stopping:  # a stop that deletes the queue cancels us too
            self._failed(QueueCancelled())

    def _consume(self) -> None:
        self.paused = False
        self._pending = "basic.consume"
        arguments = consume_arguments(self.spec, self._stream_start())
        self._tag = self._channel.basic_consume(
            self.queue,
            self._on_message,
            auto_ack=self._auto,
            arguments=arguments or None,
            callback=self._consuming,
        )

    def _stream_start(self) -> str | int | datetime | None:
        """Where a stream pane (re)starts: after the last offset shown; when none
        was shown since it first attached with next or last, from that moment
        (offsets are unknown until one arrives; a timestamp is a second's
        granularity, so a message or two from just before may come too);
        otherwise the spec's offset (None)."""
        if not self._stream:
            return None
        if self._stream_next is not None:
            return self._stream_next
        if self._attached_at is not None and self.spec.offset in ("next", "last"):
            return self._attached_at
        return None

    def _consuming(self, _frame: Any) -> None:
        # Reported at the consume-ok itself, so its count of deliveries handed
        # over marks exactly where this queue's deliveries begin. Only now has
        # the connection worked: a refused consume is still a start failure.
        self._pending = ""
        self._connected_once = True
        if self._stream and self._attached_at is None:
            self._attached_at = datetime.now(UTC)
        self._report(WorkerState.CONSUMING)
        self._follow_wishes()

    # Worker thread: deliveries -------------------------------------------------
    def _on_message(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        if channel is not self._channel:
            return  # a stream channel closed for a pause: read again from its offset
        if not self._has_turn:
            # Held until this read is handled: the IOLoop runs due timers right
            # after it has dispatched what one poll read (see turns.py).
            TURN.acquire()
            self._has_turn = True
            self.ioloop.call_later(0, self._read_handled)
        if self._auto:
            self._count_dropped(method.delivery_tag)
        elif (self._stream or self._after_reconnect) and self._already_shown(
            method, properties, body
        ):
            self._settle(method.delivery_tag)
            return
        if self._delay:
            self._delayed.append((channel, method, properties, body))
            if self._delay_timer is None:
                self._delay_timer = self.ioloop.call_later(self._delay, self._process_one)
            return
        self._hand_over(method, properties, body)
        if not self._auto:
            self._last_tag = method.delivery_tag
            self._unacked += 1
            if self._unacked >= self._ack_every:
                self._ack()

    def _hand_over(self, method: Any, properties: Any, body: bytes) -> None:
        self.mailbox.put_delivery(delivery_from(method, properties, body, self.queue, time.time()))
        if self._shown is not None:
            self._shown.shown(properties, body)
        if self._stream:
            offset = (properties.headers or {}).get(STREAM_OFFSET)
            if isinstance(offset, int):
                self._stream_next = offset + 1

    def _already_shown(self, method: Any, properties: Any, body: bytes) -> bool:
        """A delivery this pane showed before: a stream's offset below where it
        resumed, or a redelivery after a reconnect whose ack was lost."""
        if self._stream:
            offset = (properties.headers or {}).get(STREAM_OFFSET)
            start = self._stream_next
            return isinstance(offset, int) and start is not None and offset < start
        if not self._after_reconnect or self._shown is None:
            return False
        if not method.redelivered:
            # Requeued messages come first: from the first fresh one on, none
            # is a repeat of ours.
            self._after_reconnect = False
            self._shown.clear()
            return False
        return self._shown.seen_before(properties, body)

    def _settle(self, tag: int) -> None:
        """Acknowledge a delivery that is not shown (it was, before)."""
        if self._delay:
            self._channel.basic_ack(tag)  # one by one: the waiting ones are not acked
        else:
            self._last_tag = tag
            self._unacked += 1

    def _count_dropped(self, tag: int) -> None:
        """Auto-ack: delivery tags count every delivery on the channel, so a gap
        is what pika dropped after a pause's cancel (it drops, with no callback,
        what an auto-ack consumer is sent after basic.cancel; the broker counted
        those delivered). Said, with the number, rather than lost silently."""
        gap = tag - self._last_tag - 1
        self._last_tag = tag
        if gap > 0:
            self.lost_in_flight += gap
            self._report(
                WorkerState.CONSUMING,
                f"{gap:,} auto-acked deliveries in flight at the pause were lost: the broker "
                "had counted them delivered, and pika drops what follows a cancel",
            )

    def _process_one(self) -> None:
        """A slow consumer's step: the oldest waiting delivery is shown and acked,
        one every ``delay`` (a timer: the IOLoop keeps serving heartbeats)."""
        self._delay_timer = None
        if not self._delayed:
            return
        channel, method, properties, body = self._delayed.popleft()
        if channel is self._channel and channel.is_open:
            self._hand_over(method, properties, body)
            channel.basic_ack(method.delivery_tag)
        if self._delayed:
            self._delay_timer = self.ioloop.call_later(self._delay, self._process_one)

    def _drop_delayed(self) -> list[int]:
        """Forget what waits to be processed; the delivery tags it had."""
        if self._delay_timer is not None:
            self.ioloop.remove_timeout(self._delay_timer)
            self._delay_timer = None
        tags = [method.delivery_tag for _ch, method, _p, _b in self._delayed]
        self._delayed.clear()
        return tags

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

    # Worker thread: pause, depth, bindings, topology ---------------------------
    def woken(self) -> None:
        self._follow_wishes()

    def _follow_wishes(self) -> None:
        """Move towards what was asked for (pause, resume, a binding edit, a
        topology check), one broker conversation at a time: each reply calls
        this again."""
        channel = self._channel
        if channel is None or not channel.is_open or self._pending:
            return
        if self._want_paused and self._tag:
            if self._stream:
                self._detach_stream()
                return
            # Everything handed over is acked first; pika rejects (requeues)
            # whatever is delivered after the cancel, and the broker keeps it.
            self._ack()
            tag, self._tag = self._tag, ""
            self._pending = "basic.cancel"
            channel.basic_cancel(tag, callback=self._cancelled)
            # A slow consumer's waiting deliveries were not shown: back to the
            # queue (after the cancel, so they are not sent to us again), to be
            # shown once, later.
            for waiting in self._drop_delayed():
                channel.basic_nack(waiting, requeue=True)
        elif self.paused and not self._want_paused:
            self._consume()
        elif self._checking:
            return
        elif self._want_spec is not None:
            self._rebind(self._want_spec)
        elif self._check_due:
            self._check_due = False
            self._check_topology()

    def _detach_stream(self) -> None:
        """Pause a stream pane: close its channel, open a fresh one.

        Not a cancel: pika rejects what a manual-ack consumer is sent after its
        cancel, and a stream answers basic.reject by closing the connection
        (NOT_IMPLEMENTED). A stream keeps every message, so what was in flight
        or waiting here is read again from the next offset on resume.
        """
        # Forgotten before it closes: its close, and what it still delivers,
        # concern a channel no longer ours.
        old, self._channel, self._tag = self._channel, None, ""
        self._drop_delayed()
        self._unacked = 0
        self._pending = "channel.open"
        old.close()
        self._connection.channel(on_open_callback=self._stream_channel_opened)

    def _stream_channel_opened(self, channel: Any) -> None:
        if self._connection is None or channel.connection is not self._connection:
            return
        self._take_channel(channel)
        self._pending = "basic.qos"
        channel.basic_qos(prefetch_count=self._prefetch, callback=self._cancelled)

    def _cancelled(self, _frame: Any) -> None:
        self._pending = ""
        self._paused_now()
        self._follow_wishes()

    def _paused_now(self) -> None:
        self.paused = True
        if self._stream:
            self._report(WorkerState.PAUSED)  # a stream's depth is not its message count
        else:
            self._read_depth()  # at once, then every DEPTH_INTERVAL

    def _schedule_tick(self, connection: Any) -> None:
        self.ioloop.call_later(DEPTH_INTERVAL, lambda: self._tick(connection))

    def _tick(self, connection: Any) -> None:
        if connection is not self._connection:
            return  # the connection this tick was for is gone, and its ticks with it
        self._ticks += 1
        received = self.mailbox.received
        if self._channel is not None and not self._pending and self._depth_safe(received):
            self._read_depth()
        self._depth_mark = received
        if self._ticks % round(TOPOLOGY_CHECK_INTERVAL / DEPTH_INTERVAL) == 0:
            # Only on a quiet connection: deliveries arriving prove the binding
            # works, and the check's replies would queue behind all of them. A
            # deleted exchange stops them, and then the check runs.
            if received == self._checked_at:
                self._check_due = True
            self._checked_at = received
        self._follow_wishes()
        self._schedule_tick(connection)

    def _depth_safe(self, received: int) -> bool:
        """Whether a passive declare on this connection is answered soon.

        Its reply waits behind every delivery in flight to us (pika buffers them
        all meanwhile), so it is asked only when few can be: while paused, when
        nothing was handed over since the last tick, or when a small window
        bounds what is in flight. A stream's message count says nothing.
        """
        if self._stream:
            return False
        small_window = not self._auto and 0 < self._prefetch <= SMALL_PREFETCH
        return self.paused or received == self._depth_mark or small_window

    def _read_depth(self) -> None:
        """Passive declare: how many messages wait in the queue."""
        self._pending = "depth"
        self._channel.queue_declare(self.queue, passive=True, callback=self._depth_read)

    def _depth_read(self, frame: Any) -> None:
        self._pending = ""
        waiting = frame.method.message_count
        self.depth, self.depth_at = waiting, time.time()
        state = self.mailbox.state
        if self.paused and (state.state is not WorkerState.PAUSED or state.waiting != waiting):
            self._report(WorkerState.PAUSED, waiting=waiting)
        self._follow_wishes()

    def _rebind(self, wanted: ReceiverSpec) -> None:
        self._want_spec = None
        self._checking = True
        old = bindings(self.exchange_type, self.spec)
        # Only the bindings change: the queue, its kind and its consumer stay.
        self.spec = self.spec.with_bindings(wanted.keys, wanted.match, wanted.headers)
        new = bindings(self.exchange_type, self.spec)
        AsyncSteps(self._connection, self._rebind_steps(old, new), self._rebound, self._failed)

    def _rebind_steps(
        self, old: list[dict[str, Any]], new: list[dict[str, Any]]
    ) -> Steps[list[dict[str, Any]]]:
        exchange, queue = self.broker.exchange, self.queue
        channel = yield NewChannel()
        with _permission("queue.bind"):  # unbind needs the same permissions as bind
            for binding in new:
                if binding not in old:
                    yield call(channel, "queue_bind", queue=queue, exchange=exchange, **binding)
            for binding in old:
                if binding not in new:
                    yield call(channel, "queue_unbind", queue=queue, exchange=exchange, **binding)
        channel.close()
        return new

    def _rebound(self, new: list[dict[str, Any]]) -> None:
        self._checking = False
        self.bindings_applied = tuple(new)
        self._report(
            WorkerState.PAUSED if self.paused else WorkerState.CONSUMING,
            "bindings now: " + binding_text(new),
        )
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
        self._follow_wishes()

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
        if self._gives_up():
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
            channel.queue_delete(self.queue, callback=lambda _frame: close_quietly(connection))
            return
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
        kept = False
        if state in (WorkerState.CONSUMING, WorkerState.PAUSED) and self._kept_now:
            kept, self._kept_now = True, False  # said once, on the report after the reconnect
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
                kept,
            )
        )
