"""Publishing a burst of numbered copies from a thread of its own.

A burst gets its own connection and thread so the interactive publisher stays
free for what the user types meanwhile. It publishes with the same origin and
a block of sequence numbers reserved up front, so receivers' copies are
tracked like any other message. Progress is plain counters the UI reads; the
UI never waits on the thread and the thread never waits on the UI.
"""

from __future__ import annotations

import time

from .broker import BrokerSettings
from .publisher import MessageProperties, Publisher
from .worker import Reconnect, Worker

MAX_BURST = 1_000_000
BATCH_SECONDS = 0.05  # a paced burst publishes what is due every this often
MAX_BATCH = 500  # messages between two barriers (see Publisher.settle_batch)


def burst_body(text: str, index: int, count: int) -> bytes:
    """The ``index``-th copy (1-based): ``text 17/10000``."""
    return f"{text} {index}/{count}".encode()


class BurstWorker(Worker):
    """Publish ``count`` copies, at most ``rate`` per second (None: as fast as the
    broker takes them), until done, cancelled, or the connection fails."""

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
    ) -> None:
        super().__init__("fanout-tui burst")
        if not 1 <= count <= MAX_BURST:
            raise ValueError(f"a burst is 1 to {MAX_BURST:,} messages, not {count:,}")
        if rate is not None and rate <= 0:
            raise ValueError("the rate must be more than 0 messages per second")
        # A burst waits for its batches in settle_batch, so a block must time out.
        self.publisher = Publisher(broker, origin, hold_when_blocked=False)
        self.first_seq = first_seq
        self.count = count
        self.text = text
        self.rate = rate
        self.properties = properties or MessageProperties()
        # Written by this thread only; read by the UI.
        self.sent = 0
        self.unroutable = 0
        self.error: str | None = None
        self.finished = False

    def cancel(self) -> None:
        """End the burst early: the user's word for :meth:`request_stop`."""
        self.request_stop()

    @property
    def cancelled(self) -> bool:
        """A cancel (or stop) was asked for, whether or not the burst was done by then."""
        return self.stopping

    def _connect(self) -> None:
        """The first node that answers, in the order the other workers fail over."""
        retry = Reconnect(self.publisher.broker.urls)
        while True:
            try:
                self.publisher.connect(retry.url)
                return
            except Exception:
                retry.failed()  # no wait: each node is tried once, at once
                if retry.attempt == len(retry.urls):
                    raise

    def run(self) -> None:
        try:
            self.publisher.check_properties(self.properties)
            self._connect()
            started = time.monotonic()
            while self.sent < self.count and not self.stopping:
                if self.rate is None:
                    due = MAX_BATCH
                else:
                    # Paced against the start, so the rate holds on average
                    # however long each batch took.
                    due = int((time.monotonic() - started) * self.rate) + 1 - self.sent
                    if due <= 0:
                        self.sleep(min(BATCH_SECONDS, 1 / self.rate))
                        self.publisher.poll()  # heartbeats, however slow the rate
                        continue
                for _ in range(min(due, MAX_BATCH, self.count - self.sent)):
                    index = self.sent
                    self.publisher.send_unconfirmed(
                        self.first_seq + index,
                        burst_body(self.text, index + 1, self.count),
                        self.properties,
                    )
                    self.sent = index + 1  # counted as it goes out, before any copy lands
                self.unroutable += self.publisher.settle_batch()
        except Exception as exc:
            self.error = self.publisher.describe(exc)
        finally:
            self.publisher.close()
            self.finished = True
