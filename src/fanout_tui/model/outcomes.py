"""What became of a publish, and the words that say so.

:class:`Outcome` is what the publisher reports for each message and what
delivery tracking records. The words live here, once, for every place that
shows an outcome: the dashboard's result line and delivery log, a publish
result's ``describe()``, and ``fanout-tui publish``'s error line. Here in
model/ rather than present/ because tracking's summaries (model/) use them too,
and the layers let a module import only from the layers below it.
"""

from __future__ import annotations

import enum


class Outcome(enum.Enum):
    PUBLISHING = "publishing"  # sent, no confirm yet (tracking only: a result never is)
    ROUTED = "routed"
    UNROUTABLE = "unroutable"
    NACKED = "nacked"
    FAILED = "failed"


def outcome_cause(outcome: Outcome, exchange: str, reason: str = "") -> str:
    """Why a message reached no queue, in a few words ("" when it did or may yet);
    ``reason`` is why it failed, for :attr:`Outcome.FAILED`."""
    if outcome is Outcome.UNROUTABLE:
        return f"no queue is bound to exchange {exchange!r}"
    if outcome is Outcome.NACKED:
        return "the broker refused the message"
    if outcome is Outcome.FAILED:
        return reason
    return ""


def describe_outcome(outcome: Outcome, exchange: str, reason: str = "") -> str:
    """The one line shown to a person: ``routed to exchange 'logs'``, ``unroutable —
    no queue is bound to exchange 'logs'; the message was dropped``, ``not sent: …``."""
    cause = outcome_cause(outcome, exchange, reason)
    if outcome is Outcome.ROUTED:
        return f"routed to exchange {exchange!r}"
    if outcome is Outcome.UNROUTABLE:
        return f"unroutable — {cause}; the message was dropped"
    if outcome is Outcome.NACKED:
        return f"nacked — {cause}"
    if outcome is Outcome.FAILED:
        return f"not sent: {cause}"
    return "publishing…"
