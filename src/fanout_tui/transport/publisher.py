"""Publishing to the exchange with confirms and ``mandatory=True``.

:class:`PublisherWorker` is the dashboard's publisher: a thread running pika's
asynchronous ``SelectConnection`` on its own IOLoop (``loop.py``). Requests
come from other threads through :meth:`PublisherWorker.publish`, which only
queues them and wakes the loop; outcomes go back through a deque the UI
drains, so neither side ever waits on the other. Confirms, returns and a
blocked connection arrive as callbacks while the loop reads (``confirms.py``),
so nothing in the thread waits for a confirm: during a broker resource alarm,
when the broker stops reading from publishing connections, the worker still
takes the next request, says what is happening and stops at once.

``publisher_sync.py`` has the same worker for a caller that waits
(``fanout-tui publish``, tests). What a publish came to is worked out in one
place, the worker's callbacks.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import pika.exceptions as pex

from ..model.outcomes import Outcome
from ..model.routing import routing_key_problem
from ..model.states import WorkerState
from .broker import BrokerSettings, mask_url, vhost_of
from .confirms import Confirms
from .errors import PathLost, refused
from .loop import Liveness, close_quietly
from .publish_result import (
    BLOCKED_PREFIX,
    EXCHANGE_REDECLARED,
    NOT_CONNECTED,
    InFlight,
    PublishRequest,
)
from .stamps import MessageProperties, new_origin, stamped_properties, unencodable
from .steps import AsyncSteps, Steps, call
from .topology import exchange_steps_for
from .worker import Reconnect, retrying


class PublisherWorker(Confirms):
    """Publishes requests in order from its own thread and connection.

    ``publish`` returns the sequence number at once; the outcome arrives later
    in ``drain_results``. A request that comes while a connection is being
    opened waits for it; while the broker is unreachable (between attempts),
    or blocks the connection (a resource alarm), requests fail at once with
    ``not sent: <reason>`` rather than waiting, so the UI can keep what the
    user typed. A message already written when a block came is reported
    ``held`` at once, and its final outcome when the confirm arrives; one
    written when the connection died is ``unknown``, never ``not sent``.

    With ``reconnect`` (the dashboard) every failure is retried with backoff,
    moving through the URLs; without it (``publisher_sync.Publisher``) the
    first failure ends the thread in :attr:`WorkerState.FAILED`, ``error`` holding it.

    Everything below "Worker thread" runs on the thread's IOLoop, one callback
    at a time; other threads only queue requests and :meth:`wake` it.
    """

    def __init__(
        self,
        broker: BrokerSettings,
        *,
        properties: MessageProperties | None = None,
        origin: str | None = None,
        max_results: int = 10_000,
        reconnect: bool = True,
    ) -> None:
        super().__init__("fanout-tui publisher", broker, max_results)
        self.origin = origin or new_origin()
        self.properties = properties or MessageProperties()
        self.reconnect = reconnect
        self._requests: deque[PublishRequest] = deque()
        self._wake_due = False  # a wake is on its way: requests need not send another
        self._seq = itertools.count(1)
        self._seq_lock = threading.Lock()
        self.redeclared = 0  # times the exchange was found deleted and declared again
        self.error: BaseException | None = None  # what ended a worker without reconnect
        # Worker thread only:
        self._retry = Reconnect(broker.urls)
        self._reason = ""  # why the last attempt failed, while waiting to try again
        self._retry_timer: Any = None
        self._liveness: Liveness | None = None
        # A connection or a channel is on its way: requests wait. True from the
        # start, so a request handled before the first connect begins waits too.
        self._opening = True
        self._waiting: list[PublishRequest] = []  # requests that came meanwhile
        self._tags = itertools.count(1)
        self._again: list[InFlight] = []  # to publish again once the channel is back
        self._final = WorkerState.STOPPED

    # Any thread ----------------------------------------------------------------
    def publish(
        self,
        body: bytes,
        properties: MessageProperties | None = None,
        *,
        routing_key: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> int:
        """Queue a message; its sequence number, at once. ``routing_key`` and
        ``headers`` are this message's own (the headers go with the
        properties' and the app's stamp, which they never override)."""
        with self._seq_lock:
            seq = next(self._seq)
        self.send(
            seq, body, properties or self.properties, routing_key=routing_key, headers=headers
        )
        return seq

    def send(
        self,
        seq: int,
        body: bytes,
        properties: MessageProperties,
        *,
        routing_key: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Queue a message under a sequence number the caller chose."""
        self._requests.append(PublishRequest(seq, body, properties, routing_key, headers))
        if not self._wake_due:
            # One wake carries every request queued before it is handled.
            self._wake_due = True
            self.wake()

    def reserve(self, count: int) -> int:
        """Set aside ``count`` consecutive sequence numbers (for a burst); the first."""
        with self._seq_lock:
            first = next(self._seq)
            self._seq = itertools.count(first + count)
        return first

    # Worker thread: connecting -------------------------------------------------
    def begin(self) -> None:
        self._connect()
        self._take_requests()  # any queued before the loop ran, when no wake could come

    def _connect(self) -> None:
        self._retry_timer = None
        retry = self._retry
        url = retry.url
        self.url = mask_url(url)
        self._vhost = vhost_of(url)
        self._opening = True
        # While a reconnect is in flight the header still says why the last
        # connection or attempt failed.
        self._set_state(retry.state, self._reason, attempt=retry.attempt)
        params = self.broker.parameters(url, "fanout-tui publisher")
        # Nothing waits on this connection, so a block need not be cut short:
        # a held message's confirm arrives on it once the alarm clears.
        params.blocked_connection_timeout = None
        try:
            connection = self.open_connection(
                params, self._opened, self._connection_closed, self._connection_closed
            )
        except Exception as exc:  # parameters pika refuses to use
            self._attempt_failed(exc)
            return
        connection.add_on_connection_blocked_callback(self._on_blocked)
        connection.add_on_connection_unblocked_callback(self._on_unblocked)
        self._connection = connection

    def _opened(self, connection: Any) -> None:
        if connection is not self._connection:
            return
        self._liveness = Liveness.of(connection, self._path_lost)
        self._open_channel(self._attempt_failed)

    def _path_lost(self, exc: PathLost) -> None:
        # Before the channel is ready this is a failed attempt (backoff, next
        # node); after, a connection lost (what was written is unknown).
        if self.state.state is WorkerState.READY:
            self._lost(exc)
        else:
            self._attempt_failed(exc)

    def _open_channel(self, on_error: Callable[[BaseException], None], found: str = "") -> None:
        """``found``: the exchange's type when it was found deleted, to declare
        it again as what it was (at connect any type is taken)."""
        self._opening = True
        AsyncSteps(self._connection, self._channel_steps(found), self._channel_ready, on_error)

    def _channel_steps(self, found: str) -> Steps[Any]:
        channel, self.exchange_type = yield from exchange_steps_for(self.broker, found)
        yield call(channel, "confirm_delivery", ack_nack_callback=self._confirmer(channel))
        return channel

    def _channel_ready(self, channel: Any) -> None:
        channel.add_on_return_callback(self._on_returned)
        channel.add_on_close_callback(self._channel_closed)
        self._channel = channel
        self._tags = itertools.count(1)  # delivery tags count per channel
        self._opening = False
        if self.state.state is not WorkerState.READY:
            self._retry.succeeded()
            self._reason = ""
            self._set_state(WorkerState.READY)
        again, self._again = self._again, []
        for message in again:
            self.redeclared += 1
            self._publish(message)
        waiting, self._waiting = self._waiting, []
        for request in waiting:
            self._write(request)
        self._take_requests()

    # Worker thread: publishing -------------------------------------------------
    def woken(self) -> None:
        self._take_requests()

    def _take_requests(self) -> None:
        self._wake_due = False  # before taking: a request queued after this wakes again
        requests = self._requests
        while requests:
            request = requests.popleft()
            if self._channel is not None:
                self._write(request)
            elif self._opening:
                self._waiting.append(request)  # written once the channel is ready
            else:
                self._fail(request, self._reason or NOT_CONNECTED)

    def _write(self, request: PublishRequest) -> None:
        """Write one message; its outcome comes with its confirm. Refused at once
        (``not sent``) only when it was not written: unencodable properties, or a
        connection the broker blocks, where it would only wait unread."""
        sent_at = time.time()
        properties = stamped_properties(
            self.origin, request.seq, sent_at, request.properties, request.headers
        )
        problem = routing_key_problem(request.routing_key) or unencodable(properties)
        if not problem and self.blocked:
            problem = f"{BLOCKED_PREFIX}: {self.blocked}; the message was not written"
        if problem:
            self._fail(request, problem, sent_at)
            return
        self._publish(InFlight(request.seq, request.body, properties, sent_at, request.routing_key))

    def _publish(self, message: InFlight) -> None:
        """Write one message, or fail that message alone: pika encodes every
        frame of a message before it writes any, so an error it raises here
        means nothing was written (``not sent`` is the truth), and the
        connection and the worker go on with the next one."""
        try:
            self._channel.basic_publish(
                exchange=self.broker.exchange,
                routing_key=message.routing_key,
                body=message.body,
                properties=message.properties,
                mandatory=True,
            )
        except (pex.ChannelWrongStateError, pex.ConnectionWrongStateError):
            reason = f"{NOT_CONNECTED} (its channel was closing); the message was not written"
            self._emit(self._result(message, Outcome.FAILED, reason, time.time()))
            return
        except Exception as exc:  # pika raises several kinds (encoding, range, type)
            reason = f"the message could not be encoded: {type(exc).__name__}: {exc}"
            self._emit(self._result(message, Outcome.FAILED, reason[:300], time.time()))
            return
        self._in_flight[next(self._tags)] = message

    # Worker thread: the channel closed ------------------------------------------
    def _channel_closed(self, channel: Any, reason: BaseException) -> None:
        """The broker closed the channel: what it had not confirmed was not routed.

        A 404 means someone deleted the exchange: it is declared again and those
        messages are published once more, with a note that says so.
        """
        if channel is not self._channel:
            return
        self._channel = None
        if self.stopping or not isinstance(reason, pex.ChannelClosedByBroker):
            return  # the connection is closing: its own callback takes it from here
        waiting = list(self._in_flight.values())
        self._in_flight.clear()
        self._returned_seqs.clear()
        # A 403 here is a publish refused: the user lacks write on the exchange.
        why = self._describe(refused(reason, "basic.publish"))
        missing = reason.reply_code == 404
        if missing:  # declared again, as the type it had: whatever replaced it is gone
            self.exchange_problem = ""
        now = time.time()
        for message in waiting:
            if missing and not message.note:
                message.note = EXCHANGE_REDECLARED
                self._again.append(message)  # published once the channel is back
            else:
                self._emit(self._result(message, Outcome.FAILED, why, now))
        self._open_channel(self._lost, self.exchange_type if missing else "")

    # Worker thread: failures and the end ---------------------------------------
    def _connection_closed(self, connection: Any, reason: BaseException) -> None:
        """The connection closed, or could not be opened."""
        if connection is not self._connection:
            return  # one given up on earlier, closing at last
        self._connection = None
        if self.stopping:
            self.finish()
        elif self.state.state is WorkerState.READY:
            self._lost(reason)
        else:
            self._attempt_failed(reason)

    def _lost(self, exc: BaseException) -> None:
        """A connection that worked failed: every message written without a
        confirm may or may not have reached a queue, so each is ``unknown``."""
        if self.stopping:
            self.shut_down()
            return
        reason = self._describe(exc)
        now = time.time()
        for message in self._in_flight.values():
            self._emit(self._result(message, Outcome.UNKNOWN, reason, now))
        self._drop_connection(reason)
        if not self.reconnect:
            self._give_up(exc)
            return
        self._reason = reason
        self._retry.lost()
        self._connect()  # at once, on the same node

    def _attempt_failed(self, exc: BaseException) -> None:
        """Connecting failed: try the next node after a backoff; meanwhile
        requests fail at once, with this reason."""
        if self.stopping:
            self.shut_down()
            return
        reason = self._describe(exc)
        self._drop_connection(reason)
        if not self.reconnect:
            self._give_up(exc)
            return
        self._reason = reason
        delay = self._retry.failed()
        self._set_state(WorkerState.RECONNECTING, retrying(reason, delay), self._retry.attempt)
        self._retry_timer = self.ioloop.call_later(delay, self._connect)
        self._take_requests()

    def _drop_connection(self, reason: str) -> None:
        """Forget the connection (if open, it closes by itself later on this
        IOLoop); requests waiting for it are not sent."""
        connection, self._connection, self._channel = self._connection, None, None
        self._opening = False
        self._in_flight.clear()
        self._returned_seqs.clear()
        self._checking = False
        unchecked, self._unchecked = self._unchecked, []
        for result in unchecked:
            # Confirmed unroutable; the type check went with the connection.
            self._emit(self._keyed(result))
        now = time.time()
        again, self._again = self._again, []
        for message in again:
            # Refused by the broker (its exchange was missing), so never routed.
            self._emit(self._result(message, Outcome.FAILED, reason, now))
        waiting, self._waiting = self._waiting, []
        for request in waiting:
            self._fail(request, reason)
        if self._liveness is not None:
            self._liveness.stop()
            self._liveness = None
        self.blocked = ""
        self.ready.set()
        close_quietly(connection)

    def _give_up(self, exc: BaseException) -> None:
        self.error = exc
        self._final = WorkerState.FAILED
        self.finish()

    def shut_down(self) -> None:
        if self._retry_timer is not None:
            self.ioloop.remove_timeout(self._retry_timer)
            self._retry_timer = None
        if self._liveness is not None:
            self._liveness.stop()
            self._liveness = None
        connection = self._connection
        if connection is None or not (connection.is_open or connection.is_closing):
            self.finish()  # nothing to close cleanly (see close_quietly)
            return
        close_quietly(connection)
        if self.blocked:
            # The broker does not read a blocked connection, so its Close-Ok
            # would never come: the Close is left to be read when the alarm
            # clears, and the thread ends now.
            self.finish()
        # Otherwise the connection's close callback finishes.

    def crashed(self, exc: Exception) -> None:
        self.error = exc
        self._final = WorkerState.FAILED

    def finished(self) -> None:
        self.blocked = ""
        detail = ""
        if self._final is WorkerState.FAILED and self.error is not None:
            detail = self._describe(self.error)
        self._set_state(self._final, detail)
