"""The dashboard's state with no UI in it: workers, receivers, tracking, history.

The App holds one :class:`Dashboard` and routes to it; tests drive it without
Textual. It never waits on the network: workers run in their own threads and
hand over through mailboxes and deques that the caller drains on its own timer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ..locations import ledger_file
from ..model.history import History
from ..model.ledger import Ledger
from ..model.mailbox import Mailbox
from ..model.receiver_spec import ReceiverSpec
from ..model.states import WorkerState
from ..model.tracking import Fate, ReceiverView
from ..present.outcomes import (
    Routing,
    gap_fate,
    lost_text,
)
from ..settings import MAX_RECEIVERS, Settings
from ..transport.depth import Depth, QueueDepths
from ..transport.queues import bindings
from ..transport.receiver import ReceiverWorker
from ..transport.worker import Worker
from .publishing import Publishing
from .receiver import Receiver

DEPTH_FRESH = 3.0  # seconds a depth reading is shown as the queue's depth now
# A reading older than this missed a round of reads (one a second): its pane
# says how old it is.
DEPTH_STALE = 1.5


@dataclass(frozen=True)
class QueueDepth:
    """A queue's depth for a pane: ``messages`` ready, read ``age`` s ago,
    when the pane's mailbox had ``counted`` deliveries (the pane takes off what
    it gets after that)."""

    messages: int
    age: float
    counted: int

    @property
    def stale(self) -> bool:
        return self.age > DEPTH_STALE


QUIT_JOIN_TIMEOUT = 1.5  # all workers together, so quitting stays under 2 s
_BOUND = (WorkerState.CONSUMING, WorkerState.PAUSED)


class Collected:
    """What one receiver's mailbox held besides deliveries, drained in one go."""

    __slots__ = ("lines", "notes", "states_changed")

    def __init__(self) -> None:
        self.lines: list[str] = []  # for this receiver's pane
        self.notes: list[str] = []  # for every pane
        self.states_changed = False


class Dashboard(Publishing):
    """Receivers, the publisher, bursts and delivery tracking, without a UI: the
    receivers' side here, publishing and bursts in :class:`Publishing`."""

    def __init__(self, settings: Settings, history_path: Path) -> None:
        super().__init__(settings)
        self.depths = QueueDepths(self.broker)
        self.history = History(history_path)
        self.ledger = Ledger(ledger_file())  # shared by the receiver threads
        # Every receiver thread started and not yet seen dead; kept apart from
        # ``receivers`` because a removed one may still be closing its connection.
        self._threads: list[ReceiverWorker] = []
        self._next_number = 1
        self._views: dict[int, ReceiverView] | None = None  # see receiver_views()
        self._titled_type = ""

    def start(self) -> None:
        self.history.load()
        self.publisher.start()
        self.depths.start()

    def depth(self, receiver: Receiver) -> QueueDepth | None:
        """Messages ready in the receiver's queue, read within the last few
        seconds (None: not known now). A named queue's from the depths
        connection; an exclusive one's from its own connection, which reads it
        only when few deliveries can be ahead of the reply.

        What was delivered since the read was asked is taken off, so the
        pane's count and its queue's depth never add up to more than existed.
        """
        now = time.time()
        worker = receiver.worker
        counted = worker.mailbox.received
        queue = worker.queue_name
        reading = self.depths.get(queue) if receiver.spec.named else None
        if isinstance(reading, Depth) and now - reading.at <= DEPTH_FRESH:
            since = self._delivered_from(queue) - reading.delivered
            return QueueDepth(max(0, reading.messages - since), now - reading.at, counted)
        at, own = worker.depth_at, worker.depth_reading
        if worker.depth is not None and own is not None and now - at <= DEPTH_FRESH:
            depth, asked = own
            return QueueDepth(max(0, depth - (counted - asked)), now - at, counted)
        return None

    def _delivered_from(self, queue: str) -> int:
        """Deliveries from ``queue`` to this app's panes so far (a work queue
        has several). Called on the depths thread too: it reads, never changes."""
        return sum(
            r.mailbox.received for r in tuple(self.receivers) if r.worker.queue_name == queue
        )

    # Receivers -------------------------------------------------------------------
    def add_receiver(
        self, waker: Callable[[], None] | None = None, spec: ReceiverSpec | None = None
    ) -> Receiver | None:
        """Start a receiver of ``spec`` (the tutorial's exclusive queue by default);
        None when there are MAX_RECEIVERS already."""
        if len(self.receivers) >= MAX_RECEIVERS:
            return None
        number = self._next_number
        self._next_number += 1
        mailbox = Mailbox(
            max_deliveries=self.settings.scrollback,
            origin=self.origin,
            body_budget=self.settings.body_budget,
        )
        mailbox.waker = waker
        # With --spread R<n> starts on node n (round the list of URLs).
        broker = self.broker.spread(number - 1) if self.settings.spread else self.broker
        spec = spec or ReceiverSpec()
        worker = ReceiverWorker(
            broker,
            mailbox,
            name=f"R{number}",
            spec=spec,
            queue=spec.queue_name(self.broker.exchange, number),
            queue_cap=self.settings.queue_cap,
            ledger=self.ledger,
        )
        receiver = Receiver(number, worker)
        if spec.named and spec.kind != "stream":
            # Read by the depths connection (a stream's count says nothing).
            self.depths.watch(worker.queue_name, partial(self._delivered_from, worker.queue_name))
        self.receivers.append(receiver)
        self._threads.append(worker)
        self._views = None
        self.retitle()
        worker.start()
        return receiver

    def remove_receiver(self, receiver: Receiver) -> None:
        if receiver in self.receivers:
            self.receivers.remove(receiver)
            self._views = None
            self.retitle()
        self._hand_on_queue(receiver)
        receiver.worker.request_stop()  # never join here: the caller must not wait

    def _sharing(self, receiver: Receiver) -> list[Receiver]:
        """The other panes on the same named queue (a work queue's panes)."""
        name = receiver.worker.queue_name
        return [
            r for r in self.receivers if r is not receiver and name and r.worker.queue_name == name
        ]

    def _hand_on_queue(self, receiver: Receiver) -> None:
        """A named queue is deleted with the last of its panes only: a pane that
        leaves others on it keeps it, and whether the app created it (so may
        delete it) passes on to one that stays."""
        others = self._sharing(receiver)
        if not others:
            if receiver.spec.named and not receiver.spec.keep:
                self.depths.unwatch(receiver.worker.queue_name)
            return
        worker = receiver.worker
        heir = others[-1].worker
        heir.created = heir.created or worker.created
        worker.delete_on_stop = False

    @staticmethod
    def toggle_pause(receiver: Receiver) -> None:
        # The worker acts on it between waits and reports PAUSED / CONSUMING.
        receiver.worker.set_paused(not receiver.worker.pause_requested)

    def retitle(self) -> None:
        """Every pane's title words: its kind and what differs from its default,
        its place in a work queue (``shared 'jobs' · 1 of 3``), and its bindings
        on an exchange that routes. Called when receivers or the type change."""
        exchange_type = self.exchange_type
        groups: dict[str, list[Receiver]] = {}
        for receiver in self.receivers:
            if receiver.spec.kind == "shared":
                groups.setdefault(receiver.spec.name, []).append(receiver)
        for receiver in self.receivers:
            spec = receiver.spec
            words = [spec.describe()]  # the kind always: the title says what the pane is
            group = groups.get(spec.name) if spec.kind == "shared" else None
            if group:
                words.append(f"{group.index(receiver) + 1} of {len(group)}")
            keys = spec.bindings_text(exchange_type) if exchange_type else ""
            if keys:
                words.insert(0, keys)
            receiver.title_words = " · ".join(words)
        self._titled_type = exchange_type

    @property
    def titles_stale(self) -> bool:
        """The exchange's type became known (or changed) since the titles were made."""
        return self._titled_type != self.exchange_type

    def edit_bindings(self, receiver: Receiver, spec: ReceiverSpec) -> list[Receiver]:
        """Bind ``receiver``'s queue as ``spec`` says, keeping the queue; what is
        expected from the next message on, and its title, follow the new spec.

        A binding belongs to the queue, not to a pane: on a work queue the edit
        is every one of its panes' (else one pane would unbind what the others
        still claim, and they would bind it again), so every title says what
        the queue is bound to. Each worker binds what is new before it unbinds
        what is gone. The receivers whose bindings changed, the edited first.
        """
        changed = [receiver, *self._sharing(receiver)]
        for each in changed:
            each.spec = (
                spec
                if each is receiver
                else each.spec.with_bindings(spec.keys, spec.match, spec.headers)
            )
            each.worker.set_bindings(each.spec)
        self.retitle()
        return changed

    def own_bindings(self) -> dict[str, list[str]]:
        """Each queue's bindings as this app made them: the routing key of each
        (a headers binding's ``x-match`` and pairs in its place); a work queue's
        are every one of its panes' (a binding belongs to the queue)."""
        out: dict[str, list[str]] = {}
        for receiver in self.receivers:
            queue = receiver.state.queue
            if not queue:
                continue
            keys = out.setdefault(queue, [])
            for binding in bindings(self.exchange_type, receiver.spec):
                arguments = binding.get("arguments")
                key = ", ".join(f"{k}={v}" for k, v in arguments.items()) if arguments else ""
                key = key or binding["routing_key"]
                if key not in keys:
                    keys.append(key)
        return out

    def receiver_views(self) -> dict[int, ReceiverView]:
        """Every receiver as last reported: what tracking compares with.

        One dict shared until a receiver changes (never mutated): every tracked
        message keeps a reference, and 10,000 copies of 64 entries would not be small.
        """
        if self._views is None:
            self._views = {r.number: (r.state.state, r.state.queue) for r in self.receivers}
        return self._views

    def routing(self) -> Routing:
        """The exchange and every pane's spec, as the words for an outcome need them."""
        specs = {r.number: r.spec for r in self.receivers}
        return Routing(self.broker.exchange, self.exchange_type, specs, self.settings.queue_cap)

    def _watch_gaps(self, receiver: Receiver) -> None:
        """Tell tracking which panes' queues may skip messages (their limits, or
        the app's cap on its exclusive queues), and the queue each has now."""
        spec, state = receiver.spec, receiver.state
        capped = spec.kind == "exclusive" and self.settings.queue_cap > 0
        if state.state in _BOUND and state.queue and (spec.limited or capped):
            self.tracker.gap_fates[receiver.number] = (gap_fate(spec), state.queue)
        else:
            self.tracker.gap_fates.pop(receiver.number, None)

    def collect(self, receiver: Receiver, now: float) -> Collected:
        """Tracking and state changes from one receiver's mailbox.

        Tracking sees every copy of this app's messages, even those of a pane too
        busy to show them yet, and before the receiver's state changes, so a
        reconnect does not count as missed what arrived just before it.
        """
        mailbox = receiver.mailbox
        out = Collected()
        tracked = mailbox.drain_tracked()
        if tracked:
            received, number = self.tracker.received, receiver.number
            for seq, latency in tracked:
                received(number, seq, latency)
            self._count_lost(receiver)
        for event in mailbox.drain_events():
            out.states_changed = True
            self._views = None
            out.lines.extend(receiver.apply(event, self.tracker))
            self._watch_gaps(receiver)
            if event.note and self._announce(event.note, now):
                out.notes.append(f"⚠ {event.note}")
        return out

    def _count_lost(self, receiver: Receiver) -> None:
        lost = self.tracker.lost_counts.get(receiver.number, 0)
        if lost != receiver.lost:
            receiver.lost = lost
            receiver.lost_line = lost_text(receiver.number, lost, self.routing())

    def expire_due(self, now: float) -> None:
        """Once a second: in the queue of a paused pane with a ttl (and no length
        limit, which could have dropped them first), the copies older than the
        ttl expired; say so now rather than at the next delivery."""
        for receiver in self.receivers:
            spec, state = receiver.spec, receiver.state
            if spec.ttl is None or gap_fate(spec) is not Fate.EXPIRED:
                continue
            if state.state is WorkerState.PAUSED and state.queue:
                self.tracker.expire_waiting(receiver.number, state.queue, spec.ttl, now)
                self._count_lost(receiver)

    def prune_threads(self) -> None:
        self._threads = [w for w in self._threads if w.is_alive() or not w.stopping]

    # Quitting --------------------------------------------------------------------
    def stop(self, timeout: float = QUIT_JOIN_TIMEOUT) -> None:
        """Ask every worker to stop, then wait for them together, up to ``timeout``."""
        # Each named queue is deleted once, by one of its panes (see _hand_on_queue).
        for receiver in list(self.receivers):
            if self._sharing(receiver):
                self._hand_on_queue(receiver)
                self.receivers.remove(receiver)
        workers: list[Worker] = [*self._threads, self.publisher, self.depths]
        if self.burst is not None:
            workers.append(self.burst)
        for worker in workers:
            worker.request_stop()
        deadline = time.monotonic() + timeout
        threads: list[threading.Thread] = [*workers]
        if self._type_lookup is not None:
            threads.append(self._type_lookup)  # bounded by its HTTP timeout
        for thread in threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))
