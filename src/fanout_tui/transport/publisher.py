"""Publishing to the fanout exchange with confirms and ``mandatory=True``.

:class:`Publisher` is the connection and the publish call, used directly by
``fanout-tui publish``. :class:`PublisherWorker` runs one in its own thread for
the dashboard, taking requests from a queue and handing results back through
a deque the UI drains, so neither side ever waits on the other.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Mapping
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
from .errors import ExchangeTypeConflict, describe_error, refused
from .topology import declare_exchange
from .worker import Reconnect, Worker, retrying


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

    @property
    def ok(self) -> bool:
        return self.status is Outcome.ROUTED

    def describe(self) -> str:
        """The one-line outcome shown to a person: ``#7 routed to exchange 'logs'``."""
        return f"#{self.seq} {describe_outcome(self.status, self.exchange, self.reason)}"


@dataclass(slots=True)
class _InFlight:
    seq: int
    body: bytes
    properties: Any
    sent_at: float
    note: str = ""  # EXCHANGE_REDECLARED once published again


class Publisher:
    """One connection and a confirming channel, used from a single thread.

    A publish never waits on the connection: :meth:`send` writes the message
    and returns, and :meth:`pump` reads the broker's answers (confirms, returns,
    a blocked or unblocked connection) and hands back the outcomes that arrived.
    During a broker resource alarm the broker stops reading from publishing
    connections; a thread waiting for a confirm then could not stop, take the
    next request or say what is happening, so nothing here waits for one.
    """

    def __init__(
        self, broker: BrokerSettings, origin: str | None = None, *, hold_when_blocked: bool = True
    ) -> None:
        self.broker = broker
        self.origin = origin or uuid.uuid4().hex[:12]
        self.url = ""  # masked URL of the node in use
        # Why the broker blocks this connection (sanitized), "" while it does not.
        self.blocked = ""
        # Confirms are awaited with no time limit only by callers that never wait
        # on the connection (send/pump); a burst waits in settle_batch, so its
        # connection keeps pika's blocked-connection timeout.
        self._hold_when_blocked = hold_when_blocked
        self._connection: Any = None
        self._channel: Any = None
        self._batch_channel: Any = None  # no confirms; see send_unconfirmed()
        self._returned = 0
        self._tags = itertools.count(1)
        self._in_flight: OrderedDict[int, _InFlight] = OrderedDict()  # delivery tag -> message
        self._returned_seqs: set[int] = set()
        self._done: list[PublishResult] = []
        self._channel_closed: BaseException | None = None
        # Why the exchange cannot be used as a fanout ("" while it can), found when
        # a publish comes back unroutable: a replaced exchange routes nothing.
        self.exchange_problem = ""
        self.redeclared = 0  # times the exchange was found deleted and declared again

    @property
    def connected(self) -> bool:
        return self._connection is not None and self._connection.is_open

    @property
    def in_flight(self) -> int:
        """Messages written whose confirm has not arrived."""
        return len(self._in_flight)

    def connect(self, url: str | None = None) -> None:
        """Connect to ``url``, by default the broker's first."""
        url = url or self.broker.urls[0]
        self.url = mask_url(url)
        self._vhost = vhost_of(url)
        self.blocked = ""
        params = self.broker.parameters(url, "fanout-tui publisher")
        if self._hold_when_blocked:
            # Nothing waits on this connection, so a block need not be cut short:
            # the held message's confirm arrives on it once the alarm clears.
            params.blocked_connection_timeout = None
        connection = pika.BlockingConnection(params)
        # pika's hints name the frame's method as the argument; it passes (connection, frame).
        connection.add_on_connection_blocked_callback(self._on_blocked)  # type: ignore[arg-type]
        connection.add_on_connection_unblocked_callback(self._on_unblocked)  # type: ignore[arg-type]
        try:
            self._channel = self._open_channel(connection)
        except BaseException:
            _close_quietly(connection)
            raise
        self._connection = connection

    def _open_channel(self, connection: Any) -> Any:
        channel = declare_exchange(connection, self.broker.exchange)
        # The channel's own pika object (pika 1.x, BlockingChannel._impl): its
        # confirms arrive as callbacks while pump() reads, where BlockingChannel's
        # confirm mode would wait inside every publish.
        impl = channel._impl
        impl.confirm_delivery(self._on_confirm)
        impl.add_on_return_callback(self._on_returned)
        impl.add_on_close_callback(self._on_channel_closed)
        self._tags = itertools.count(1)  # delivery tags count per channel
        self._channel_closed = None
        return channel

    def describe(self, exc: BaseException) -> str:
        return describe_error(exc, self.url, getattr(self, "_vhost", "/"))

    # Publishing ----------------------------------------------------------------
    def send(self, seq: int, body: bytes, props: MessageProperties) -> PublishResult | None:
        """Write one message; its outcome comes from pump(). A result now only for
        a message that was not written (``not sent``): unencodable properties, or
        a connection the broker blocks, where it would only wait unread."""
        exchange = self.broker.exchange
        sent_at = time.time()
        properties = self._properties(seq, sent_at, props)
        problem = unencodable(properties)
        if not problem and self.blocked:
            problem = f"{BLOCKED_PREFIX}: {self.blocked}; the message was not written"
        if problem:
            return PublishResult(seq, Outcome.FAILED, body, exchange, problem, sent_at, time.time())
        self._write(_InFlight(seq, body, properties, sent_at))
        return None

    def _write(self, message: _InFlight) -> None:
        self._channel._impl.basic_publish(
            exchange=self.broker.exchange,
            routing_key="",
            body=message.body,
            properties=message.properties,
            mandatory=True,
        )
        self._in_flight[next(self._tags)] = message

    def pump(self, time_limit: float = 0) -> list[PublishResult]:
        """Read what the broker sent for up to ``time_limit`` seconds; the outcomes
        that arrived, in order. Held results (the broker blocked the connection
        after the message was written) come before the message's final one.
        Connection failures raise; then abandon() says what became of the rest."""
        if self._connection is None:
            return []
        self._connection.process_data_events(time_limit=time_limit)
        if self._channel_closed is not None:
            self._after_channel_closed(self._channel_closed)
        done, self._done = self._done, []
        if any(r.status is Outcome.UNROUTABLE and not r.reason for r in done):
            self.exchange_problem = self._type_problem()
            if self.exchange_problem:
                done = [
                    replace(r, reason=self.exchange_problem)
                    if r.status is Outcome.UNROUTABLE and not r.reason
                    else r
                    for r in done
                ]
        elif any(r.status is Outcome.ROUTED for r in done):
            self.exchange_problem = ""
        return done

    def _type_problem(self) -> str:
        """Whether the exchange is still a fanout: "" if so, else why not.

        Unroutable is what a publish to an exchange replaced by another type gets
        (routing key "" matches nothing there), so "no queue is bound" would not
        be the truth. One declare, on a channel of its own, answers it.
        """
        if self.blocked:
            return ""  # an RPC would wait unread; the next unroutable one asks
        try:
            declare_exchange(self._connection, self.broker.exchange).close()
        except ExchangeTypeConflict as exc:
            return str(exc)
        except pex.ChannelClosedByBroker:
            return ""  # e.g. no configure permission: nothing more to tell
        return ""

    def abandon(self, reason: str) -> list[PublishResult]:
        """The connection failed: every message written without a confirm may or
        may not have reached a queue, so each is ``unknown``, never ``not sent``."""
        now, exchange = time.time(), self.broker.exchange
        out = [*self._done]
        out += [
            PublishResult(m.seq, Outcome.UNKNOWN, m.body, exchange, reason, m.sent_at, now)
            for m in self._in_flight.values()
        ]
        self._in_flight.clear()
        self._done = []
        return out

    def publish(
        self, seq: int, body: bytes, props: MessageProperties, timeout: float = 10.0
    ) -> PublishResult:
        """Publish and wait up to ``timeout`` for the confirm (``fanout-tui publish``).

        A message with no confirm by then is ``held`` while the broker blocks the
        connection and ``unknown`` otherwise: it was written, so it may yet be
        routed. Connection failures raise.
        """
        result = self.send(seq, body, props)
        if result is not None:
            return result
        deadline = time.monotonic() + timeout
        held: PublishResult | None = None
        while True:
            for result in self.pump(min(0.05, max(0.0, deadline - time.monotonic()))):
                if result.seq != seq:
                    continue
                if result.status is not Outcome.HELD:
                    return result
                held = result
            if time.monotonic() >= deadline:
                break
        self._in_flight.clear()
        if held is not None:
            return held
        now = time.time()
        why = f"no confirm from the broker within {timeout:g} s"
        return PublishResult(seq, Outcome.UNKNOWN, body, self.broker.exchange, why, now, now)

    # pika callbacks (in this thread, while pump() reads) ----------------------------
    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tag = method.delivery_tag
        status = Outcome.NACKED if isinstance(method, pika.spec.Basic.Nack) else Outcome.ROUTED
        tags = [t for t in self._in_flight if t <= tag] if method.multiple else [tag]
        now = time.time()
        for t in tags:
            message = self._in_flight.pop(t, None)
            if message is None:
                continue
            outcome, note = status, message.note
            if status is Outcome.ROUTED and message.seq in self._returned_seqs:
                outcome = Outcome.UNROUTABLE  # a return comes before its message's ack
                note = _REDECLARED_UNROUTABLE if note else ""
            self._returned_seqs.discard(message.seq)
            self._done.append(
                PublishResult(
                    message.seq,
                    outcome,
                    message.body,
                    self.broker.exchange,
                    note,
                    message.sent_at,
                    now,
                )
            )

    def _on_returned(self, _channel: Any, _method: Any, properties: Any, _body: bytes) -> None:
        seq = (properties.headers or {}).get(SEQ_HEADER)
        if isinstance(seq, int):
            self._returned_seqs.add(seq)

    def _on_channel_closed(self, _channel: Any, reason: BaseException) -> None:
        self._channel_closed = reason

    def _after_channel_closed(self, exc: BaseException) -> None:
        """The broker closed the channel: what it had not confirmed was not routed.

        A 404 means someone deleted the exchange: it is declared again and those
        messages are published once more, with a note that says so.
        """
        self._channel_closed = None
        waiting = list(self._in_flight.values())
        self._in_flight.clear()
        self._returned_seqs.clear()
        # A 403 here is a publish refused: the user lacks write on the exchange.
        if isinstance(exc, pex.ChannelClosedByBroker):
            exc = refused(exc, "basic.publish")
        reason = self.describe(exc)
        self._channel = self._open_channel(self._connection)
        missing = getattr(exc, "reply_code", 0) == 404
        if missing:  # declared again, as a fanout: whatever type it had is gone
            self.exchange_problem = ""
        now = time.time()
        for message in waiting:
            if missing and not message.note:
                message.note = EXCHANGE_REDECLARED
                self.redeclared += 1
                self._write(message)
            else:
                self._done.append(
                    PublishResult(
                        message.seq,
                        Outcome.FAILED,
                        message.body,
                        self.broker.exchange,
                        reason,
                        message.sent_at,
                        now,
                    )
                )

    def _on_blocked(self, _connection: Any, frame: Any) -> None:
        reason = sanitize(getattr(frame.method, "reason", "") or "", 120)
        self.blocked = reason or "a resource alarm"
        now = time.time()
        for message in self._in_flight.values():
            self._done.append(
                PublishResult(
                    message.seq,
                    Outcome.HELD,
                    message.body,
                    self.broker.exchange,
                    self.blocked,
                    message.sent_at,
                    now,
                )
            )

    def _on_unblocked(self, _connection: Any, _frame: Any) -> None:
        self.blocked = ""

    def _properties(self, seq: int, sent_at: float, props: MessageProperties) -> Any:
        headers = dict(props.headers)
        headers[SEQ_HEADER] = seq
        headers[SENT_HEADER] = int(sent_at * 1_000_000)
        headers[ORIGIN_HEADER] = self.origin
        return pika.BasicProperties(
            content_type=props.content_type,
            delivery_mode=props.delivery_mode,
            headers=headers,
            timestamp=int(sent_at),
            message_id=f"{self.origin}-{seq}",
            app_id="fanout-tui",
        )

    def check_properties(self, props: MessageProperties) -> None:
        """Raise ValueError, with a one-line reason, if pika could not send these."""
        problem = unencodable(self._properties(0, time.time(), props))
        if problem:
            raise ValueError(problem)

    def send_unconfirmed(self, seq: int, body: bytes, props: MessageProperties) -> None:
        """Publish without waiting for a confirm; settle_batch() then says how many
        of those sent so far came back unroutable.

        A confirm per message caps a burst at a few hundred a second (one round
        trip each). These go out back to back on a channel without confirms,
        still ``mandatory``. Check the properties first (check_properties).
        Failures raise, like publish().
        """
        channel = self._batch_channel
        if channel is None:
            channel = self._batch_channel = self._connection.channel()
            channel.add_on_return_callback(self._on_return)
        channel.basic_publish(
            exchange=self.broker.exchange,
            routing_key="",
            body=body,
            properties=self._properties(seq, time.time(), props),
            mandatory=True,
        )

    def settle_batch(self) -> int:
        """Wait until the broker has routed everything sent so far; how many of
        those came back unroutable.

        One synchronous call on the same channel: the broker handles a channel's
        commands in order, so its reply means every message before it was
        routed, and the returns of the unroutable ones arrived before it.
        """
        self._returned = 0
        self._batch_channel.exchange_declare(exchange=self.broker.exchange, passive=True)
        self._connection.process_data_events(time_limit=0)  # dispatches the returns
        return self._returned

    def _on_return(self, *_args: Any) -> None:
        self._returned += 1

    def poll(self) -> None:
        """Answer heartbeats and notice a dead connection while idle."""
        if self._connection is not None:
            self._connection.process_data_events(time_limit=0)

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        self._batch_channel = None
        self._in_flight.clear()
        self._returned_seqs.clear()
        self._done = []
        if connection is None:
            return
        if self.blocked:
            # A blocked connection is not read by the broker, so a polite close
            # would wait for a Close-Ok that never comes: drop the socket instead
            # (pika 1.x Connection._terminate_stream, what its own blocked timeout does).
            with contextlib.suppress(Exception):
                connection._impl._terminate_stream(pex.ConnectionClosedByClient(200, "closed"))
            self.blocked = ""
            return
        _close_quietly(connection)


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


def _close_quietly(connection: Any) -> None:
    if connection.is_open:
        with contextlib.suppress(pex.AMQPError, OSError):
            connection.close()


_STOP = object()
_IDLE_POLL = 0.2  # seconds between heartbeat polls while idle
_CONFIRM_POLL = 0.005  # between reads while a confirm is due: it normally takes ~1 ms
_BLOCKED_POLL = 0.05  # between reads while the broker blocks the connection


@dataclass(frozen=True)
class _Request:
    seq: int
    body: bytes
    properties: MessageProperties


class PublisherWorker(Worker):
    """Publishes requests in order from its own thread and connection.

    ``publish`` returns the sequence number at once; the outcome arrives later
    in ``drain_results``. While the broker is unreachable, or blocks the
    connection (a resource alarm), requests fail at once with ``not sent:
    <reason>`` rather than waiting, so the UI can keep what the user typed. A
    message already written when a block came is reported ``held`` at once, and
    its final outcome when the confirm arrives.
    """

    def __init__(
        self,
        broker: BrokerSettings,
        *,
        properties: MessageProperties | None = None,
        origin: str | None = None,
        max_results: int = 10_000,
    ) -> None:
        super().__init__("fanout-tui publisher")
        self.publisher = Publisher(broker, origin)
        self.properties = properties or MessageProperties()
        self.state = StateChange(WorkerState.CONNECTING)
        self.ready = threading.Event()  # set whenever results arrive
        self._requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._results: deque[PublishResult] = deque(maxlen=max_results)
        self._seq = itertools.count(1)
        self._seq_lock = threading.Lock()
        # Why the broker blocks publishers, and why the exchange is no fanout
        # ("" when not); the UI reads them.
        self.blocked = ""
        self.exchange_problem = ""

    @property
    def origin(self) -> str:
        return self.publisher.origin

    @property
    def redeclared(self) -> int:
        """Times the publisher found the exchange deleted and declared it again."""
        return self.publisher.redeclared

    # Any thread ----------------------------------------------------------------
    def publish(self, body: bytes, properties: MessageProperties | None = None) -> int:
        with self._seq_lock:
            seq = next(self._seq)
        self._requests.put(_Request(seq, body, properties or self.properties))
        return seq

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

    def wake(self) -> None:
        self._requests.put(_STOP)  # the thread waits for requests between heartbeats

    # Worker thread -------------------------------------------------------------
    def run(self) -> None:
        retry = Reconnect(self.publisher.broker.urls)
        next_attempt = 0.0
        reason = ""
        publisher = self.publisher
        try:
            while not self.stopping:
                if not publisher.connected and time.monotonic() >= next_attempt:
                    self._set_state(retry.state, reason, retry.attempt)
                    try:
                        publisher.connect(retry.url)
                        retry.succeeded()
                        reason = ""
                        self._set_state(WorkerState.READY)
                    except Exception as exc:
                        publisher.close()
                        reason = publisher.describe(exc)
                        # Not a sleep: requests meanwhile fail at once (see the class).
                        delay = retry.failed()
                        next_attempt = time.monotonic() + delay
                        self._set_state(
                            WorkerState.RECONNECTING, retrying(reason, delay), retry.attempt
                        )
                # With confirms to come, look at the connection often; while it is
                # blocked they come only when the alarm clears, so less often.
                wait = _IDLE_POLL
                if publisher.in_flight:
                    wait = _BLOCKED_POLL if publisher.blocked else _CONFIRM_POLL
                try:
                    request = self._requests.get(timeout=wait)
                except queue.Empty:
                    request = None
                if request is _STOP:
                    break
                try:
                    if request is not None and not publisher.connected:
                        self._fail(request, reason or "not connected to the broker")
                    elif request is not None:
                        refused = publisher.send(request.seq, request.body, request.properties)
                        if refused is not None:
                            self._emit(refused)
                    for result in publisher.pump():
                        self._emit(result)
                    self._sync_blocked()
                except Exception as exc:
                    # The connection died under us: report, then reconnect at once.
                    reason = publisher.describe(exc)
                    abandoned = publisher.abandon(reason)
                    for result in abandoned:
                        self._emit(result)
                    publisher.close()
                    self._sync_blocked()
                    next_attempt = 0.0
                    retry.lost()
                    # A request the connection failed before writing was not sent.
                    if request is not None and all(r.seq != request.seq for r in abandoned):
                        self._fail(request, reason)
        finally:
            publisher.close()
            self.blocked = ""
            self._set_state(WorkerState.STOPPED)

    def _sync_blocked(self) -> None:
        publisher = self.publisher
        if (self.blocked, self.exchange_problem) != (publisher.blocked, publisher.exchange_problem):
            self.blocked, self.exchange_problem = publisher.blocked, publisher.exchange_problem
            self.ready.set()

    def _fail(self, request: _Request, reason: str) -> None:
        now = time.time()
        self._emit(
            PublishResult(
                request.seq,
                Outcome.FAILED,
                request.body,
                self.publisher.broker.exchange,
                reason,
                now,
                now,
            )
        )

    def _emit(self, result: PublishResult) -> None:
        self._results.append(result)
        self.ready.set()

    def _set_state(self, state: WorkerState, detail: str = "", attempt: int = 0) -> None:
        self.state = StateChange(state, detail, "", self.publisher.url, attempt, time.time())
        self.ready.set()
