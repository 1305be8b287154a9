"""An auto-ack consumer whose callback runs as each delivery is read.

pika's ``BlockingChannel`` turns every delivery into an event object, queues
it and dispatches it from ``process_data_events``. Registered on the pika
``Channel`` underneath instead, the callback runs straight from the frame
parser. Measured with 8 consumer threads, alternating with the blocking
consumer (README, Performance): 3-5 us less CPU per delivery, 3-35% more
deliveries/s. That share is what the dashboard's UI thread can then use
without falling behind the raw pika ceiling.

Receivers also take turns: one thread at a time hands over deliveries, holding
the turn until its read is handled (at most pika's 100 KB per poll). The GIL lets
only one run at a time anyway; what the turn changes is how many threads wait
for the GIL at once. With 8 hungry consumer threads the UI thread waited behind
all of them, and the event loop's p99 lateness under a burst was 110-135 ms;
taking turns, the UI thread competes with one or two and it was 26-36 ms, with
deliveries/s no lower (alternating runs, README Performance).

Everything else (declares, binds, passive checks) stays on the blocking API;
only consuming and cancelling go through the channel underneath, which pika
1.x exposes as ``BlockingChannel._impl``, and a delivery's frames skip pika's
search for callbacks that never exist for them (``Connection._process_frame``).
pika is pinned below 2, and the receiver tests (consume, pause during a
backlog, a deleted queue, hostile bodies and headers) cover each internal this
module touches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pika
import pika.exceptions as pex
from pika import frame, spec

OnMessage = Callable[[Any, Any, Any, bytes], None]

# Held by one receiver thread at a time, only inside a pika poll (see above).
_TURN = threading.Lock()


class DirectConsumer:
    """One auto-ack consumer on ``channel`` (a ``BlockingChannel``) of ``connection``.

    Use only from the thread that owns the connection. ``on_cancelled`` runs
    when the broker cancels the consumer (its queue was deleted).
    """

    def __init__(
        self,
        connection: Any,
        channel: Any,
        on_message: OnMessage,
        on_cancelled: Callable[[], None],
    ) -> None:
        self._connection = connection
        self._impl = impl = channel._impl
        self._on_message = self._taking_turns(on_message)
        self._has_turn = False
        self.tag = ""
        # Every wait for the broker, in every BlockingConnection call, is this poll.
        ioloop = connection._impl.ioloop
        poll = ioloop.poll

        def poll_then_pass_turn() -> None:
            try:
                poll()
            finally:
                if self._has_turn:
                    self._has_turn = False
                    _TURN.release()

        ioloop.poll = poll_then_pass_turn
        _deliveries_straight_to_channel(connection._impl)
        # BlockingChannel's own consumer bookkeeping would trip over ours: its
        # handler for a broker's Basic.Cancel looks the consumer up among its own
        # (a KeyError inside pika), and its consume-ok result may be set only once
        # per BlockingChannel.basic_consume (an assertion on our second consume).
        for method, handler in (
            (spec.Basic.Cancel, channel._on_consumer_cancelled_by_broker),
            (spec.Basic.ConsumeOk, channel._basic_consume_ok_result.signal_once),
        ):
            if not impl.callbacks.remove(impl.channel_number, method, handler):
                version = getattr(pika, "__version__", "?")
                raise RuntimeError(f"unsupported pika version {version}")

        def cancelled(_frame: Any) -> None:
            on_cancelled()
            self._wake()

        impl.add_on_cancel_callback(cancelled)

    def _taking_turns(self, on_message: OnMessage) -> OnMessage:
        # Deliveries are handed over only from inside a poll, whose end passes
        # the turn on, so the turn is never kept past the read it was taken for.
        def handed(channel: Any, method: Any, properties: Any, body: bytes) -> None:
            if not self._has_turn:
                _TURN.acquire()
                self._has_turn = True
            on_message(channel, method, properties, body)

        return handed

    def start(self, queue: str, on_consuming: Callable[[], None]) -> None:
        """Consume ``queue``; returns once the broker has said consume-ok.

        ``on_consuming`` runs at the consume-ok, before any delivery is handed
        over: deliveries that follow it in the same read are handed over before
        this returns.
        """
        done: list[bool] = []

        def consuming(_frame: Any) -> None:
            on_consuming()
            self._signal(done)

        self.tag = self._impl.basic_consume(
            queue, self._on_message, auto_ack=True, callback=consuming
        )
        self._wait(done)

    def cancel(self) -> None:
        """Cancel, handing over every delivery that was still in flight.

        With auto_ack the broker counts a message as delivered once sent, so
        what arrives between basic.cancel and its cancel-ok is ours to show, but
        pika's channel silently drops it (``Channel._on_deliver``; measured:
        thousands when pausing during a backlog). For the length of the cancel
        those deliveries are handed over instead, in order. Under a heavy burst
        the cancel waits behind what the broker already sent (measured: ~10,000
        messages, a fraction of a second).
        """
        impl, tag = self._impl, self.tag
        drop = impl._on_deliver

        def keep(method_frame: Any, header_frame: Any, body: bytes) -> None:
            method = method_frame.method
            if method.consumer_tag == tag and tag in impl._cancelled:
                self._on_message(impl, method, header_frame.properties, body)
            else:
                drop(method_frame, header_frame, body)

        done: list[bool] = []
        impl._on_deliver = keep
        try:
            impl.basic_cancel(tag, callback=lambda _frame: self._signal(done))
            self._wait(done)
        finally:
            del impl._on_deliver
        self.tag = ""

    def _signal(self, done: list[bool]) -> None:
        done.append(True)
        self._wake()

    def _wake(self) -> None:
        # A ready event ends the current process_data_events wait. Deliveries
        # themselves never do (they bypass BlockingChannel's events), and a
        # broker's reply arrives inside pika's frame parser.
        self._connection.add_callback_threadsafe(end_wait)

    def _wait(self, done: list[bool]) -> None:
        while not done:
            self._connection.process_data_events(time_limit=None)
            if not self._impl.is_open:
                # The broker's reason (e.g. a 403 for a missing read permission)
                # is worth more than ours; pika keeps it on the channel.
                reason = getattr(self._impl, "_closing_reason", None)
                if isinstance(reason, pex.ChannelClosedByBroker):
                    raise reason
                raise ConnectionError("the channel closed while waiting for the broker")


def _deliveries_straight_to_channel(connection: Any) -> None:
    """A delivery's three frames go straight to their channel.

    For every method frame pika first looks for a callback registered for it,
    building name strings to do so; nothing is ever registered for Basic.Deliver
    (deliveries are assembled by the channel), and header and body frames have
    none either. Profiled, that search was a sixth of a receiver's CPU; without
    it 8 receivers alone used 12% less CPU and reached 1.02-1.11 of the raw pika
    ceiling instead of 0.92-1.02 (alternating runs).
    """
    process_frame = connection._process_frame
    content = (frame.Header, frame.Body)
    deliver = spec.Basic.Deliver

    def straight(value: Any) -> None:
        kind = type(value)
        if kind in content or (kind is frame.Method and type(value.method) is deliver):
            channel = connection._channels.get(value.channel_number)
            if channel is not None:
                connection.frames_received += 1
                channel._handle_content_frame(value)
                return
        process_frame(value)

    connection._process_frame = straight


def end_wait() -> None:
    """Queued with ``add_callback_threadsafe``; running it ends the connection's
    current ``process_data_events`` wait, which is its only job."""
