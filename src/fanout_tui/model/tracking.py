"""Which receivers got each message this app published, and how late.

The UI thread owns a :class:`DeliveryTracker`. When it publishes, it records
each receiver as it was at that moment (state and queue); receivers report, in
their mailbox, every stamped delivery, and the UI passes the ones carrying this
app's origin to :meth:`DeliveryTracker.received`. Nothing here touches the
network or a widget: it is bookkeeping, kept bounded.

A burst is one record covering a range of sequence numbers, counted per
receiver rather than per message: a million entries would say nothing a count
does not.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from .outcomes import Outcome
from .states import WorkerState

# A receiver as the app saw it: its state and its queue (empty when it has none).
ReceiverView = tuple[WorkerState, str]

MAX_TRACKED = 10_000  # single messages remembered; older ones are forgotten
MAX_BURSTS = 50

_BOUND = (WorkerState.CONSUMING, WorkerState.PAUSED)


class Fate(enum.Enum):
    """What became of one message for one receiver."""

    GOT = "got"
    PENDING = "not yet"
    WAITING = "paused, waiting in its queue"
    LOST = "lost: its queue was gone before delivery"
    NOT_CONNECTED = "not connected"
    NOT_BOUND = "not bound yet"
    REMOVED = "removed"


@dataclass(slots=True)
class TrackedMessage:
    seq: int
    preview: str  # sanitized by the caller
    published_at: float  # time.time()
    receivers: Mapping[int, ReceiverView]  # pane number -> view at publish time
    got: dict[int, float] = field(default_factory=dict)  # pane number -> latency (s)
    outcome: Outcome = Outcome.PUBLISHING
    reason: str = ""

    @property
    def slowest(self) -> float | None:
        return max(self.got.values()) if self.got else None


@dataclass(slots=True)
class TrackedBurst:
    first: int  # sequence numbers first .. first + count - 1
    count: int
    started_at: float
    receivers: Mapping[int, ReceiverView]
    sent: int = 0  # published so far (routed or not)
    unroutable: int = 0
    done: bool = False
    cancelled: bool = False
    error: str = ""  # why it stopped early
    got: dict[int, int] = field(default_factory=dict)  # pane number -> copies received
    slowest: dict[int, float] = field(default_factory=dict)

    def covers(self, seq: int) -> bool:
        return self.first <= seq < self.first + self.count


def fate(
    number: int,
    got: bool,
    receivers: Mapping[int, ReceiverView],
    current: Mapping[int, ReceiverView],
) -> Fate:
    """The fate of a message for receiver ``number``, given the receivers at
    publish time and now."""
    if got:
        return Fate.GOT
    then = receivers.get(number)
    now = current.get(number)
    if then is None:
        return Fate.REMOVED if now is None else Fate.NOT_BOUND
    if now is None:
        return Fate.REMOVED
    state, queue = then
    if state not in _BOUND:
        return Fate.NOT_CONNECTED
    if now[1] != queue:  # another queue now: the one it was published to is gone
        return Fate.LOST
    if state is WorkerState.PAUSED or now[0] is WorkerState.PAUSED:
        return Fate.WAITING
    return Fate.PENDING


def fates_of(
    message: TrackedMessage, current: Mapping[int, ReceiverView]
) -> list[tuple[int, Fate]]:
    """Every receiver concerned, then or now, in pane order, with the message's fate."""
    numbers = sorted(set(message.receivers) | set(current))
    return [(n, fate(n, n in message.got, message.receivers, current)) for n in numbers]


class DeliveryTracker:
    """Bounded record of this app's publishes and who received them (UI thread only)."""

    def __init__(self, limit: int = MAX_TRACKED) -> None:
        self.limit = limit
        self._messages: OrderedDict[int, TrackedMessage] = OrderedDict()
        self._bursts: list[TrackedBurst] = []
        # Bumped on every change, so a view can tell whether to redraw.
        self.version = 0
        self.untracked = 0  # stamped by this app but no longer (or never) recorded

    # Recording --------------------------------------------------------------------
    def published(
        self, seq: int, preview: str, receivers: Mapping[int, ReceiverView], at: float
    ) -> TrackedMessage:
        # ``receivers`` is kept, not copied: the caller passes one it never mutates.
        message = TrackedMessage(seq, preview, at, receivers)
        self._messages[seq] = message
        while len(self._messages) > self.limit:
            self._messages.popitem(last=False)
        self.version += 1
        return message

    def confirmed(self, seq: int, outcome: Outcome, reason: str = "") -> None:
        message = self._messages.get(seq)
        if message is not None:
            message.outcome, message.reason = outcome, reason
            self.version += 1

    def burst_started(
        self, first: int, count: int, receivers: Mapping[int, ReceiverView], at: float
    ) -> TrackedBurst:
        burst = TrackedBurst(first, count, at, receivers)
        self._bursts.append(burst)
        del self._bursts[:-MAX_BURSTS]
        self.version += 1
        return burst

    def received(self, number: int, seq: int, latency: float) -> None:
        message = self._messages.get(seq)
        if message is not None:
            message.got[number] = latency
            self.version += 1
            return
        for burst in reversed(self._bursts):
            if burst.covers(seq):
                burst.got[number] = burst.got.get(number, 0) + 1
                if latency > burst.slowest.get(number, -1.0):
                    burst.slowest[number] = latency
                self.version += 1
                return
        self.untracked += 1

    # Reading ----------------------------------------------------------------------
    def get(self, seq: int) -> TrackedMessage | None:
        return self._messages.get(seq)

    def recent(self, count: int) -> list[TrackedMessage]:
        """The last ``count`` messages, oldest first."""
        out: list[TrackedMessage] = []
        for message in reversed(self._messages.values()):
            if len(out) >= count:
                break
            out.append(message)
        out.reverse()
        return out

    @property
    def bursts(self) -> list[TrackedBurst]:
        return list(self._bursts)

    def __iter__(self) -> Iterator[TrackedMessage]:
        return iter(self._messages.values())

    def __len__(self) -> int:
        return len(self._messages)

    def missed(self, number: int, queue: str, since: float, until: float) -> list[int]:
        """Sequence numbers published in [since, until) that receiver ``number``
        will never get: it was expected, and its queue then is not ``queue``."""
        seqs = []
        for message in reversed(self._messages.values()):
            if message.published_at < since:
                break
            if message.published_at >= until or number in message.got:
                continue
            if message.outcome in (Outcome.UNROUTABLE, Outcome.FAILED, Outcome.NACKED):
                continue
            then = message.receivers.get(number)
            if then is not None and then[1] != queue:
                seqs.append(message.seq)
        seqs.reverse()
        return seqs
