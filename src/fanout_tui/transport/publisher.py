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
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pika
import pika.exceptions as pex

from ..model.delivery import ORIGIN_HEADER, SENT_HEADER, SEQ_HEADER
from ..model.outcomes import Outcome
from ..model.states import StateChange, WorkerState
from ..present.outcomes import describe_outcome
from .broker import BrokerSettings, mask_url, vhost_of
from .errors import describe_error
from .topology import declare_exchange
from .worker import Reconnect, Worker, retrying


@dataclass(frozen=True)
class MessageProperties:
    """The AMQP properties the next publishes use; the tutorial's by default."""

    content_type: str | None = "text/plain"
    delivery_mode: int = 1
    headers: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PublishResult:
    seq: int
    status: Outcome  # never PUBLISHING: a result is the broker's answer
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


class Publisher:
    """One connection and a confirming channel, used from a single thread."""

    def __init__(self, broker: BrokerSettings, origin: str | None = None) -> None:
        self.broker = broker
        self.origin = origin or uuid.uuid4().hex[:12]
        self.url = ""  # masked URL of the node in use
        self._connection: Any = None
        self._channel: Any = None
        self._batch_channel: Any = None  # no confirms; see send_unconfirmed()
        self._returned = 0

    @property
    def connected(self) -> bool:
        return self._connection is not None and self._connection.is_open

    def connect(self, url: str | None = None) -> None:
        """Connect to ``url``, by default the broker's first."""
        url = url or self.broker.urls[0]
        self.url = mask_url(url)
        self._vhost = vhost_of(url)
        connection = pika.BlockingConnection(self.broker.parameters(url, "fanout-tui publisher"))
        try:
            self._channel = self._open_channel(connection)
        except BaseException:
            _close_quietly(connection)
            raise
        self._connection = connection

    def _open_channel(self, connection: Any) -> Any:
        channel = declare_exchange(connection, self.broker.exchange)
        channel.confirm_delivery()
        return channel

    def describe(self, exc: BaseException) -> str:
        return describe_error(exc, self.url, getattr(self, "_vhost", "/"))

    def publish(self, seq: int, body: bytes, props: MessageProperties) -> PublishResult:
        """Publish and wait for the confirm.

        Channel-level refusals become a result; connection failures raise, so
        the caller can reconnect.
        """
        exchange = self.broker.exchange
        sent_at = time.time()
        properties = self._properties(seq, sent_at, props)
        problem = unencodable(properties)
        if problem:
            return PublishResult(seq, Outcome.FAILED, body, exchange, problem, sent_at, time.time())
        status, reason = Outcome.ROUTED, ""
        for retry in (True, False):
            reason = ""
            try:
                self._channel.basic_publish(
                    exchange=exchange,
                    routing_key="",
                    body=body,
                    properties=properties,
                    mandatory=True,
                )
                status = Outcome.ROUTED
            except pex.UnroutableError:
                status = Outcome.UNROUTABLE
            except pex.NackError:
                status = Outcome.NACKED
            except pex.ChannelClosedByBroker as exc:
                # e.g. 404 when someone deleted the exchange: redeclare it once.
                status, reason = Outcome.FAILED, self.describe(exc)
                self._channel = self._open_channel(self._connection)
                if retry and exc.reply_code == 404:
                    continue
            break
        return PublishResult(seq, status, body, exchange, reason, sent_at, time.time())

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
        if connection is not None:
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


@dataclass(frozen=True)
class _Request:
    seq: int
    body: bytes
    properties: MessageProperties


class PublisherWorker(Worker):
    """Publishes requests in order from its own thread and connection.

    ``publish`` returns the sequence number at once; the outcome arrives later
    in ``drain_results``. While the broker is unreachable, requests fail at
    once with ``not sent: <reason>`` rather than waiting, so the UI can keep
    what the user typed.
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

    @property
    def origin(self) -> str:
        return self.publisher.origin

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
        try:
            while not self.stopping:
                if not self.publisher.connected and time.monotonic() >= next_attempt:
                    self._set_state(retry.state, reason, retry.attempt)
                    try:
                        self.publisher.connect(retry.url)
                        retry.succeeded()
                        reason = ""
                        self._set_state(WorkerState.READY)
                    except Exception as exc:
                        self.publisher.close()
                        reason = self.publisher.describe(exc)
                        # Not a sleep: requests meanwhile fail at once (see the class).
                        delay = retry.failed()
                        next_attempt = time.monotonic() + delay
                        self._set_state(
                            WorkerState.RECONNECTING, retrying(reason, delay), retry.attempt
                        )
                try:
                    request = self._requests.get(timeout=_IDLE_POLL)
                except queue.Empty:
                    request = None
                if request is _STOP:
                    break
                try:
                    if request is None:
                        self.publisher.poll()
                    elif not self.publisher.connected:
                        self._fail(request, reason or "not connected to the broker")
                    else:
                        self._emit(
                            self.publisher.publish(request.seq, request.body, request.properties)
                        )
                except Exception as exc:
                    # The connection died under us: report, then reconnect at once.
                    reason = self.publisher.describe(exc)
                    self.publisher.close()
                    next_attempt = 0.0
                    retry.lost()
                    if request is not None:
                        self._fail(request, reason)
        finally:
            self.publisher.close()
            self._set_state(WorkerState.STOPPED)

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
