"""Publishing to the fanout exchange with confirms and ``mandatory=True``.

:class:`PublisherWorker` is the dashboard's publisher: a thread running pika's
asynchronous ``SelectConnection`` on its own IOLoop (``loop.py``). Requests
come from other threads through :meth:`PublisherWorker.publish`, which only
queues them and wakes the loop; outcomes go back through a deque the UI
drains, so neither side ever waits on the other. Confirms, returns and a
blocked connection arrive as callbacks while the loop reads, so nothing in the
thread waits for a confirm: during a broker resource alarm, when the broker
stops reading from publishing connections, the worker still takes the next
request, says what is happening and stops at once.

:class:`Publisher` is the same worker for a caller that waits
(``fanout-tui publish``, tests): one node, no reconnecting, each publish
waiting for its own outcome with a time limit. What a publish came to is
worked out in one place, the worker's callbacks.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pika
import pika.exceptions as pex

from ..model.delivery import ORIGIN_HEADER, SENT_HEADER, SEQ_HEADER
from ..model.outcomes import Outcome
from ..model.states import StateChange, WorkerState
from ..present.outcomes import describe_outcome
from ..present.text import sanitize
from .broker import BrokerSettings, mask_url, vhost_of
from .errors import ExchangeTypeConflict, PathLost, describe_error, refused
from .loop import Liveness, LoopWorker, close_quietly
from .steps import AsyncSteps, Steps, call
from .topology import exchange_steps_for
from .worker import Reconnect, retrying


@dataclass(frozen=True)
class MessageProperties:
    """The AMQP properties the next publishes use; the tutorial's by default."""

    content_type: str | None = "text/plain"
    delivery_mode: int = 1
    headers: Mapping[str, Any] = field(default_factory=dict)


# The reason of a publish refused because the broker blocks the connection.
BLOCKED_PREFIX = "the broker is blocking publishers"
# The note of a message published again after its exchange was found deleted (404).
EXCHANGE_REDECLARED = "the exchange was missing (deleted?) and was declared again"
# ... and of such a message that then reached no queue: the receivers re-bind soon.
_REDECLARED_UNROUTABLE = f"{EXCHANGE_REDECLARED}; no queue is bound to it yet"
NOT_CONNECTED = "not connected to the broker"


@dataclass(frozen=True)
class PublishResult:
    seq: int
    # Never PUBLISHING. HELD is interim: the final outcome of that seq follows.
    status: Outcome
    body: bytes
    exchange: str
    reason: str = ""
    sent_at: float = 0.0
    done_at: float = 0.0
    routing_key: str = ""  # the key it was published with

    @property
    def ok(self) -> bool:
        return self.status is Outcome.ROUTED

    def describe(self) -> str:
        """The one-line outcome shown to a person: ``#7 routed to exchange 'logs'``."""
        return f"#{self.seq} {describe_outcome(self.status, self.exchange, self.reason)}"


def new_origin() -> str:
    """The stamp that tells this app's messages from other programs'."""
    return uuid.uuid4().hex[:12]


def stamped_properties(
    origin: str,
    seq: int,
    sent_at: float,
    props: MessageProperties,
    headers: Mapping[str, Any] | None = None,
) -> pika.BasicProperties:
    """The properties a message of this app goes out with: ``props``, this
    message's own ``headers`` over the properties' ones, and the app's stamp
    (sequence number, send time, origin), which wins over headers of the same
    names: the stamp is how the app tells its messages apart, never the user's."""
    headers = {**props.headers, **(headers or {})}
    headers[SEQ_HEADER] = seq
    headers[SENT_HEADER] = int(sent_at * 1_000_000)
    headers[ORIGIN_HEADER] = origin
    return pika.BasicProperties(
        content_type=props.content_type,
        delivery_mode=props.delivery_mode,
        headers=headers,
        timestamp=int(sent_at),
        message_id=f"{origin}-{seq}",
        app_id="fanout-tui",
    )


def unencodable(properties: Any) -> str:
    """Why pika could not encode these properties ("" if it can).

    Checked before publishing: pika sends the method frame before it encodes
    the properties, so a failure there would leave the connection half-way
    through a message, broken for everything after it.
    """
    try:
        properties.encode()
    except Exception as exc:  # pika raises several kinds (unsupported type, too long, range)
        return f"the message's properties cannot be sent: {type(exc).__name__}: {exc}"[:300]
    return ""


def check_properties(props: MessageProperties, headers: Mapping[str, Any] | None = None) -> None:
    """Raise ValueError, with a one-line reason, if pika could not send these."""
    problem = unencodable(stamped_properties("check", 0, time.time(), props, headers))
    if problem:
        raise ValueError(problem)


@dataclass(frozen=True)
class _Request:
    seq: int
    body: bytes
    properties: MessageProperties
    routing_key: str = ""
    headers: Mapping[str, Any] | None = None  # this message's own, besides the properties'


@dataclass(slots=True)
class _InFlight:
    seq: int
    body: bytes
    properties: Any
    sent_at: float
    routing_key: str = ""
    note: str = ""  # EXCHANGE_REDECLARED once published again


def unroutable_reason(exchange_type: str, routing_key: str) -> str:
    """Why a message came back unroutable from an exchange of this type ("" for
    the fanout wording, "no queue is bound"): on a routing exchange it is that
    no binding matched, which names what it was matched by."""
    if exchange_type == "headers":
        return "no binding matches its headers"
    if exchange_type in ("direct", "topic") or (exchange_type == "" and routing_key):
        return f"no binding matches routing key {routing_key!r}"
    return ""


class PublisherWorker(LoopWorker):
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
    moving through the URLs; without it (:class:`Publisher`) the first failure
    ends the thread in :attr:`WorkerState.FAILED`, ``error`` holding it.

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
        super().__init__("fanout-tui publisher")
        self.broker = broker
        self.origin = origin or new_origin()
        self.properties = properties or MessageProperties()
        self.reconnect = reconnect
        self.state = StateChange(WorkerState.CONNECTING)
        self.ready = threading.Event()  # set whenever results or states arrive
        self._requests: deque[_Request] = deque()
        self._wake_due = False  # a wake is on its way: requests need not send another
        self._results: deque[PublishResult] = deque(maxlen=max_results)
        self._seq = itertools.count(1)
        self._seq_lock = threading.Lock()
        # Why the broker blocks publishers, and why the exchange is no fanout
        # ("" when not); the UI reads them.
        self.blocked = ""
        self.exchange_problem = ""
        # The exchange's type as the broker last said ("" until connected, or
        # when this user may not declare it and so cannot ask).
        self.exchange_type = ""
        self.redeclared = 0  # times the exchange was found deleted and declared again
        self.error: BaseException | None = None  # what ended a worker without reconnect
        self.url = ""  # masked URL of the node in use
        # Worker thread only:
        self._retry = Reconnect(broker.urls)
        self._vhost = "/"
        self._reason = ""  # why the last attempt failed, while waiting to try again
        self._retry_timer: Any = None
        self._connection: Any = None
        self._liveness: Liveness | None = None
        self._channel: Any = None  # the confirming channel, once requests may be written
        # A connection or a channel is on its way: requests wait. True from the
        # start, so a request handled before the first connect begins waits too.
        self._opening = True
        self._waiting: list[_Request] = []  # requests that came meanwhile
        self._tags = itertools.count(1)
        self._in_flight: OrderedDict[int, _InFlight] = OrderedDict()  # delivery tag -> message
        self._returned_seqs: set[int] = set()
        self._checking = False  # a check of the exchange's type is under way
        self._unchecked: list[PublishResult] = []  # unroutable ones waiting for it
        self._again: list[_InFlight] = []  # to publish again once the channel is back
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
        self._requests.append(_Request(seq, body, properties, routing_key, headers))
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

    def drain_results(self) -> list[PublishResult]:
        out: list[PublishResult] = []
        for _ in range(len(self._results)):
            try:
                out.append(self._results.popleft())
            except IndexError:
                break
        return out

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

    def _write(self, request: _Request) -> None:
        """Write one message; its outcome comes with its confirm. Refused at once
        (``not sent``) only when it was not written: unencodable properties, or a
        connection the broker blocks, where it would only wait unread."""
        sent_at = time.time()
        properties = stamped_properties(
            self.origin, request.seq, sent_at, request.properties, request.headers
        )
        problem = unencodable(properties)
        if not problem and self.blocked:
            problem = f"{BLOCKED_PREFIX}: {self.blocked}; the message was not written"
        if problem:
            self._fail(request, problem, sent_at)
            return
        self._publish(
            _InFlight(request.seq, request.body, properties, sent_at, request.routing_key)
        )

    def _publish(self, message: _InFlight) -> None:
        self._channel.basic_publish(
            exchange=self.broker.exchange,
            routing_key=message.routing_key,
            body=message.body,
            properties=message.properties,
            mandatory=True,
        )
        self._in_flight[next(self._tags)] = message

    # Worker thread: what the broker answers -------------------------------------
    def _confirmer(self, channel: Any) -> Callable[[Any], None]:
        """The confirm callback of ``channel``: delivery tags are per channel."""
        return lambda frame: self._on_confirm(channel, frame)

    def _on_confirm(self, channel: Any, frame: Any) -> None:
        if channel is not self._channel:
            return
        method = frame.method
        tag = method.delivery_tag
        nacked = isinstance(method, pika.spec.Basic.Nack)
        tags = [t for t in self._in_flight if t <= tag] if method.multiple else [tag]
        now = time.time()
        for t in tags:
            message = self._in_flight.pop(t, None)
            if message is None:
                continue
            status, note = (Outcome.NACKED if nacked else Outcome.ROUTED), message.note
            if status is Outcome.ROUTED and message.seq in self._returned_seqs:
                status = Outcome.UNROUTABLE  # a return comes before its message's ack
                note = _REDECLARED_UNROUTABLE if note else ""
            self._returned_seqs.discard(message.seq)
            self._outcome(self._result(message, status, note, now))

    def _outcome(self, result: PublishResult) -> None:
        """A final outcome from the broker. Unroutable is also what a publish to
        an exchange replaced by another type gets (its key may match nothing
        there), so before "no queue is bound" (or "no binding matches") is said
        the exchange's type is checked, on a channel of its own; a routed one
        proves it unchanged."""
        if result.status is Outcome.ROUTED and self.exchange_problem:
            self.exchange_problem = ""
            self.ready.set()
        if result.status is Outcome.UNROUTABLE and not result.reason and not self.blocked:
            # (While blocked an RPC would wait unread: the next unroutable one asks.)
            self._unchecked.append(result)
            if not self._checking:
                self._checking = True
                AsyncSteps(
                    self._connection,
                    # The type found at connect: a replaced exchange conflicts with it.
                    exchange_steps_for(self.broker, self.exchange_type),
                    self._type_fine,
                    self._type_wrong,
                )
            return
        self._emit(self._keyed(result))

    def _keyed(self, result: PublishResult) -> PublishResult:
        """An unroutable result without a reason, with the one its exchange's
        type gives (the key no binding matched); any other as it is."""
        if result.status is not Outcome.UNROUTABLE or result.reason:
            return result
        reason = unroutable_reason(self.exchange_type, result.routing_key)
        return replace(result, reason=reason) if reason else result

    def _type_fine(self, declared: tuple[Any, str]) -> None:
        declared[0].close()
        self._type_checked("")

    def _type_wrong(self, exc: BaseException) -> None:
        # Anything else (no configure permission, say) leaves nothing more to tell.
        self._type_checked(str(exc) if isinstance(exc, ExchangeTypeConflict) else "")

    def _type_checked(self, problem: str) -> None:
        self._checking = False
        self.exchange_problem = problem
        unchecked, self._unchecked = self._unchecked, []
        for result in unchecked:
            self._emit(replace(result, reason=problem) if problem else self._keyed(result))
        self.ready.set()

    def _on_returned(self, _channel: Any, _method: Any, properties: Any, _body: bytes) -> None:
        seq = (properties.headers or {}).get(SEQ_HEADER)
        if isinstance(seq, int):
            self._returned_seqs.add(seq)

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

    def _on_blocked(self, _connection: Any, frame: Any) -> None:
        reason = sanitize(getattr(frame.method, "reason", "") or "", 120)
        self.blocked = reason or "a resource alarm"
        now = time.time()
        for message in self._in_flight.values():
            self._emit(self._result(message, Outcome.HELD, self.blocked, now))
        self.ready.set()

    def _on_unblocked(self, _connection: Any, _frame: Any) -> None:
        self.blocked = ""
        self.ready.set()

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

    # Worker thread: reporting --------------------------------------------------
    def _describe(self, exc: BaseException) -> str:
        return describe_error(exc, self.url, self._vhost)

    def _result(
        self, message: _InFlight, status: Outcome, reason: str, now: float
    ) -> PublishResult:
        return PublishResult(
            message.seq,
            status,
            message.body,
            self.broker.exchange,
            reason,
            message.sent_at,
            now,
            message.routing_key,
        )

    def _fail(self, request: _Request, reason: str, sent_at: float | None = None) -> None:
        now = time.time()
        self._emit(
            PublishResult(
                request.seq,
                Outcome.FAILED,
                request.body,
                self.broker.exchange,
                reason,
                now if sent_at is None else sent_at,
                now,
                request.routing_key,
            )
        )

    def _emit(self, result: PublishResult) -> None:
        self._results.append(result)
        self.ready.set()

    def _set_state(self, state: WorkerState, detail: str = "", attempt: int = 0) -> None:
        self.state = StateChange(state, detail, "", self.url, attempt, time.time())
        self.ready.set()


class Publisher:
    """A :class:`PublisherWorker` for a caller that waits: ``fanout-tui publish``
    and tests. One node, no reconnecting; :meth:`publish` waits for that
    message's outcome, up to a time limit."""

    def __init__(self, broker: BrokerSettings, origin: str | None = None) -> None:
        self.broker = broker
        self.origin = origin or new_origin()
        self.url = ""  # masked URL of the node in use
        self._vhost = "/"
        self._worker: PublisherWorker | None = None

    @property
    def connected(self) -> bool:
        worker = self._worker
        return worker is not None and worker.is_alive() and worker.state.state is WorkerState.READY

    def connect(self, url: str | None = None) -> None:
        """Connect to ``url``, by default the broker's first; raise what made it fail."""
        self.close()
        url = url or self.broker.urls[0]
        self.url, self._vhost = mask_url(url), vhost_of(url)
        worker = PublisherWorker(
            replace(self.broker, urls=(url,)), origin=self.origin, reconnect=False
        )
        self._worker = worker
        worker.start()
        # The worker ends by itself on every failure: its connect and handshake
        # are bounded by the connect timeout, a silent path by its heartbeats.
        limit = self.broker.connect_timeout + 2 * self.broker.heartbeat + 5
        deadline = time.monotonic() + limit
        while worker.state.state is not WorkerState.READY:
            if not worker.is_alive():
                self._worker = None
                raise worker.error or pex.AMQPConnectionError(NOT_CONNECTED)
            if time.monotonic() > deadline:
                self.close()
                raise pex.AMQPConnectionError(f"no connection within {limit:g} s")
            worker.ready.wait(0.05)
            worker.ready.clear()

    @property
    def exchange_type(self) -> str:
        """The exchange's type as the broker said at connect ("" if not known)."""
        return self._worker.exchange_type if self._worker is not None else ""

    def describe(self, exc: BaseException) -> str:
        return describe_error(exc, self.url, self._vhost)

    def publish(
        self,
        seq: int,
        body: bytes,
        props: MessageProperties,
        timeout: float = 10.0,
        *,
        routing_key: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> PublishResult:
        """Publish and wait up to ``timeout`` for the outcome.

        A message with no confirm by then is ``held`` while the broker blocks the
        connection and ``unknown`` otherwise: it was written, so it may yet be
        routed. One the worker never took (its connection had failed) is not sent.
        """
        worker = self._worker
        exchange = self.broker.exchange
        if worker is None:
            now = time.time()
            return PublishResult(
                seq, Outcome.FAILED, body, exchange, NOT_CONNECTED, now, now, routing_key
            )
        worker.send(seq, body, props, routing_key=routing_key, headers=headers)
        deadline = time.monotonic() + timeout
        held: PublishResult | None = None
        while True:
            alive = worker.is_alive()  # before draining: what it emitted before ending is seen
            for result in worker.drain_results():
                if result.seq != seq:
                    continue
                if result.status is not Outcome.HELD:
                    return result
                held = result
            if not alive:
                if held is not None:
                    return held
                now = time.time()
                why = worker.state.detail or NOT_CONNECTED
                return PublishResult(
                    seq, Outcome.FAILED, body, exchange, why, now, now, routing_key
                )
            left = deadline - time.monotonic()
            if left <= 0:
                break
            worker.ready.wait(min(left, 0.05))
            worker.ready.clear()
        if held is not None:
            return held
        now = time.time()
        why = f"no confirm from the broker within {timeout:g} s"
        return PublishResult(seq, Outcome.UNKNOWN, body, exchange, why, now, now, routing_key)

    def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()
