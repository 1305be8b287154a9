"""The words for what became of a publish, once for every place that shows one.

The dashboard's result line and delivery log, a publish result's ``describe()``
and ``fanout-tui publish``'s error line all say an outcome with these
functions, so the same message reads the same everywhere. The data they read
(:class:`~fanout_tui.model.outcomes.Outcome`, the tracker's records and fates)
is in model/, which holds no text.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..model.outcomes import Outcome
from ..model.tracking import Fate, ReceiverView, TrackedBurst, TrackedMessage, fates_of

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
    got = sum(1 for n in record.got if n in record.receivers)
    if outcome is Outcome.UNROUTABLE or (outcome in UNCONFIRMED and not got):
        return "warning"
    if outcome is Outcome.PUBLISHING:
        return ""
    return "warning" if got < len(record.receivers) else "ok"


def summarize(
    message: TrackedMessage,
    current: Mapping[int, ReceiverView],
    exchange: str,
    names: bool = True,
) -> str:
    """``#12 "hello" → 3/4 receivers, slowest 3.1 ms · R2 paused, waiting in its queue``."""
    head = f"#{message.seq} {message.preview} →"
    expected = len(message.receivers)
    got = sum(1 for n in message.got if n in message.receivers)
    if message.outcome in REACHED_NONE or (message.outcome in UNCONFIRMED and not got):
        return f"{head} {describe_outcome(message.outcome, exchange, message.reason)}"
    text = f"{head} {got}/{expected} receiver{'s' if expected != 1 else ''}"
    slowest = message.slowest
    if slowest is not None:
        text += f", slowest {ms(slowest)}"
    if message.outcome is Outcome.PUBLISHING and got < expected:
        text += " (publishing…)"
    elif message.outcome in UNCONFIRMED:
        text += " (no confirm from the broker)"
    elif message.reason:
        text += f" ({message.reason})"
    if names:
        missing = [
            f"R{n} {f.value}"
            for n, f in fates_of(message, current)
            if f not in (Fate.GOT, Fate.NOT_BOUND, Fate.PENDING)
            or (f is Fate.PENDING and message.outcome is not Outcome.PUBLISHING)
        ]
        if missing:
            text += " · " + ", ".join(missing)
    return text


def summarize_burst(burst: TrackedBurst) -> str:
    """``burst #1000..#1009: 10/10 sent · R1 10/10 (slowest 4.0 ms)``."""
    last = burst.first + burst.count - 1
    routed = burst.sent - burst.unroutable
    text = f"burst #{burst.first}..#{last}: {burst.sent:,}/{burst.count:,} sent"
    if not burst.done:
        text += " (publishing…)"
    elif burst.error:
        text += f", stopped: {burst.error}"
    elif burst.cancelled and burst.sent < burst.count:
        text += ", cancelled"
    if burst.unroutable:
        text += f", {burst.unroutable:,} unroutable"
    parts = []
    for number in sorted(burst.receivers):
        part = f"R{number} {burst.got.get(number, 0):,}/{routed:,}"
        slowest = burst.slowest.get(number)
        if slowest is not None:
            part += f" (slowest {ms(slowest)})"
        parts.append(part)
    if parts:
        text += " · " + ", ".join(parts)
    return text
