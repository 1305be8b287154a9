"""What workers report, and the hand-off that carries it to whoever shows it.

Workers never wait on the reader: a :class:`Mailbox` is a pair of bounded
deques (append and popleft are atomic under the GIL) plus an event the reader
may wait on. When the reader falls behind, the oldest deliveries are dropped
from the hand-off, never from the counts. With a body budget, a body longer
than a preview is handed over as its preview plus the whole body, which the
budget keeps only among the newest (:mod:`.body_budget`): what waits in the
hand-off is bounded in bytes as well as in number.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from .body_budget import PREVIEW_BYTES, BodyBudget
from .delivery import ORIGIN_HEADER, SENT_HEADER, SEQ_HEADER, Delivery
from .states import StateChange, WorkerState

_T = TypeVar("_T")

# A stamp counts toward latency only within these bounds. This app's stamps come
# from this host's clock, so one further ahead than a clock step could explain,
# or older than any delivery a person still waits for, is not a latency: a
# replayed or forged header, which would own the window's figures for its next
# ``max_latencies`` deliveries.
MAX_AHEAD = 1.0  # seconds a stamp may be in the future (clock adjustments)
MAX_AGE = 3600.0  # seconds a stamp may be old


class Mailbox:
    """Bounded, non-blocking hand-off from one worker thread to one reader."""

    def __init__(
        self,
        max_deliveries: int = 1000,
        max_events: int = 256,
        *,
        origin: str | None = None,
        max_latencies: int = 1000,
        max_tracked: int = 200_000,
        body_budget: int | None = None,
    ) -> None:
        """``body_budget``: bytes of whole bodies kept, newest first (None: every
        body is handed over whole, as ``fanout-tui listen`` wants them)."""
        self._deliveries: deque[Delivery] = deque(maxlen=max_deliveries)
        self._events: deque[StateChange] = deque(maxlen=max_events)
        self.bodies = BodyBudget(body_budget) if body_budget is not None else None
        # Worked out here, in the worker thread, as each delivery lands: a few
        # arithmetic operations, where handing every delivery to the UI thread
        # to do it cost the UI most of its time under a burst (profiled).
        # The latest publish-to-receive latencies (seconds) of messages stamped by
        # ``origin`` (this app) within MAX_AHEAD and MAX_AGE: another program's
        # header of the same name says nothing about this broker's latency.
        self.latencies: deque[float] = deque(maxlen=max_latencies)
        self.stamped = 0  # how many of those so far
        # (seq, latency) of this app's messages, for delivery tracking, whatever
        # the latency (it tells who got them); drained on every tick, so it stays
        # short, but bounded.
        self._origins = (origin, origin.encode()) if origin else ()
        self._tracked: deque[tuple[int, float]] = deque(maxlen=max_tracked)
        self.ready = threading.Event()
        # Called (in the worker thread) when a delivery lands in a mailbox whose
        # reader had cleared ``ready``: once per drain at most, never per message
        # under load. It must not block; the dashboard passes call_soon_threadsafe.
        self.waker: Callable[[], None] | None = None
        # Written only by the worker thread; exact whatever the deque drops.
        self.received = 0
        self.last_at = 0.0  # wall-clock time the latest delivery landed
        self.state = StateChange(WorkerState.CONNECTING)

    # Worker side -----------------------------------------------------------
    def put_delivery(self, delivery: Delivery) -> None:
        bodies = self.bodies
        # The length test first: a short body costs no call.
        if bodies is not None and len(delivery.body) > PREVIEW_BYTES:
            delivery = bodies.keep(delivery)
        self.received += 1
        self.last_at = delivery.received_at
        self._deliveries.append(delivery)
        headers = delivery.headers
        # One dict lookup and a tuple test for a message that is not ours.
        if headers.get(ORIGIN_HEADER) in self._origins:
            sent = headers.get(SENT_HEADER)
            if isinstance(sent, int):  # pika decodes 64-bit values as a subclass of int
                latency = delivery.received_at - sent / 1_000_000
                if -MAX_AHEAD <= latency <= MAX_AGE:
                    self.latencies.append(latency)
                    self.stamped += 1
                seq = headers.get(SEQ_HEADER)
                if isinstance(seq, int):
                    self._tracked.append((seq, latency))
        if not self.ready.is_set():  # set() takes a lock; skip it when already set
            self.ready.set()
            waker = self.waker
            if waker is not None:
                waker()

    def put_event(self, event: StateChange) -> None:
        self.state = event
        self._events.append(event)
        self.ready.set()

    # Reader side -----------------------------------------------------------
    def drain_deliveries(self) -> list[Delivery]:
        return _drain(self._deliveries)

    def drain_events(self) -> list[StateChange]:
        return _drain(self._events)

    def drain_tracked(self) -> list[tuple[int, float]]:
        return _drain(self._tracked)

    def recent_latencies(self) -> list[float]:
        # list() of a deque of floats runs in C without releasing the GIL, so the
        # worker cannot append halfway through it.
        return list(self.latencies)

    @property
    def pending(self) -> int:
        return len(self._deliveries)


def _drain(items: deque[_T]) -> list[_T]:
    out: list[_T] = []
    pop = items.popleft
    for _ in range(len(items)):
        try:
            out.append(pop())
        except IndexError:
            break
    return out
