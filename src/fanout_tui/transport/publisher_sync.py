"""Publishing for a caller that waits: ``fanout-tui publish`` and tests.

:class:`Publisher` runs a :class:`PublisherWorker` on one node without
reconnecting and waits for each message's own outcome, up to a time limit:
what a publish came to is still worked out by the worker's callbacks.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

import pika.exceptions as pex

from ..model.outcomes import Outcome
from ..model.states import WorkerState
from .broker import BrokerSettings, mask_url, vhost_of
from .errors import describe_error
from .publish_result import NOT_CONNECTED, PublishResult
from .publisher import PublisherWorker
from .stamps import MessageProperties, new_origin


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
