"""A receiver's consuming side: its state, the consumer, and each delivery.

:class:`Consumer` holds everything a receiver worker knows (the queue, the
channel, what was shown and acked, what was asked for) and consumes: the
consume and its arguments, each delivery handed to the :class:`Mailbox` as it
is parsed, manual acks a window at a time with one ``multiple`` ack per read, a
slow consumer's delay, repeats skipped (a stream's offsets below where it
resumed, a redelivery after a reconnect), and the auto-ack accounting of what
pika drops at a pause. Its state changes go out through :meth:`Consumer._report`.

``upkeep.py`` adds pausing, depths, binding edits and the topology check;
``receiver.py`` the connecting, the failures and the end.
"""

from __future__ import annotations

import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

from ..model.delivery import Delivery
from ..model.ledger import Attached, Binding, Ledger
from ..model.mailbox import Mailbox
from ..model.receiver_spec import ReceiverSpec
from ..model.states import StateChange, WorkerState
from .broker import BrokerSettings
from .loop import Liveness, LoopWorker
from .queues import QUEUE_CAP, binding_text, consume_arguments, prefetch_of
from .redelivery import ShownWindow
from .turns import TURN
from .worker import Reconnect

TOPOLOGY_CHECK_INTERVAL = 3.0  # seconds between checks that the exchange and binding exist
DEPTH_INTERVAL = 1.0  # seconds between queue-depth reads while paused
# Unacknowledged deliveries the broker may have in flight to one receiver. The
# window must outlast several of pika's reads so the broker never waits for an
# ack (in alternating runs a window of 2,000 or less cost throughput; unlimited
# gained nothing over this); bounded, a pause rejects at most this many back to
# the queue. Acks go once per read, or every ACK_EVERY deliveries within one.
PREFETCH = 10_000
ACK_EVERY = PREFETCH // 4
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


class QueueCancelled(Exception):
    """Our queue was deleted: the broker cancelled our consumer, or the depth
    check found the queue gone."""

    def __init__(self, how: str = "the broker cancelled the consumer") -> None:
        super().__init__(how)
        self.how = how

    def __str__(self) -> str:
        return f"its queue was deleted ({self.how})"


class Consumer(LoopWorker):
    """The state of a receiver worker and its consuming (see the module, and
    :class:`~fanout_tui.transport.receiver.ReceiverWorker` for the whole).

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
        ledger: Ledger | None = None,
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
        self.ledger = ledger  # the record of the queues the app created, across runs
        self._attached = Attached()  # what the record said at the last set-up, until reported
        self._delete_on_stop: bool | None = None  # None: decided by created and keep
        self.depth: int | None = None  # messages ready in the queue, as last read
        self.depth_at = 0.0  # time.time() of that reading
        # That reading with the mailbox's count of deliveries when it was asked.
        self.depth_reading: tuple[int, int] | None = None
        self._depth_asked = 0
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

    # Worker thread: consuming -------------------------------------------------
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

    # Worker thread: what the other parts provide ------------------------------
    def _failed(self, exc: BaseException) -> None:
        """Give the connection up and try again later, or for good (receiver.py)."""
        raise NotImplementedError

    def _follow_wishes(self) -> None:
        """Move towards what was asked for (upkeep.py)."""
        raise NotImplementedError

    def _channel_closed(self, channel: Any, reason: BaseException) -> None:
        """The consuming channel closed (receiver.py)."""
        raise NotImplementedError

    # Worker thread: reporting --------------------------------------------------
    def _stale_text(self, binding: Binding) -> str:
        """A binding an earlier run left: its words, and its exchange if not ours."""
        exchange = binding.get("exchange", "")
        words = binding_text([binding])
        return words if exchange == self.broker.exchange else f"{words} on {exchange!r}"

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
        found = Attached()
        if state in (WorkerState.CONSUMING, WorkerState.PAUSED):
            if self._kept_now:
                kept, self._kept_now = True, False  # said once, on the report after the reconnect
            found, self._attached = self._attached, Attached()  # said once too
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
                found.leftover_of,
                tuple(self._stale_text(b) for b in found.stale),
            )
        )
