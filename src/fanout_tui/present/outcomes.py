"""The words for what became of a publish, once for every place that shows one.

The dashboard's result line and delivery log, a publish result's ``describe()``
and ``fanout-tui publish``'s error line all say an outcome with these
functions, so the same message reads the same everywhere. The data they read
(:class:`~fanout_tui.model.outcomes.Outcome`, the tracker's records and fates)
is in model/, which holds no text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..model.outcomes import Outcome
from ..model.receiver_spec import ReceiverSpec, duration_text
from ..model.tracking import (
    Fate,
    ReceiverView,
    TrackedBurst,
    TrackedMessage,
    fates_of,
    is_expected,
    shared_queues,
)
from .text import sanitize

# Outcomes after which no receiver has a copy to list.
REACHED_NONE = (Outcome.UNROUTABLE, Outcome.NACKED, Outcome.FAILED)
# Outcomes that may yet have reached queues: said in words until a copy is seen.
UNCONFIRMED = (Outcome.HELD, Outcome.UNKNOWN)


def outcome_cause(outcome: Outcome, exchange: str, reason: str = "") -> str:
    """Why a message reached no queue, in a few words ("" when it did or may yet);
    ``reason`` is why it failed, for :attr:`Outcome.FAILED`."""
    if outcome is Outcome.UNROUTABLE:
        # The publisher's reason when it knows better (a replaced exchange).
        return reason or f"no queue is bound to exchange {exchange!r}"
    if outcome is Outcome.NACKED:
        return "the broker refused the message"
    if outcome is Outcome.FAILED:
        return reason
    if outcome is Outcome.HELD:
        return f"held by the broker ({reason or 'a resource alarm'})"
    if outcome is Outcome.UNKNOWN:
        return f"no confirm came back: {reason}" if reason else "no confirm came back"
    return ""


def describe_outcome(outcome: Outcome, exchange: str, reason: str = "") -> str:
    """The one line shown to a person: ``routed to exchange 'logs'``, ``unroutable —
    no queue is bound to exchange 'logs'; the message was dropped``, ``not sent: …``."""
    cause = outcome_cause(outcome, exchange, reason)
    note = f" ({reason})" if reason else ""  # e.g. the exchange was declared again
    if outcome is Outcome.ROUTED:
        return f"routed to exchange {exchange!r}{note}"
    if outcome is Outcome.UNROUTABLE:
        return f"unroutable — {cause}; the message was dropped"
    if outcome is Outcome.NACKED:
        return f"nacked — {cause}"
    if outcome is Outcome.FAILED:
        return f"not sent: {cause}"
    if outcome is Outcome.HELD:
        return f"{cause}: written, not yet routed; it goes out when the alarm clears"
    if outcome is Outcome.UNKNOWN:
        return f"unknown — {cause}; it may have been routed (sending it again may duplicate it)"
    return "publishing…"


def not_written_while_blocked(preview: str, reason: str) -> str:
    """The result line of a message typed while the broker was known to block
    publishers: never written, so honestly not sent, and kept in the input."""
    return (
        f"{preview} not sent: the broker is blocking publishers ({reason}); "
        "press Enter again once it clears"
    )


def refused_before_writing(preview: str, reason: str) -> str:
    """The result line of a message typed whose key or text cannot be written
    (``reason``): refused before it was written, kept in the input."""
    return f"{preview} not sent: {reason} (nothing was written; the message stays in the input)"


def ms(seconds: float) -> str:
    """A latency as people read it: 0.4 ms, 12 ms, 3.2 s."""
    if seconds < 0:
        seconds = 0.0  # another host's clock, slightly ahead
    if seconds < 0.01:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.1f} s"


def severity(record: TrackedMessage | TrackedBurst) -> str:
    """How a record reads at a glance: "error", "warning", "ok", or "" while it is
    still going out. The result line and the delivery log colour by it."""
    if isinstance(record, TrackedBurst):
        if record.error:
            return "error"
        if record.unroutable or (record.cancelled and record.sent < record.count):
            return "warning"
        return "ok" if record.done else ""
    outcome = record.outcome
    if outcome in (Outcome.FAILED, Outcome.NACKED):
        return "error"
    wanted, reached = receivers_of(record)
    if outcome is Outcome.UNROUTABLE or (outcome in UNCONFIRMED and not reached):
        return "warning"
    if outcome is Outcome.PUBLISHING:
        return ""
    return "warning" if len(reached) < len(wanted) else "ok"


def receivers_of(message: TrackedMessage) -> tuple[list[list[int]], list[list[int]]]:
    """The receivers a message was for and those that got it, each a list of
    panes: a work queue's panes are one receiver, as its copy goes to one of
    them; panes its routing key does not match are left out."""
    shared = shared_queues(message.receivers)
    in_shared = {n for numbers in shared.values() for n in numbers}
    units = [*shared.values(), *([n] for n in sorted(message.receivers) if n not in in_shared)]
    units.sort()
    wanted = [u for u in units if any(is_expected(n, message.expected) for n in u)]
    reached = [u for u in wanted if any(n in message.got for n in u)]
    return wanted, reached


@dataclass(frozen=True)
class Routing:
    """What the words for a publish need beyond the record: the exchange, its
    type, and each pane's spec (its kind, bindings and limits)."""

    exchange: str
    exchange_type: str = "fanout"
    specs: Mapping[int, ReceiverSpec] = field(default_factory=dict)
    queue_cap: int = 0  # the app's own cap on exclusive queues (0: none)

    def spec(self, number: int) -> ReceiverSpec:
        return self.specs.get(number) or ReceiverSpec()

    def keys(self, number: int) -> str:
        return self.spec(number).bindings_text(self.exchange_type)

    def limits(self, number: int) -> str:
        """``max-length 1,000, drop-head``, or the app's cap on its exclusive queues."""
        spec = self.spec(number)
        return spec.limits_text() or f"queue cap {self.queue_cap:,}, drop-head (queue_cap)"


def lost_text(number: int, count: int, routing: Routing) -> str:
    """What pane ``number``'s queue threw away, as its pane counts it:
    ``dropped by the broker: 4,000 (max-length 1,000, drop-head)``, ``expired: 12 (ttl 5s)``."""
    why = gap_fate(routing.spec(number))
    if why is Fate.EXPIRED:
        return f"expired: {count:,} (ttl {duration_text(routing.spec(number).ttl or 0)})"
    if why is Fate.REFUSED:
        return f"refused by its full queue: {count:,} ({routing.limits(number)})"
    return f"dropped by the broker: {count:,} ({routing.limits(number)})"


def gap_fate(spec: ReceiverSpec) -> Fate:
    """What a message this app published and a pane's queue skipped became, by
    the queue's limits: refused (reject-publish), expired (a ttl and no length
    limit) or dropped (a length limit, or the app's cap)."""
    if spec.overflow == "reject-publish":
        return Fate.REFUSED
    if spec.ttl is not None and spec.max_length is None and spec.max_bytes is None:
        return Fate.EXPIRED
    return Fate.DROPPED


def fate_text(number: int, fate: Fate, routing: Routing) -> str:
    """``R3 dropped by the broker (max-length 10, drop-head)``, ``R2 not matching (app.*)``."""
    spec = routing.spec(number)
    text = f"R{number} {fate.value}"
    if fate is Fate.NOT_MATCHING:
        return f"{text} ({routing.keys(number)})"
    if fate is Fate.EXPIRED and spec.ttl is not None:
        return f"{text} (ttl {duration_text(spec.ttl)})"
    if fate in (Fate.DROPPED, Fate.REFUSED):
        return f"{text} ({routing.limits(number)})"
    return text


def summarize(
    message: TrackedMessage,
    current: Mapping[int, ReceiverView],
    routing: Routing,
    names: bool = True,
) -> str:
    """The result line for one message.

    ``#12 "hello" → 3/4 receivers, slowest 3.1 ms · R2 paused, waiting in its queue``;
    a work queue counts as one receiver, as one copy goes to one of its panes:
    ``→ 3/3 receivers (work queue 'jobs' → R4)``;
    routed: ``#12 kern.critical "x" → 2/2 expected (R1 kern.*, R3 *.critical) · R2 not
    matching (app.*)``.
    """
    routed = routing.exchange_type not in ("fanout", "")
    key = f" {sanitize(message.routing_key, 40) or repr('')}" if routed else ""
    head = f"#{message.seq}{key} {message.preview} →"
    got = sum(1 for n in message.got if n in message.receivers)
    if message.outcome is Outcome.NACKED:
        return f"{head} {_nacked(message, routing, got)}"
    if message.outcome in REACHED_NONE or (message.outcome in UNCONFIRMED and not got):
        reason = message.reason
        if message.outcome is Outcome.UNROUTABLE and routed and not reason:
            reason = f"no binding matches routing key {message.routing_key!r}"
        return f"{head} {describe_outcome(message.outcome, routing.exchange, reason)}"
    wanted, reached = receivers_of(message)
    shared = shared_queues(message.receivers)
    in_shared = {n: queue for queue, numbers in shared.items() for n in numbers}
    if message.expected is not None:
        noun = "expected"
    else:
        # One word for one thing, as the header says: a work queue is one receiver.
        noun = "receivers" if len(wanted) != 1 else "receiver"
    text = f"{head} {len(reached)}/{len(wanted)} {noun}"
    slowest = message.slowest
    if slowest is not None:
        text += f", slowest {ms(slowest)}"
    if message.outcome is Outcome.PUBLISHING and len(reached) < len(wanted):
        text += " (publishing…)"
    elif message.outcome in UNCONFIRMED:
        text += " (no confirm from the broker)"
    elif message.reason:
        text += f" ({message.reason})"
    if not names:
        return text
    who = []
    for queue, numbers in shared.items():
        takers = [f"R{n}" for n in numbers if n in message.got]
        if takers:
            who.append(f"work queue {sanitize(queue, 40)!r} → {', '.join(takers)}")
    if routed:
        who = [
            f"R{n} {routing.keys(n)}"
            for n in sorted(message.got)
            if n in message.receivers and n not in in_shared
        ] + who
    if who:
        text += f" ({', '.join(who)})"
    notes = []
    for number, fate in fates_of(message, current):
        if fate is Fate.GOT:
            if not is_expected(number, message.expected):
                notes.append(
                    f"⚠ R{number} got it, though no binding matches ({routing.keys(number)})"
                )
            continue
        if number in in_shared and any(n in message.got for n in shared[in_shared[number]]):
            continue  # another consumer of its work queue took it
        if fate is Fate.NOT_BOUND or (
            fate is Fate.PENDING and message.outcome is Outcome.PUBLISHING
        ):
            continue
        if fate is Fate.PENDING and not is_expected(number, message.expected):
            continue
        notes.append(fate_text(number, fate, routing))
    if notes:
        text += " · " + ", ".join(notes)
    return text


def _nacked(message: TrackedMessage, routing: Routing, got: int) -> str:
    """A nack: with ``overflow=reject-publish`` it names the full queue, and the
    others still got their copies: ``nacked: R3's queue is full (reject-publish);
    3 others got it``."""
    full = [
        n
        for n, (state, _queue) in sorted(message.receivers.items())
        if routing.spec(n).overflow == "reject-publish"
        and n not in message.got
        and is_expected(n, message.expected)
    ]
    if not full:
        text = describe_outcome(Outcome.NACKED, routing.exchange, message.reason)
        return text + (f"; {got} got it" if got else "")
    owners = ", ".join(f"R{n}'s" for n in full)
    queue = "queue is" if len(full) == 1 else "queues are"
    others = f"{got} other{'s' if got != 1 else ''} got it" if got else "no other pane got it"
    return f"nacked: {owners} {queue} full (reject-publish); {others}"


def summarize_burst(burst: TrackedBurst, routing: Routing | None = None) -> str:
    """``burst #1000..#1009: 10/10 sent · R1 10/10 (slowest 4.0 ms)``."""
    last = burst.first + burst.count - 1
    routed = burst.sent - burst.unroutable
    text = f"burst #{burst.first}..#{last}: {burst.sent:,}/{burst.count:,} sent"
    if not burst.done and burst.blocked:
        text += f" (paused: the broker is blocking publishers ({burst.blocked}); resumes by itself)"
    elif not burst.done and burst.silent_for:
        text += f" (no answer from the broker for {burst.silent_for:.0f} s; Escape cancels)"
    elif not burst.done:
        text += " (publishing…)"
    elif burst.error:
        text += f", stopped: {burst.error}"
    elif burst.cancelled and burst.sent < burst.count:
        text += ", cancelled"
    if burst.unroutable:
        text += f", {burst.unroutable:,} unroutable"
    routing = routing or Routing("")
    parts = []
    shared = shared_queues(burst.receivers)
    in_shared = {n for numbers in shared.values() for n in numbers}
    for queue, numbers in shared.items():
        got = sum(burst.got.get(n, 0) for n in numbers)
        named = f"work queue {sanitize(queue, 40)!r}"
        if not any(is_expected(n, burst.expected) for n in numbers):
            # Its panes share the queue's bindings: the key matches none of them.
            keys = routing.keys(numbers[0])
            parts.append(
                f"⚠ {named} got {got:,} though no binding matches ({keys})"
                if got
                else f"{named} not matching ({keys})"
            )
            continue
        split = ", ".join(f"R{n} {burst.got.get(n, 0):,}" for n in numbers)
        parts.append(f"{named} {got:,}/{routed:,} ({split})")
    for number in sorted(burst.receivers):
        if number in in_shared:
            continue
        if not is_expected(number, burst.expected):
            got = burst.got.get(number, 0)
            parts.append(f"R{number} not matching ({routing.keys(number)})")
            if got:
                parts[-1] = f"⚠ R{number} got {got:,} though no binding matches"
            continue
        part = f"R{number} {burst.got.get(number, 0):,}/{routed:,}"
        slowest = burst.slowest.get(number)
        if slowest is not None:
            part += f" (slowest {ms(slowest)})"
        lost = burst.lost.get(number)
        if lost:
            part += f", {lost_text(number, lost, routing)}"
        parts.append(part)
    if parts:
        text += " · " + ", ".join(parts)
    return text
