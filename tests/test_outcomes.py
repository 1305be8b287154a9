"""A publish's outcome reads the same wherever it is shown."""

from __future__ import annotations

import pytest

from fanout_tui.model.outcomes import Outcome
from fanout_tui.model.tracking import DeliveryTracker
from fanout_tui.present.outcomes import Routing, describe_outcome, summarize
from fanout_tui.transport.publish_result import PublishResult

LOGS = Routing("logs")


@pytest.mark.parametrize("outcome", [Outcome.UNROUTABLE, Outcome.NACKED, Outcome.FAILED])
def test_the_result_and_the_tracked_message_say_the_same(outcome: Outcome) -> None:
    result = PublishResult(3, outcome, b"x", "logs", "connection refused")
    tracker = DeliveryTracker()
    message = tracker.published(3, '"x"', {}, 0.0)
    tracker.confirmed(3, result.status, result.reason)

    said = describe_outcome(outcome, "logs", "connection refused")
    assert result.describe() == f"#3 {said}"
    assert summarize(message, {}, LOGS) == f'#3 "x" → {said}'


def test_every_outcome_has_its_own_line() -> None:
    lines = {describe_outcome(outcome, "logs", "why") for outcome in Outcome}
    assert len(lines) == len(Outcome)


def test_a_running_burst_says_why_it_makes_no_progress() -> None:
    from fanout_tui.model.tracking import TrackedBurst
    from fanout_tui.present.outcomes import summarize_burst

    burst = TrackedBurst(1, 2000, 0.0, {}, sent=500)
    assert summarize_burst(burst) == "burst #1..#2000: 500/2,000 sent (publishing…)"
    burst.silent_for = 12.4
    assert "(no answer from the broker for 12 s; Escape cancels)" in summarize_burst(burst)
    burst.blocked = "low on memory"
    assert "(paused: the broker is blocking publishers (low on memory);" in summarize_burst(burst)
