"""The dashboard's publishing side: messages typed, bursts, and the result line.

:class:`Publishing` owns the publisher and the delivery tracker: what is
published, what came of it, the exchange's type, and the running burst. The
:class:`~.dashboard.Dashboard` adds the receivers, which tracking compares
against, by giving :meth:`Publishing.receiver_views` and
:meth:`Publishing.routing`. No UI and no waiting on the network here.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from ..model.history import Entry
from ..model.outcomes import Outcome
from ..model.routing import Binding, expected
from ..model.states import WorkerState
from ..model.tracking import DeliveryTracker, ReceiverView, TrackedBurst
from ..present.outcomes import (
    Routing,
    not_written_while_blocked,
    refused_before_writing,
    severity,
    summarize,
    summarize_burst,
)
from ..present.text import sanitize
from ..settings import Settings
from ..transport.burst import BurstWorker
from ..transport.management import exchange_type as exchange_type_from_api
from ..transport.publisher import PublisherWorker
from ..transport.stamps import MessageProperties
from .receiver import Receiver

NOTE_DEDUP_SECONDS = 10.0  # receivers reporting the same repair within this count once
# Seconds without an answer to a batch before a running burst's result line
# says so: batches are answered within milliseconds unless something is wrong.
BURST_SILENT = 5.0


@dataclass(frozen=True)
class NotWritten:
    """A message typed that the dashboard did not write (see
    :meth:`Publishing.hold_back`): the broker was known to block publishers
    (``blocked``), or its key or text could not be written at all."""

    preview: str
    reason: str
    blocked: bool = True


class Publishing:
    """The publisher, bursts and delivery tracking (see the module)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.broker = settings.broker()
        self.publisher = PublisherWorker(self.broker)
        self.tracker = DeliveryTracker()
        self.receivers: list[Receiver] = []  # in pane order (the Dashboard's)
        self._pending: dict[int, Entry] = {}  # seq -> message, until its result arrives
        self._last_note: tuple[str, float] = ("", 0.0)
        self.notes: list[str] = []  # for every pane, from the publisher (take_notes)
        self._redeclared_seen = 0
        self._api_type = ""  # the exchange's type as the management API said
        self._type_lookup: threading.Thread | None = None
        self.burst: BurstWorker | None = None
        self._burst_record: TrackedBurst | None = None
        # What the result line follows: the last message typed, or the last burst.
        self.shown: int | TrackedBurst | NotWritten | None = None

    @property
    def origin(self) -> str:
        """The stamp this app's messages carry, to tell them from other programs'."""
        return self.publisher.origin

    def receiver_views(self) -> dict[int, ReceiverView]:
        """Every receiver's state and queue now (the Dashboard's)."""
        raise NotImplementedError

    def routing(self) -> Routing:
        """The exchange and every pane's spec (the Dashboard's)."""
        raise NotImplementedError

    def _announce(self, note: str, now: float) -> bool:
        """Whether a note is new: the same repair reported by many receivers shows once."""
        if note == self._last_note[0] and now - self._last_note[1] < NOTE_DEDUP_SECONDS:
            return False
        self._last_note = (note, now)
        return True

    # Publishing ------------------------------------------------------------------
    def publish(self, text: str, routing_key: str = "") -> int:
        seq = self.publisher.publish(text.encode("utf-8"), routing_key=routing_key)
        self._pending[seq] = Entry(text, routing_key)
        expected = self.expected(routing_key)
        views = self.receiver_views()
        self.tracker.published(seq, quote(text), views, time.time(), routing_key, expected)
        self.shown = seq
        return seq

    def expected(self, routing_key: str) -> frozenset[int] | None:
        """The panes whose bindings match a message published now with this key
        and the publish properties' headers (None on a fanout, or while the
        exchange's type is unknown: every bound pane is then expected)."""
        exchange_type = self.exchange_type
        if exchange_type in ("fanout", ""):
            return None
        headers = self.publisher.properties.headers or {}
        bindings = {
            r.number: [
                Binding(key, r.spec.headers, r.spec.match)
                for key in r.spec.binding_keys(exchange_type)
            ]
            for r in self.receivers
        }
        return expected(exchange_type, bindings, routing_key, headers)

    def hold_back(self, text: str, reason: str, blocked: bool = True) -> None:
        """A message typed while the broker is known to block publishers is not
        written at all: the broker would not read it until the alarm clears, and
        a message written then could neither be offered again (it may yet go)
        nor called sent. It stays in the input (the caller keeps it there) and
        the result line says why; one written before the block was known is
        ``held`` instead (see PublisherWorker). Not ``blocked``: the message's
        key or text cannot be written (``reason``), which the line says as
        the message's own problem, never as the broker's."""
        self.shown = NotWritten(quote(text), reason, blocked)

    def take_results(self) -> list[Entry]:
        """Record the publish outcomes that arrived; those not sent, with their keys."""
        not_sent = []
        redeclared = self.publisher.redeclared
        if redeclared != self._redeclared_seen:
            self._redeclared_seen = redeclared
            self._exchange_redeclared()
        for result in self.publisher.drain_results():
            self.tracker.confirmed(result.seq, result.status, result.reason)
            if result.status is Outcome.HELD:
                continue  # interim: its final outcome follows
            entry = self._pending.pop(result.seq, None)
            # Only what never reached the broker: a message that may have (unknown)
            # is not offered again, as sending it twice may deliver it twice.
            if result.status is Outcome.FAILED and entry is not None:
                not_sent.append(entry)
        return not_sent

    def _exchange_redeclared(self) -> None:
        """The publisher found the exchange deleted and declared it again: every
        pane is told, as a receiver's own check would, and every receiver binds
        again at once (its check alone would find the exchange there, unbound)."""
        note = (
            f"⚠ exchange {self.broker.exchange!r} was deleted; the publisher declared it "
            "again and the receivers re-bind (messages published meanwhile reached no queue)"
        )
        if self._announce(note, time.time()):
            self.notes.append(note)
        for receiver in self.receivers:
            receiver.worker.check_topology_soon()

    def take_notes(self) -> list[str]:
        """Notes for every pane that came from the publisher, since the last call."""
        notes, self.notes = self.notes, []
        return notes

    @property
    def exchange_problem(self) -> str:
        """Why the exchange is no fanout ("" while it is), for the header."""
        return self.publisher.exchange_problem

    @property
    def exchange_type(self) -> str:
        """The exchange's type: as the broker said over AMQP, else as the
        management API said, else as asked ("" while none has)."""
        return self.publisher.exchange_type or self._api_type or self.broker.exchange_type or ""

    def look_up_type(self) -> None:
        """Ask the management API for the exchange's type when AMQP would not
        say (a user who may not declare it), once, in a thread of its own; the
        answer shows in :attr:`exchange_type` when it comes."""
        publisher = self.publisher
        if self._type_lookup is not None or publisher.exchange_type:
            return
        if publisher.state.state is not WorkerState.READY:
            return
        settings, exchange = self.settings.management(), self.broker.exchange

        def ask() -> None:
            self._api_type = exchange_type_from_api(settings, exchange) or ""

        self._type_lookup = threading.Thread(target=ask, name="fanout-tui type lookup", daemon=True)
        self._type_lookup.start()

    @property
    def blocked(self) -> str:
        """Why the broker blocks publishers ("" when it does not), for the header
        and the publish input: the publisher's block, or a running burst's (an
        alarm blocks every connection that publishes, and the burst's may be
        the first to be told)."""
        burst = self.burst
        return self.publisher.blocked or (burst.blocked if burst is not None else "")

    def set_properties(self, properties: MessageProperties) -> None:
        self.publisher.properties = properties

    def result(self) -> tuple[str, str] | None:
        """The result line: the last message published or burst, who got it; and
        its severity."""
        shown = self.shown
        if isinstance(shown, TrackedBurst):
            return summarize_burst(shown, self.routing()), severity(shown)
        if isinstance(shown, NotWritten):
            if not shown.blocked:
                return refused_before_writing(shown.preview, shown.reason), "error"
            return not_written_while_blocked(shown.preview, shown.reason), "error"
        message = self.tracker.get(shown) if shown is not None else None
        if message is None:
            return None
        text = summarize(message, self.receiver_views(), self.routing())
        return text, severity(message)

    # Bursts ----------------------------------------------------------------------
    def start_burst(
        self, count: int, text: str, rate: float | None, routing_key: str = ""
    ) -> BurstWorker:
        """Every copy with ``routing_key``, tracked against the panes it matches."""
        first = self.publisher.reserve(count)
        burst = self.burst = BurstWorker(
            self.broker,
            origin=self.origin,
            first_seq=first,
            count=count,
            text=text,
            rate=rate,
            properties=self.publisher.properties,
            routing_key=routing_key,
        )
        self._burst_record = self.shown = self.tracker.burst_started(
            first,
            count,
            self.receiver_views(),
            time.time(),
            routing_key,
            self.expected(routing_key),
        )
        burst.start()
        return burst

    def sync_burst(self) -> bool:
        """Copy the burst thread's counters into its record (a few ints, every drain);
        True when the burst has just finished."""
        burst, record = self.burst, self._burst_record
        if burst is None or record is None:
            return False
        if (record.sent, record.unroutable) != (burst.sent, burst.unroutable):
            record.sent, record.unroutable = burst.sent, burst.unroutable
            self.tracker.version += 1
        waiting = burst.awaiting_since
        since = time.monotonic() - waiting if waiting else 0.0
        silent_for = since if since >= BURST_SILENT else 0.0
        if burst.blocked != record.blocked or int(silent_for) != int(record.silent_for):
            record.blocked, record.silent_for = burst.blocked, silent_for
            self.tracker.version += 1
        if not burst.done:
            return False
        record.done, record.cancelled, record.error = True, burst.cancelled, burst.error or ""
        self.tracker.version += 1
        self.burst = None
        return True

    def cancel_burst(self) -> None:
        if self.burst is not None:
            self.burst.cancel()


def quote(text: str | bytes) -> str:
    """A message as the result line and the delivery log quote it."""
    return f'"{sanitize(text, 40)}"'
