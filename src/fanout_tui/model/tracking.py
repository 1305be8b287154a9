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
# Seconds past a queue's ttl before a copy waiting in a paused pane's queue is
# called expired: the copy was routed a little after it was published.
EXPIRY_MARGIN = 0.5

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
    # Found from this app's sequence numbers: a later one arrived, this one never
    # will. Which of the three it is follows from the queue's limits.
    DROPPED = "dropped by the broker"
    EXPIRED = "expired in its queue"
    REFUSED = "refused by its full queue"
    # Routing (direct, topic, headers): no binding of the pane matches.
    NOT_MATCHING = "not matching"
    # A shared queue (a work queue): another of its consumers got it.
    SHARED = "went to another consumer of its queue"


# Fates after which the copy will never come.
GONE = (Fate.LOST, Fate.DROPPED, Fate.EXPIRED, Fate.REFUSED, Fate.REMOVED)


@dataclass(slots=True)
class TrackedMessage:
    seq: int
    preview: str  # sanitized by the caller
    published_at: float  # time.time()
    receivers: Mapping[int, ReceiverView]  # pane number -> view at publish time
    got: dict[int, float] = field(default_factory=dict)  # pane number -> latency (s)
    outcome: Outcome = Outcome.PUBLISHING
    reason: str = ""
    routing_key: str = ""
    # The panes whose bindings match it (None: every bound pane, as on a fanout).
    expected: frozenset[int] | None = None
    lost: dict[int, Fate] = field(default_factory=dict)  # pane -> why it never will

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
    # While it runs: why the broker blocks it ("" when not), and for how long
    # no batch has been answered (0 while they are).
    blocked: str = ""
    silent_for: float = 0.0
    got: dict[int, int] = field(default_factory=dict)  # pane number -> copies received
    slowest: dict[int, float] = field(default_factory=dict)
    routing_key: str = ""
    expected: frozenset[int] | None = None  # as for a message: one key for the burst
    lost: dict[int, int] = field(default_factory=dict)  # pane -> copies that never will

    def covers(self, seq: int) -> bool:
        return self.first <= seq < self.first + self.count


def is_expected(number: int, expected: frozenset[int] | None) -> bool:
    return expected is None or number in expected


def fate(
    number: int,
    got: bool,
    receivers: Mapping[int, ReceiverView],
    current: Mapping[int, ReceiverView],
    expected: frozenset[int] | None = None,
) -> Fate:
    """The fate of a message for receiver ``number``, given the receivers at
    publish time and now, and which of them its routing key matches."""
    if got:
        return Fate.GOT
    then = receivers.get(number)
    if then is not None and then[0] in _BOUND and not is_expected(number, expected):
        return Fate.NOT_MATCHING
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
    taken = {  # work queues whose copy one of their panes got
        queue
        for queue, panes in shared_queues(message.receivers).items()
        if any(n in message.got for n in panes)
    }
    out = []
    for n in numbers:
        lost = message.lost.get(n)
        if lost is not None and n not in message.got:
            out.append((n, lost))
            continue
        then = message.receivers.get(n)
        if then is not None and then[1] in taken and n not in message.got:
            out.append((n, Fate.SHARED))
            continue
        out.append((n, fate(n, n in message.got, message.receivers, current, message.expected)))
    return out


def shared_queues(receivers: Mapping[int, ReceiverView]) -> dict[str, list[int]]:
    """Queues that several bound panes consume together (work queues), with
    their panes in order: each message on one goes to one of them."""
    by_queue: dict[str, list[int]] = {}
    for number in sorted(receivers):
        state, queue = receivers[number]
        if queue and state in _BOUND:
            by_queue.setdefault(queue, []).append(number)
    return {queue: numbers for queue, numbers in by_queue.items() if len(numbers) > 1}


class DeliveryTracker:
    """Bounded record of this app's publishes and who received them (UI thread only)."""

    def __init__(self, limit: int = MAX_TRACKED) -> None:
        self.limit = limit
        self._messages: OrderedDict[int, TrackedMessage] = OrderedDict()
        self._bursts: list[TrackedBurst] = []
        # Bumped on every change, so a view can tell whether to redraw.
        self.version = 0
        self.untracked = 0  # stamped by this app but no longer (or never) recorded
        # Panes whose queue drops, expires or refuses messages (its limits, or
        # the app's cap), with what a gap means there and the queue it is for:
        # set by the dashboard as receivers change. In such a FIFO queue, a later
        # message of this app arriving proves the earlier ones it skipped will
        # never come.
        self.gap_fates: dict[int, tuple[Fate, str]] = {}
        self._last_seq: dict[int, int] = {}  # pane -> last of this app's seqs it got
        self.lost_counts: dict[int, int] = {}  # pane -> copies found dropped (or so)
        self._expired_upto: dict[int, int] = {}  # pane -> newest seq looked at for expiry

    # Recording --------------------------------------------------------------------
    def published(
        self,
        seq: int,
        preview: str,
        receivers: Mapping[int, ReceiverView],
        at: float,
        routing_key: str = "",
        expected: frozenset[int] | None = None,
    ) -> TrackedMessage:
        # ``receivers`` is kept, not copied: the caller passes one it never mutates.
        message = TrackedMessage(seq, preview, at, receivers, routing_key=routing_key)
        message.expected = expected
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
        self,
        first: int,
        count: int,
        receivers: Mapping[int, ReceiverView],
        at: float,
        routing_key: str = "",
        expected: frozenset[int] | None = None,
    ) -> TrackedBurst:
        burst = TrackedBurst(first, count, at, receivers, routing_key=routing_key)
        burst.expected = expected
        self._bursts.append(burst)
        del self._bursts[:-MAX_BURSTS]
        self.version += 1
        return burst

    def received(self, number: int, seq: int, latency: float) -> None:
        gap = self.gap_fates.get(number)
        if gap is not None:
            self._skipped(number, seq, *gap)
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

    def _skipped(self, number: int, seq: int, why: Fate, queue: str) -> None:
        """Count what pane ``number``'s queue skipped before ``seq``: this app's
        messages published to that queue since the last one it got."""
        last = self._last_seq.get(number)
        if last is not None and seq <= last + 1:
            if seq > last:
                self._last_seq[number] = seq
            return  # the next in line (a burst's common case), or a redelivery
        self._last_seq[number] = seq
        low = 0 if last is None else last + 1
        count = 0
        for message in reversed(self._messages.values()):
            if message.seq >= seq:
                continue
            if message.seq < low:
                break
            if number in message.got or number in message.lost:
                continue
            if self._was_sent_to(number, queue, message, why) and is_expected(
                number, message.expected
            ):
                message.lost[number] = why
                count += 1
        for burst in self._bursts:
            start, end = max(burst.first, low), min(burst.first + burst.count, seq)
            then = burst.receivers.get(number)
            bound_there = then is not None and then[0] in _BOUND and then[1] == queue
            if end > start and bound_there and is_expected(number, burst.expected):
                burst.lost[number] = burst.lost.get(number, 0) + end - start
                count += end - start
        if count:
            self.lost_counts[number] = self.lost_counts.get(number, 0) + count
            self.version += 1

    def expire_waiting(self, number: int, queue: str, ttl: float, now: float) -> int:
        """Mark as expired the copies pane ``number``'s queue has held longer
        than its ``ttl``: the caller has seen the pane paused on ``queue``, so no
        consumer took them and the broker threw them away. Counted like the
        copies a later delivery proves expired (never twice: a copy has one
        fate); the number newly marked."""
        upto = self._expired_upto.get(number, 0)
        newest = upto
        count = 0
        for message in reversed(self._messages.values()):
            if message.seq <= upto:
                break
            if now - message.published_at <= ttl + EXPIRY_MARGIN:
                continue  # still within its ttl
            newest = max(newest, message.seq)
            if number in message.got or number in message.lost:
                continue
            if self._was_sent_to(number, queue, message, Fate.EXPIRED) and is_expected(
                number, message.expected
            ):
                message.lost[number] = Fate.EXPIRED
                count += 1
        self._expired_upto[number] = newest
        if count:
            self.lost_counts[number] = self.lost_counts.get(number, 0) + count
            self.version += 1
        return count

    @staticmethod
    def _was_sent_to(number: int, queue: str, message: TrackedMessage, why: Fate) -> bool:
        then = message.receivers.get(number)
        if then is None or then[0] not in _BOUND or then[1] != queue:
            return False  # published before it was bound there: never its to get
        if message.outcome is Outcome.NACKED:
            return why is Fate.REFUSED  # refused by this very queue, most likely
        return message.outcome not in (Outcome.UNROUTABLE, Outcome.FAILED)

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
        will never get: it was expected, and its queue then is not ``queue``.
        A copy already known dropped, expired or refused is not missed: it has
        one fate, and its pane counted it once."""
        seqs = []
        for message in reversed(self._messages.values()):
            if message.published_at < since:
                break
            if message.published_at >= until or number in message.got or number in message.lost:
                continue
            if message.outcome in (Outcome.UNROUTABLE, Outcome.FAILED, Outcome.NACKED):
                continue
            then = message.receivers.get(number)
            if then is not None and then[1] != queue:
                seqs.append(message.seq)
        seqs.reverse()
        return seqs
