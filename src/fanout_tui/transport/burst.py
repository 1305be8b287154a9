"""Publishing a burst of numbered copies from a thread of its own.

A burst gets its own connection and thread so the interactive publisher stays
free for what the user types meanwhile. It publishes with the same origin and
a block of sequence numbers reserved up front, so receivers' copies are
tracked like any other message. Progress is plain counters the UI reads; the
UI never waits on the thread and the thread never waits on the UI.

The thread runs pika's ``SelectConnection`` on its own IOLoop (``loop.py``), so
a cancel is seen at once, even while the broker blocks the connection.

While the broker blocks publishers (a resource alarm: ``connection.blocked``)
the burst pauses: it writes no further batch, so at most the batch in flight
waits unread in the socket, and it goes on by itself at ``connection.unblocked``.
``blocked`` says why meanwhile, for its progress bar.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pika.exceptions as pex

from ..model.routing import routing_key_problem
from ..present.text import sanitize
from .broker import BrokerSettings, mask_url, vhost_of
from .errors import describe_error
from .loop import Liveness, LoopWorker, close_quietly
from .stamps import MessageProperties, check_properties, stamped_properties
from .steps import AsyncSteps
from .topology import exchange_steps_for
from .worker import Reconnect

MAX_BURST = 1_000_000
# Messages a second a burst may be paced at: beyond the most, pacing means
# nothing (no broker takes more from one connection) and the arithmetic would
# overflow; below the least (one copy every 100 s), the next copy would come
# after any session has ended.
MIN_RATE = 0.01
MAX_RATE = 1_000_000
RATE_RANGE = f"at least {MIN_RATE:g} and at most {MAX_RATE:,} a second"
# What a burst stopped by an error of the app's own says first, never a
# broker's words for it.
LOCAL_ERROR = "a local error, not the broker's"
BATCH_SECONDS = 0.05  # a paced burst publishes what is due every this often
# Messages between two barriers (see BurstWorker._publish_batch): enough to keep
# the connection busy, few enough that a cancel takes effect soon.
MAX_BATCH = 500


def burst_body(text: str, index: int, count: int) -> bytes:
    """The ``index``-th copy (1-based): ``text 17/10000``."""
    return f"{text} {index}/{count}".encode()


class BurstWorker(LoopWorker):
    """Publish ``count`` copies, at most ``rate`` per second (None: as fast as the
    broker takes them), until done, cancelled, or the connection fails.

    A confirm per message would cap a burst at one round trip each. The copies
    go out in batches on a channel without confirms, still ``mandatory``, each
    batch followed by one synchronous call on the same channel: the broker
    handles a channel's commands in order, so its reply means every message
    before it was routed, and the returns of the unroutable ones came first.
    """

    def __init__(
        self,
        broker: BrokerSettings,
        *,
        origin: str,
        first_seq: int,
        count: int,
        text: str,
        rate: float | None = None,
        properties: MessageProperties | None = None,
        routing_key: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__("fanout-tui burst")
        if not 1 <= count <= MAX_BURST:
            raise ValueError(f"a burst is 1 to {MAX_BURST:,} messages, not {count:,}")
        if rate is not None and not MIN_RATE <= rate <= MAX_RATE:
            raise ValueError(f"the rate must be {RATE_RANGE}")
        problem = routing_key_problem(routing_key)
        if problem:
            raise ValueError(problem)
        self.broker = broker
        self.origin = origin
        self.first_seq = first_seq
        self.count = count
        self.text = text
        self.rate = rate
        self.properties = properties or MessageProperties()
        # Every copy's key and own headers (under the app's stamp, as one message's).
        self.routing_key = routing_key
        self.headers = dict(headers or {})
        # Written by this thread only; read by the UI.
        self.sent = 0
        self.unroutable = 0
        self.error: str | None = None
        self.done = False
        # Why the broker blocks this connection (its reason, sanitized), "" when not.
        self.blocked = ""
        # Worker thread only:
        self._retry = Reconnect(broker.urls)
        self._url = ""
        self._channel: Any = None
        self._liveness: Liveness | None = None
        self._began = 0.0
        # Since when the last batch written waits for the broker's answer
        # (time.monotonic(); 0 when none does): a long wait is said, blocked or not.
        self.awaiting_since = 0.0
        self._held_back = False  # a batch is due but waits for the block to lift
        self._blocked_at = 0.0  # when the block began (monotonic)
        self._closing = False  # shutting down: a close from here on is expected

    def cancel(self) -> None:
        """End the burst early: the user's word for :meth:`request_stop`."""
        self.request_stop()

    @property
    def cancelled(self) -> bool:
        """A cancel (or stop) was asked for, whether or not the burst was done by then."""
        return self.stopping

    # Worker thread -------------------------------------------------------------
    def begin(self) -> None:
        try:
            check_properties(self.properties, self.headers)
        except ValueError as exc:
            self.error = str(exc)
            self.finish()
            return
        self._connect()

    def _connect(self) -> None:
        """The next node, in the order the other workers fail over; each once."""
        url = self._retry.url
        self._url = url
        params = self.broker.parameters(url, "fanout-tui burst")
        # A block is waited out, however long: the burst resumes by itself when
        # the alarm clears, and a cancel ends it at once meanwhile.
        params.blocked_connection_timeout = None
        try:
            self._connection = self.open_connection(
                params, self._opened, self._closed, self._closed
            )
        except Exception as exc:  # parameters pika refuses to use
            self._failed(exc)
            return
        self._connection.add_on_connection_blocked_callback(self._on_blocked)
        self._connection.add_on_connection_unblocked_callback(self._on_unblocked)

    def _on_blocked(self, _connection: Any, frame: Any) -> None:
        reason = sanitize(getattr(frame.method, "reason", "") or "", 120)
        self.blocked = reason or "a resource alarm"
        self._blocked_at = time.monotonic()

    def _on_unblocked(self, _connection: Any, _frame: Any) -> None:
        if self.blocked and self._began:
            # A paced burst does not catch up on the time it was blocked: its
            # rate stays a ceiling.
            self._began += time.monotonic() - self._blocked_at
        self.blocked = ""
        if self._held_back:
            self._held_back = False
            self._publish_batch()

    def _opened(self, connection: Any) -> None:
        if connection is not self._connection:
            return
        self._liveness = Liveness.of(connection, self._failed)
        steps = exchange_steps_for(self.broker)
        AsyncSteps(connection, steps, self._ready, self._failed)

    def _ready(self, declared: tuple[Any, str]) -> None:
        channel, _type = declared
        self._channel = channel
        channel.add_on_return_callback(self._returned)
        channel.add_on_close_callback(lambda _channel, reason: self._failed(reason))
        self._began = time.monotonic()
        self._publish_batch()

    def _publish_batch(self) -> None:
        if self.stopping:
            return  # the stop's own wake shuts the connection down
        if self.sent >= self.count:
            self.shut_down()
            return
        if self.blocked:
            # Written now it would only wait unread (the broker stops reading a
            # blocked connection); unblocked calls this again.
            self._held_back = True
            return
        channel = self._channel
        if channel is None:
            return  # the channel closed: its close callback says why
        # This runs in pika's frame callbacks, where pika takes anything raised
        # for the connection's failure ("connection lost"): an error of the
        # app's own is caught here and said as what it is.
        try:
            self._write_batch(channel)
        except (pex.ChannelWrongStateError, pex.ConnectionWrongStateError):
            return  # closing under it: the close callback says why
        except Exception as exc:
            self._stopped_locally(exc)

    def _write_batch(self, channel: Any) -> None:
        if self.rate is None:
            due = MAX_BATCH
        else:
            # Paced against the start, so the rate holds on average however
            # long each batch took.
            due = int((time.monotonic() - self._began) * self.rate) + 1 - self.sent
            if due <= 0:
                self.ioloop.call_later(min(BATCH_SECONDS, 1 / self.rate), self._publish_batch)
                return
        exchange, key, headers = self.broker.exchange, self.routing_key, self.headers
        for _ in range(min(due, MAX_BATCH, self.count - self.sent)):
            index = self.sent
            # pika encodes every frame of a copy before it writes any: a copy
            # that raises was not written, and is not counted.
            channel.basic_publish(
                exchange=exchange,
                routing_key=key,
                body=burst_body(self.text, index + 1, self.count),
                properties=stamped_properties(
                    self.origin, self.first_seq + index, time.time(), self.properties, headers
                ),
                mandatory=True,
            )
            self.sent = index + 1  # counted as it goes out, before any copy lands
        self.awaiting_since = time.monotonic()
        channel.exchange_declare(exchange, passive=True, callback=self._settled)

    def _stopped_locally(self, exc: Exception) -> None:
        """The app could not write a copy: the burst ends, saying so (what was
        written before goes on to the broker as the connection closes)."""
        self.error = f"{LOCAL_ERROR}: {type(exc).__name__}: {exc}"[:300]
        self.shut_down()

    def _settled(self, _frame: Any) -> None:
        self.awaiting_since = 0.0
        self._publish_batch()

    def _returned(self, *_args: Any) -> None:
        self.unroutable += 1

    @property
    def closing_for_good(self) -> bool:
        return self._closing

    def _failed(self, exc: BaseException) -> None:
        if self.stopping or self._closing:
            self.shut_down()
            return
        reason = describe_error(exc, mask_url(self._url), vhost_of(self._url))
        connected = self._channel is not None
        self._drop()
        if not connected and self._retry.attempt + 1 < len(self._retry.urls):
            self._retry.failed()  # no wait: each node is tried once, at once
            self._connect()
            return
        self.error = reason
        self.finish()

    def _drop(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        self.blocked, self._held_back = "", False
        if self._liveness is not None:
            self._liveness.stop()
            self._liveness = None
        close_quietly(connection)

    def shut_down(self) -> None:
        self._closing = True
        if self._liveness is not None:
            self._liveness.stop()
            self._liveness = None
        connection, self._channel = self._connection, None
        if connection is None or not (connection.is_open or connection.is_closing):
            self.finish()
            return
        close_quietly(connection)
        if self.blocked:
            # The broker does not read a blocked connection: no Close-Ok would
            # come. The Close is read when the alarm clears; the thread ends now.
            self.finish()
        # Otherwise the connection's close callback finishes.

    def crashed(self, exc: Exception) -> None:
        self.error = f"internal error: {describe_error(exc)}"

    def finished(self) -> None:
        self.blocked = ""
        self.done = True
