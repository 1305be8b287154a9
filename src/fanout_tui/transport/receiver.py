"""A receiver: one thread, one connection, one exclusive server-named queue.

This is the tutorial's ``receive_logs.py`` as a thread: declare the fanout
exchange, declare ``queue=""`` exclusive, bind, consume. Deliveries and state
changes go to a :class:`Mailbox`, which never blocks.

Like the tutorial it consumes with ``auto_ack``: with manual acknowledgements
the broker does about twice the work per delivery (it keeps every message until
acked), and with a local broker on two cores that cost a fifth of the throughput
at 8 receivers (measured, benchmarks/). Pausing cancels the consumer; what was in
flight then is caught rather than dropped, and deliveries reach us straight from
pika's frame parser (both in ``direct.py``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pika
import pika.exceptions as pex

from ..model.delivery import Delivery
from ..model.mailbox import Mailbox
from ..model.states import StateChange, WorkerState
from .broker import BrokerSettings, mask_url, vhost_of
from .direct import DirectConsumer, end_wait
from .errors import describe_error, refused
from .topology import declare_exchange
from .worker import Reconnect, Worker, retrying

TOPOLOGY_CHECK_INTERVAL = 3.0  # seconds between checks that the exchange and binding exist
DEPTH_INTERVAL = 1.0  # seconds between queue-depth reads while paused


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
    """Our queue was deleted: the broker cancelled our consumer, or (paused) the
    depth check found the queue gone."""

    def __init__(self, how: str = "the broker cancelled the consumer") -> None:
        super().__init__(how)
        self.how = how

    def __str__(self) -> str:
        return f"its queue was deleted ({self.how})"


class ReceiverWorker(Worker):
    """Consume a fanout exchange through a fresh exclusive queue until stopped.

    Every failure moves to the next URL, with backoff. With ``reconnect`` (the
    dashboard, ``listen``) that goes on for as long as it runs; without it
    (``listen --no-reconnect``) losing a connection that worked is final.
    Before any connection has worked, ``start_attempts`` failures are final
    (``listen``: one try per URL, so a wrong URL or password ends it);
    ``None`` means one per URL without ``reconnect`` and no limit with it.
    A final failure ends in :attr:`WorkerState.FAILED`, ``error`` saying why.
    """

    def __init__(
        self,
        broker: BrokerSettings,
        mailbox: Mailbox,
        *,
        name: str = "receiver",
        reconnect: bool = True,
        start_attempts: int | None = None,
    ) -> None:
        super().__init__(f"fanout-tui {name}")
        self.label = name
        self.broker = broker
        self.mailbox = mailbox
        self.reconnect = reconnect
        if start_attempts is None and not reconnect:
            start_attempts = len(broker.urls)
        self.start_attempts = start_attempts
        self._connected_once = False
        self._start_failures = 0
        self.queue = ""
        self.url = ""  # masked URL of the node in use
        self.error: str | None = None
        self._retry = Reconnect(broker.urls)
        self._connection: Any = None
        self._cancelled = False
        self._check_due = False
        self._depth_due = False
        self._depth_timer_armed = False
        # What the user asked for; the worker thread acts on it between waits.
        self._want_paused = False
        self.paused = False  # what the worker thread has done (its own view)

    # Any thread ----------------------------------------------------------------
    def wake(self) -> None:
        connection = self._connection
        if connection is not None:
            # The only pika call that is safe from another thread: it wakes
            # process_data_events so the loop sees a stop or pause at once. If the
            # connection is closed already, the loop ends by itself.
            with contextlib.suppress(Exception):
                connection.add_callback_threadsafe(end_wait)

    def check_topology_soon(self) -> None:
        """Check the exchange and the binding at the next turn, not in up to 3 s
        (the publisher found the exchange deleted and declared it again)."""
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

    # Worker thread -------------------------------------------------------------
    def run(self) -> None:
        retry = self._retry
        final = WorkerState.STOPPED
        try:
            while not self.stopping:
                url = retry.url
                self.url = mask_url(url)
                self._report(retry.state, attempt=retry.attempt)
                try:
                    self._consume(url)
                    break  # returned normally: a stop was requested
                except Exception as exc:
                    if self.stopping:
                        break
                    queue_deleted = isinstance(exc, QueueCancelled)
                    if queue_deleted:
                        self.error = str(exc)  # not a connection failure: no class name
                    else:
                        self.error = describe_error(exc, self.url, vhost_of(url))
                    if self._gives_up():
                        final = WorkerState.FAILED
                        break
                    self.queue = ""
                    delay = retry.failed()
                    self._report(
                        WorkerState.RECONNECTING,
                        retrying(self.error, delay),
                        attempt=retry.attempt,
                        queue_deleted=queue_deleted,
                    )
                    self.sleep(delay)
                finally:
                    self._close()
        finally:
            self._report(final, (self.error or "") if final is WorkerState.FAILED else "")

    def _gives_up(self) -> bool:
        """Whether the failure just met is final (see the class)."""
        if self._connected_once:
            return not self.reconnect
        self._start_failures += 1
        return self.start_attempts is not None and self._start_failures >= self.start_attempts

    def _consume(self, url: str) -> None:
        params = self.broker.parameters(url, f"fanout-tui {self.label}")
        self._cancelled = False
        self.paused = False
        self._depth_timer_armed = False  # timers die with their connection
        self._connection = connection = pika.BlockingConnection(params)
        if self.stopping:
            return
        channel = declare_exchange(connection, self.broker.exchange)
        # Each step needs its own permission (configure on the server-named
        # queue, write on it and read on the exchange to bind, read to consume);
        # a refusal says which one, on what.
        with _permission("queue.declare"):
            declared = channel.queue_declare(queue="", exclusive=True)
        queue = declared.method.queue
        with _permission("queue.bind"):
            channel.queue_bind(queue=queue, exchange=self.broker.exchange)
        consumer = DirectConsumer(connection, channel, self._on_message, self._on_cancel)
        self.queue = queue
        self.error = None
        self._retry.succeeded()  # a failure from here on starts the backoff afresh
        if self._want_paused:
            self._pause_started(connection)
        else:
            self._start_consuming(consumer, queue)
        # Only now has it worked: a refused consume is still a start failure.
        self._connected_once = True
        self._check_due = False
        checked_at = self.mailbox.received
        connection.call_later(TOPOLOGY_CHECK_INTERVAL, self._topology_timer)
        while not self.stopping:
            # Deliveries are handed over inside this call as they are read; it
            # returns on a timer, a broker cancel, or a threadsafe wake-up from
            # stop or pause (queued, never lost; a stop before the connection
            # existed is caught by the check above). No time limit: with one,
            # pika arms a timer on every call, which under a burst costs about a
            # tenth of the throughput.
            connection.process_data_events(time_limit=None)  # type: ignore[arg-type]
            if self._cancelled:
                raise QueueCancelled()
            if self._want_paused and not self.paused:
                consumer.cancel()
                self._pause_started(connection)
            elif self.paused and not self._want_paused:
                self.paused = False
                self._start_consuming(consumer, queue)
            if self._depth_due and self.paused:
                self._depth_due = False
                self._report_depth(channel, queue)
                if not self._depth_timer_armed:  # one timer chain, however often paused
                    self._depth_timer_armed = True
                    connection.call_later(DEPTH_INTERVAL, self._depth_timer)
            if self._check_due:
                self._check_due = False
                # Only on a quiet connection. The check's replies queue up behind
                # every delivery the broker has in flight to us (with a blocking
                # consumer pika read them all into memory meanwhile: hundreds of
                # MB under a burst, measured). Deliveries arriving prove the
                # binding works anyway; a deleted exchange stops them, and then
                # the check runs.
                if self.mailbox.received == checked_at:
                    self._check_topology(connection, queue)
                checked_at = self.mailbox.received
                connection.call_later(TOPOLOGY_CHECK_INTERVAL, self._topology_timer)

    def _start_consuming(self, consumer: DirectConsumer, queue: str) -> None:
        # Reported at the consume-ok itself, so its count of deliveries handed
        # over marks exactly where this queue's deliveries begin.
        with _permission("basic.consume"):
            consumer.start(queue, lambda: self._report(WorkerState.CONSUMING))

    def _pause_started(self, connection: Any) -> None:
        self.paused = True
        self._depth_due = True  # read the depth at once, then every DEPTH_INTERVAL
        connection.add_callback_threadsafe(end_wait)

    def _depth_timer(self) -> None:
        self._depth_timer_armed = False
        self._depth_due = True

    def _report_depth(self, channel: Any, queue: str) -> None:
        """Passive declare: how many messages wait in the paused queue.

        Safe here, unlike while consuming: a paused queue has nothing in flight
        to us, so the reply does not wait behind deliveries.
        """
        try:
            declared = channel.queue_declare(queue=queue, passive=True)
        except pex.ChannelClosedByBroker as exc:
            if exc.reply_code == 404:
                raise QueueCancelled("found missing while paused") from exc
            raise
        waiting = declared.method.message_count
        if self.mailbox.state.state is not WorkerState.PAUSED or (
            self.mailbox.state.waiting != waiting
        ):
            self._report(WorkerState.PAUSED, waiting=waiting)

    def _topology_timer(self) -> None:
        # Runs inside process_data_events: only flag it, do the RPCs outside.
        self._check_due = True

    def _check_topology(self, connection: Any, queue: str) -> None:
        """Notice an exchange deleted (or replaced) under us, and repair it.

        Deleting an exchange silently removes its bindings: the queue lives on
        and simply stops receiving. So every few seconds: is the exchange still
        there? Declare it again if not (a type conflict raises, and the pane
        says so while the worker retries), and bind again (idempotent).
        """
        exchange = self.broker.exchange
        probe = connection.channel()
        try:
            probe.exchange_declare(exchange=exchange, passive=True)
            # Bound again every time (idempotent): an exchange deleted and declared
            # again by someone else between two checks exists, but without our binding.
            probe.queue_bind(queue=queue, exchange=exchange)
            probe.close()
            missing = False
        except pex.ChannelClosedByBroker as exc:
            if exc.reply_code != 404:
                raise
            missing = True
        channel = declare_exchange(connection, exchange)
        channel.queue_bind(queue=queue, exchange=exchange)
        channel.close()
        if missing:
            # Every receiver's binding went with the exchange; the others find it
            # back already, so this one receiver's report speaks for all of them.
            self._report(
                WorkerState.PAUSED if self.paused else WorkerState.CONSUMING,
                note=f"exchange {exchange!r} was deleted; declared it again and re-bound the "
                "queues (messages published meanwhile reached no queue)",
            )

    def _on_message(self, _channel: Any, method: Any, properties: Any, body: bytes) -> None:
        self.mailbox.put_delivery(delivery_from(method, properties, body, self.queue, time.time()))

    def _on_cancel(self) -> None:
        self._cancelled = True

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and connection.is_open:
            # If the broker is gone, the exclusive queue went with the connection.
            with contextlib.suppress(pex.AMQPError, OSError):
                connection.close()

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
