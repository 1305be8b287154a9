"""One receiver as the dashboard knows it, and what its state changes mean.

Everything a reconnect means for the person watching is worked out here, in one
place: which of this app's messages the new queue will never get, that the
queue is new or was kept, and why the connection went.
"""

from __future__ import annotations

from ..model.mailbox import Mailbox
from ..model.states import StateChange, WorkerState
from ..model.tracking import DeliveryTracker
from ..transport.broker import node_of
from ..transport.receiver import ReceiverWorker

_BOUND = (WorkerState.CONSUMING, WorkerState.PAUSED)


class Receiver:
    """One receiver as the dashboard knows it: its worker and what it last reported.

    Everything a reconnect means for the person watching is worked out here, in
    one place: which of this app's messages the new queue will never get, that
    the queue is new, and why the connection went.
    """

    def __init__(self, number: int, worker: ReceiverWorker) -> None:
        self.number = number
        self.worker = worker
        self.spec = worker.spec
        # What its pane's title says besides its label and queue (the kind, the
        # bindings, "1 of 3" in a work queue): kept by the dashboard.
        self.title_words = ""
        # Copies of this app's messages its queue dropped, expired or refused,
        # and the pane's line for it ("" while none).
        self.lost = 0
        self.lost_line = ""
        self.state = StateChange(WorkerState.CONNECTING)
        self._was_consuming = False
        self._last_failure = ""
        # Why it last lost its queue: the queue was deleted (True), or the
        # connection went (False). The pane's lines say which.
        self._queue_deleted = False
        # When this receiver's messages were last counted as missed.
        self._missed_counted_at = 0.0
        # The node its queue lived on (masked URL), and why the connection
        # there went: a reconnect on another node says the queue died there.
        self._bound_url = ""
        self._lost_reason = ""

    @property
    def mailbox(self) -> Mailbox:
        return self.worker.mailbox

    @property
    def label(self) -> str:
        return f"R{self.number}"

    @property
    def body_budget(self) -> int | None:
        """Bytes of whole bodies its pane keeps, newest first (None: all of them)."""
        bodies = self.mailbox.bodies
        return None if bodies is None else bodies.limit

    def apply(self, event: StateChange, tracker: DeliveryTracker) -> list[str]:
        """Take a state change; the lines it adds to this receiver's pane, in order."""
        before, self.state = self.state, event
        lines = []
        if event.state in _BOUND and event.queue:
            if before.queue != event.queue and self._missed_counted_at:
                missed = tracker.missed(self.number, event.queue, self._missed_counted_at, event.at)
                if missed:
                    span = f"#{missed[0]}" if len(missed) == 1 else f"#{missed[0]}..#{missed[-1]}"
                    when = "with its deleted queue" if self._queue_deleted else "while disconnected"
                    lines.append(f"missed {len(missed):,} of this app's messages {when} ({span})")
                self._missed_counted_at = event.at
            else:
                self._missed_counted_at = self._missed_counted_at or event.at
        if event.state in _BOUND and event.detail and before.state in _BOUND:
            # Said while bound: a binding edit applied, deliveries lost at a pause.
            lines.append(event.detail)
        if event.state in _BOUND:
            if self._was_consuming and event.queue_kept and before.state not in _BOUND:
                lines.append(self._kept_line(event))
            elif self._was_consuming and event.queue != before.queue:
                moved = self._moved_line(event)
                if moved:
                    lines.append(moved)
                elif self._queue_deleted:
                    lines.append(
                        f"its queue was deleted; declared a new one ({event.queue}) — messages "
                        "published meanwhile were not delivered here"
                    )
                else:
                    lines.append(
                        f"reconnected — new queue {event.queue}; messages published while "
                        "disconnected were not delivered here"
                    )
            if not self._was_consuming:
                lines.extend(self._binding_lines())
            lines.extend(self._leftover_lines(event))
            self._was_consuming = True
            self._last_failure = ""
            self._queue_deleted = False
            self._bound_url = event.url
            self._lost_reason = ""
        if event.state is WorkerState.RECONNECTING and event.detail and not self._lost_reason:
            self._lost_reason = event.detail  # the first failure after it was bound
        if event.state is WorkerState.RECONNECTING:
            # Until it is bound again; a failure while reconnecting keeps the cause.
            self._queue_deleted = self._queue_deleted or event.queue_deleted
        if event.state in (WorkerState.RECONNECTING, WorkerState.FAILED) and event.detail:
            reason = event.detail.split("; retrying in", 1)[0]
            if reason != self._last_failure:
                self._last_failure = reason
                lines.append(f"⚠ {reason}")
        return lines

    def _leftover_lines(self, event: StateChange) -> list[str]:
        """What set-up found an earlier run of the app left on the queue."""
        lines = []
        if event.leftover_of:
            lines.append(
                f"queue {event.queue} was left by a run of fanout-tui that is gone (pid "
                f"{event.leftover_of}); this run deletes it at quit, as that one would have"
            )
        if event.unbound:
            lines.append(
                "removed what an earlier run bound and this pane does not name: "
                + "; ".join(event.unbound)
            )
        return lines

    def _binding_lines(self) -> list[str]:
        """What a pane bound without keys does on an exchange that routes by key,
        said once, when it is first bound: a surprise otherwise."""
        if self.spec.keys:
            return []
        exchange_type = self.worker.exchange_type
        if exchange_type == "direct":
            return [
                "no key given: bound with the empty key, so it gets only messages published "
                "with routing key '' (give keys= or edit its bindings)"
            ]
        if exchange_type == "topic":
            return ["no key given: bound with '#', so it gets every message"]
        return []

    def _kept_line(self, event: StateChange) -> str:
        """A named queue outlived the connection: nothing published meanwhile is lost."""
        kind = self.spec.kind if self.spec.kind != "shared" else "work"
        old, new = node_of(self._bound_url), node_of(event.url)
        where = f" on node {new}" if self._bound_url and event.url and old != new else ""
        return (
            f"reconnected{where} — {kind} queue {event.queue!r} kept what was published "
            "meanwhile; nothing was lost"
        )

    def _moved_line(self, event: StateChange) -> str:
        """The line for a receiver back on another node than its queue's ("" if
        it is the same node, or the queue was deleted rather than lost)."""
        old, new = node_of(self._bound_url), node_of(event.url)
        if not self._bound_url or not event.url or old == new or self._queue_deleted:
            return ""
        # RabbitMQ closes every connection of a node that stops with
        # CONNECTION_FORCED and the reason 'shutdown'.
        if "'shutdown'" in self._lost_reason:
            lost = f"node {old} shut down and its exclusive queue died with the node"
        else:
            lost = f"lost the connection to node {old}, and its exclusive queue with it"
        return (
            f"{lost}; reconnected on node {new} — new queue {event.queue}; messages published "
            "meanwhile were not delivered here"
        )
