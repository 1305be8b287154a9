"""Delivery tracking bookkeeping: who got which message, and what a missing copy means.

Pure logic (no network): the tracker is fed what the app saw; the app tests
drive it through a real broker.
"""

from __future__ import annotations

from fanout_tui.model.outcomes import Outcome
from fanout_tui.model.receiver_spec import parse_spec
from fanout_tui.model.states import WorkerState
from fanout_tui.model.tracking import DeliveryTracker, Fate, fate
from fanout_tui.present.outcomes import Routing, lost_text, ms, summarize, summarize_burst

LOGS = Routing("logs")

C, P, R = WorkerState.CONSUMING, WorkerState.PAUSED, WorkerState.RECONNECTING


def test_all_receivers_got_it() -> None:
    tracker = DeliveryTracker()
    receivers = {1: (C, "q1"), 2: (C, "q2")}
    message = tracker.published(12, '"hello"', receivers, at=100.0)
    tracker.received(1, 12, 0.0031)
    tracker.received(2, 12, 0.0012)
    tracker.confirmed(12, Outcome.ROUTED)
    assert summarize(message, receivers, LOGS) == ('#12 "hello" → 2/2 receivers, slowest 3.1 ms')


def test_one_receiver_is_singular() -> None:
    tracker = DeliveryTracker()
    receivers = {1: (C, "q1")}
    message = tracker.published(1, '"one"', receivers, at=100.0)
    tracker.received(1, 1, 0.001)
    tracker.confirmed(1, Outcome.ROUTED)
    assert summarize(message, receivers, LOGS) == '#1 "one" → 1/1 receiver, slowest 1.0 ms'


def test_a_paused_receiver_is_named_and_counts_once_it_resumes() -> None:
    tracker = DeliveryTracker()
    then = {1: (C, "q1"), 2: (P, "q2"), 3: (C, "q3"), 4: (C, "q4")}
    message = tracker.published(3, '"x"', then, at=1.0)
    for n in (1, 3, 4):
        tracker.received(n, 3, 0.002)
    tracker.confirmed(3, Outcome.ROUTED)
    text = summarize(message, then, LOGS)
    assert text.startswith('#3 "x" → 3/4 receivers')
    assert "R2 paused, waiting in its queue" in text
    tracker.received(2, 3, 5.0)
    assert summarize(message, then, LOGS) == '#3 "x" → 4/4 receivers, slowest 5.0 s'


def test_fates() -> None:
    then = {1: (C, "q1"), 2: (R, ""), 3: (C, "q3")}
    now = {1: (C, "q1"), 2: (C, "q2b"), 3: (C, "q3-new"), 5: (C, "q5")}
    assert fate(1, True, then, now) is Fate.GOT
    assert fate(1, False, then, now) is Fate.PENDING
    assert fate(2, False, then, now) is Fate.NOT_CONNECTED
    assert fate(3, False, then, now) is Fate.LOST
    assert fate(5, False, then, now) is Fate.NOT_BOUND
    assert fate(4, False, {4: (C, "q4")}, now) is Fate.REMOVED


def test_outcomes_that_reached_no_receiver() -> None:
    tracker = DeliveryTracker()
    message = tracker.published(1, '"a"', {}, at=0.0)
    tracker.confirmed(1, Outcome.UNROUTABLE)
    assert "unroutable — no queue is bound to exchange 'logs'" in summarize(message, {}, LOGS)
    failed = tracker.published(2, '"b"', {}, at=0.0)
    tracker.confirmed(2, Outcome.FAILED, "connection refused")
    assert summarize(failed, {}, LOGS) == '#2 "b" → not sent: connection refused'


def test_missed_counts_only_what_went_to_a_queue_that_is_gone() -> None:
    tracker = DeliveryTracker()
    for seq in range(1, 6):
        tracker.published(seq, "m", {1: (C, "old")}, at=float(seq))
        tracker.confirmed(seq, Outcome.ROUTED)
    tracker.received(1, 1, 0.001)
    tracker.received(1, 2, 0.001)
    # 3, 4 were published to the old queue and never arrived; 5 after the reconnect.
    assert tracker.missed(1, "new", since=0.0, until=5.0) == [3, 4]
    assert tracker.missed(1, "old", since=0.0, until=5.0) == []


def test_bounded_and_bursts_are_counted_per_receiver() -> None:
    tracker = DeliveryTracker(limit=100)
    for seq in range(1, 301):
        tracker.published(seq, "m", {}, at=0.0)
    assert len(tracker) == 100
    assert tracker.get(1) is None and tracker.get(300) is not None
    burst = tracker.burst_started(1000, 10, {1: (C, "q1"), 2: (C, "q2")}, at=0.0)
    burst.sent = 4
    assert summarize_burst(burst).startswith("burst #1000..#1009: 4/10 sent (publishing…)")
    burst.sent, burst.done = 10, True
    for seq in range(1000, 1010):
        tracker.received(1, seq, 0.004)
    tracker.received(2, 1000, 0.2)
    tracker.received(2, 5000, 0.2)  # nobody's: counted as untracked
    assert tracker.untracked == 1
    assert summarize_burst(burst) == (
        "burst #1000..#1009: 10/10 sent · R1 10/10 (slowest 4.0 ms), R2 1/10 (slowest 200 ms)"
    )
    burst.sent, burst.error = 6, "connection lost"
    assert summarize_burst(burst).startswith("burst #1000..#1009: 6/10 sent, stopped: conn")


def test_ms() -> None:
    assert ms(0.00042) == "0.4 ms"
    assert ms(0.012) == "12 ms"
    assert ms(3.24) == "3.2 s"
    assert ms(-0.001) == "0.0 ms"


# Subscriber kinds and routing -----------------------------------------------------


def test_a_work_queue_counts_as_one_subscriber_and_names_who_took_it() -> None:
    tracker = DeliveryTracker()
    receivers = {1: (C, "amq.gen-1"), 4: (C, "jobs"), 5: (C, "jobs"), 6: (C, "jobs")}
    message = tracker.published(12, '"job"', receivers, at=100.0)
    tracker.received(1, 12, 0.001)
    tracker.received(4, 12, 0.002)
    tracker.confirmed(12, Outcome.ROUTED)
    assert summarize(message, receivers, LOGS) == (
        "#12 \"job\" → 2/2 receivers, slowest 2.0 ms (work queue 'jobs' → R4)"
    )


def test_a_gap_in_this_apps_sequence_counts_as_dropped_by_the_queue() -> None:
    tracker = DeliveryTracker()
    receivers = {1: (P, "q1"), 2: (C, "q2")}
    spec = parse_spec("exclusive:max-length=10")
    tracker.gap_fates[1] = (Fate.DROPPED, "q1")
    for seq in range(1, 51):
        tracker.published(seq, f'"{seq}"', receivers, at=100.0 + seq)
        tracker.confirmed(seq, Outcome.ROUTED)
    for seq in range(41, 51):
        tracker.received(1, seq, 0.001)
    assert tracker.lost_counts == {1: 40}
    message = tracker.get(3)
    assert message is not None
    routing = Routing("logs", specs={1: spec})
    assert "R1 dropped by the broker (max-length 10, drop-head)" in summarize(
        message, {1: (C, "q1"), 2: (C, "q2")}, routing
    )
    assert lost_text(1, 40, routing) == "dropped by the broker: 40 (max-length 10, drop-head)"


def test_gaps_in_a_burst_are_counted_by_range() -> None:
    tracker = DeliveryTracker()
    receivers = {1: (C, "q1")}
    tracker.gap_fates[1] = (Fate.DROPPED, "q1")
    burst = tracker.burst_started(100, 1000, receivers, at=1.0)
    tracker.received(1, 100, 0.001)
    tracker.received(1, 900, 0.001)  # 101..899 were dropped
    for seq in range(901, 1100):
        tracker.received(1, seq, 0.001)
    assert burst.lost == {1: 799}
    assert tracker.lost_counts == {1: 799}


def test_routing_names_who_was_expected_and_who_does_not_match() -> None:
    tracker = DeliveryTracker()
    receivers = {1: (C, "q1"), 2: (C, "q2"), 3: (C, "q3")}
    specs = {n: parse_spec(f"exclusive:keys={k}") for n, k in [(1, "kern.*"), (2, "app.*")]}
    specs[3] = parse_spec("exclusive:keys=*.critical")
    routing = Routing("topic_logs", "topic", specs)
    message = tracker.published(
        12, '"x"', receivers, at=1.0, routing_key="kern.critical", expected=frozenset({1, 3})
    )
    tracker.received(1, 12, 0.001)
    tracker.received(3, 12, 0.002)
    tracker.confirmed(12, Outcome.ROUTED)
    assert summarize(message, receivers, routing) == (
        '#12 kern.critical "x" → 2/2 expected, slowest 2.0 ms (R1 kern.*, R3 *.critical)'
        " · R2 not matching (app.*)"
    )
    surprise = tracker.published(
        13, '"y"', receivers, at=2.0, routing_key="kern.x", expected=frozenset({1})
    )
    tracker.received(1, 13, 0.001)
    tracker.received(2, 13, 0.001)
    assert "⚠ R2 got it, though no binding matches (app.*)" in summarize(
        surprise, receivers, routing
    )


def test_a_reject_publish_nack_names_the_full_queue_and_the_others_that_got_it() -> None:
    tracker = DeliveryTracker()
    receivers = {n: (C, f"q{n}") for n in (1, 2, 3, 4)}
    specs = {3: parse_spec("exclusive:max-length=10,overflow=reject-publish")}
    message = tracker.published(7, '"x"', receivers, at=1.0)
    for n in (1, 2, 4):
        tracker.received(n, 7, 0.001)
    tracker.confirmed(7, Outcome.NACKED)
    assert summarize(message, receivers, Routing("logs", specs=specs)) == (
        '#7 "x" → nacked: R3\'s queue is full (reject-publish); 3 others got it'
    )
