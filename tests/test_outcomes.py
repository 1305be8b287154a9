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
