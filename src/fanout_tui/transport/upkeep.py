"""A receiver's upkeep while it runs: pausing, depths, binding edits, topology.

:class:`Upkeep` follows what other threads asked for, one broker conversation at
a time: a pause (a cancel, or for a stream a closed channel), a resume, a
binding edit on the same queue (new bindings first, then the old ones
unbound), and, on a timer, the queue's depth (only when its reply cannot wait
behind a flood of deliveries) and a check that the exchange and the binding
still exist. It also keeps the ledger (``model/ledger.py``) told what the queue's
set-up, binding edits and delete did, so a later run knows what this one left.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pika.exceptions as pex

from ..model.ledger import Attached
from ..model.receiver_spec import ReceiverSpec
from ..model.states import WorkerState
from .consumer import Consumer
from .errors import refused
from .queues import binding_text, bindings
from .steps import AsyncSteps, NewChannel, Steps, call
from .topology import exchange_steps_for

TOPOLOGY_CHECK_INTERVAL = 3.0  # seconds between checks that the exchange and binding exist
DEPTH_INTERVAL = 1.0  # seconds between queue-depth reads while paused
# A window this small bounds what is in flight, so a depth read on the consuming
# connection is answered soon even while deliveries flow.
SMALL_PREFETCH = 100


@contextlib.contextmanager
def permission(operation: str) -> Iterator[None]:
    """A 403 inside becomes :class:`AccessRefused` naming what ``operation`` needs."""
    try:
        yield
    except pex.ChannelClosedByBroker as exc:
        raise refused(exc, operation) from None


class Upkeep(Consumer):
    """Pause and resume, depth reads, binding edits and topology checks (see the module)."""

    # Worker thread: pause, depth, bindings, topology ---------------------------
    def woken(self) -> None:
        self._follow_wishes()

    def _follow_wishes(self) -> None:
        """Move towards what was asked for (pause, resume, a binding edit, a
        topology check), one broker conversation at a time: each reply calls
        this again."""
        channel = self._channel
        if channel is None or not channel.is_open or self._pending:
            return
        if self._want_paused and self._tag:
            if self._stream:
                self._detach_stream()
                return
            # Everything handed over is acked first; pika rejects (requeues)
            # whatever is delivered after the cancel, and the broker keeps it.
            self._ack()
            tag, self._tag = self._tag, ""
            self._pending = "basic.cancel"
            channel.basic_cancel(tag, callback=self._cancelled)
            # A slow consumer's waiting deliveries were not shown: back to the
            # queue (after the cancel, so they are not sent to us again), to be
            # shown once, later.
            for waiting in self._drop_delayed():
                channel.basic_nack(waiting, requeue=True)
        elif self.paused and not self._want_paused:
            self._consume()
        elif self._checking:
            return
        elif self._want_spec is not None:
            self._rebind(self._want_spec)
        elif self._check_due:
            self._check_due = False
            self._check_topology()

    def _detach_stream(self) -> None:
        """Pause a stream pane: close its channel, open a fresh one.

        Not a cancel: pika rejects what a manual-ack consumer is sent after its
        cancel, and a stream answers basic.reject by closing the connection
        (NOT_IMPLEMENTED). A stream keeps every message, so what was in flight
        or waiting here is read again from the next offset on resume.
        """
        # Forgotten before it closes: its close, and what it still delivers,
        # concern a channel no longer ours.
        old, self._channel, self._tag = self._channel, None, ""
        self._drop_delayed()
        self._unacked = 0
        self._pending = "channel.open"
        old.close()
        self._connection.channel(on_open_callback=self._stream_channel_opened)

    def _stream_channel_opened(self, channel: Any) -> None:
        if self._connection is None or channel.connection is not self._connection:
            return
        self._take_channel(channel)
        self._pending = "basic.qos"
        channel.basic_qos(prefetch_count=self._prefetch, callback=self._cancelled)

    def _cancelled(self, _frame: Any) -> None:
        self._pending = ""
        self._paused_now()
        self._follow_wishes()

    def _paused_now(self) -> None:
        self.paused = True
        if self._stream:
            self._report(WorkerState.PAUSED)  # a stream's depth is not its message count
        else:
            self._read_depth()  # at once, then every DEPTH_INTERVAL

    def _schedule_tick(self, connection: Any) -> None:
        self.ioloop.call_later(DEPTH_INTERVAL, lambda: self._tick(connection))

    def _tick(self, connection: Any) -> None:
        if connection is not self._connection:
            return  # the connection this tick was for is gone, and its ticks with it
        self._ticks += 1
        received = self.mailbox.received
        if self._channel is not None and not self._pending and self._depth_safe(received):
            self._read_depth()
        self._depth_mark = received
        if self._ticks % round(TOPOLOGY_CHECK_INTERVAL / DEPTH_INTERVAL) == 0:
            # Only on a quiet connection: deliveries arriving prove the binding
            # works, and the check's replies would queue behind all of them. A
            # deleted exchange stops them, and then the check runs.
            if received == self._checked_at:
                self._check_due = True
            self._checked_at = received
        self._follow_wishes()
        self._schedule_tick(connection)

    def _depth_safe(self, received: int) -> bool:
        """Whether a passive declare on this connection is answered soon.

        Its reply waits behind every delivery in flight to us (pika buffers them
        all meanwhile), so it is asked only when few can be: while paused, when
        nothing was handed over since the last tick, or when a small window
        bounds what is in flight. A stream's message count says nothing.
        """
        if self._stream:
            return False
        small_window = not self._auto and 0 < self._prefetch <= SMALL_PREFETCH
        return self.paused or received == self._depth_mark or small_window

    def _read_depth(self) -> None:
        """Passive declare: how many messages wait in the queue."""
        self._pending = "depth"
        self._depth_asked = self.mailbox.received
        self._channel.queue_declare(self.queue, passive=True, callback=self._depth_read)

    def _depth_read(self, frame: Any) -> None:
        self._pending = ""
        waiting = frame.method.message_count
        # Deliveries counted after the read was asked left the queue after it:
        # the reader subtracts those from the depth (see Depth.delivered).
        # One assignment, so a reader on another thread never pairs a depth
        # with the count of another reading.
        self.depth_reading = (waiting, self._depth_asked)
        self.depth, self.depth_at = waiting, time.time()
        state = self.mailbox.state
        if self.paused and (state.state is not WorkerState.PAUSED or state.waiting != waiting):
            self._report(WorkerState.PAUSED, waiting=waiting)
        self._follow_wishes()

    def _rebind(self, wanted: ReceiverSpec) -> None:
        self._want_spec = None
        self._checking = True
        old = bindings(self.exchange_type, self.spec)
        # Only the bindings change: the queue, its kind and its consumer stay.
        self.spec = self.spec.with_bindings(wanted.keys, wanted.match, wanted.headers)
        new = bindings(self.exchange_type, self.spec)
        AsyncSteps(self._connection, self._rebind_steps(old, new), self._rebound, self._failed)

    def _rebind_steps(
        self, old: list[dict[str, Any]], new: list[dict[str, Any]]
    ) -> Steps[list[dict[str, Any]]]:
        exchange, queue = self.broker.exchange, self.queue
        channel = yield NewChannel()
        with permission("queue.bind"):  # unbind needs the same permissions as bind
            for binding in new:
                if binding not in old:
                    yield call(channel, "queue_bind", queue=queue, exchange=exchange, **binding)
            for binding in old:
                if binding not in new:
                    yield call(channel, "queue_unbind", queue=queue, exchange=exchange, **binding)
        channel.close()
        return new

    def _rebound(self, new: list[dict[str, Any]]) -> None:
        self._checking = False
        self._record_rebound(new)
        self.bindings_applied = tuple(new)
        self._report(
            WorkerState.PAUSED if self.paused else WorkerState.CONSUMING,
            "bindings now: " + binding_text(new),
        )
        self._follow_wishes()

    def _check_topology(self) -> None:
        self._checking = True
        AsyncSteps(self._connection, self._topology_steps(), self._topology_checked, self._failed)

    def _topology_steps(self) -> Steps[bool]:
        """Notice an exchange deleted (or replaced) under us, and repair it.

        Deleting an exchange silently removes its bindings: the queue lives on
        and simply stops receiving. So: is the exchange still there? Declare it
        again if not (a type conflict raises, and the pane says so while the
        worker retries), and bind again (idempotent: an exchange deleted and
        declared again by someone else between two checks exists, but without
        our binding).
        """
        exchange, queue = self.broker.exchange, self.queue
        probe = yield NewChannel()
        try:
            yield call(probe, "exchange_declare", exchange=exchange, passive=True)
            probe.close()
            missing = False
        except pex.ChannelClosedByBroker as exc:
            if exc.reply_code != 404:
                raise
            missing = True
        # Declared with the type found at set-up even when it exists: an exchange
        # replaced by one of another type still takes our binding, and only the
        # declare says so.
        channel, _type = yield from exchange_steps_for(self.broker, self.exchange_type)
        for binding in bindings(self.exchange_type, self.spec):
            yield call(channel, "queue_bind", queue=queue, exchange=exchange, **binding)
        channel.close()
        return missing

    def _topology_checked(self, missing: bool) -> None:
        self._checking = False
        if missing:
            # Every receiver's binding went with the exchange; the others find it
            # back already, so this one receiver's report speaks for all of them.
            exchange = self.broker.exchange
            self._report(
                WorkerState.PAUSED if self.paused else WorkerState.CONSUMING,
                note=f"exchange {exchange!r} was deleted; declared it again and re-bound the "
                "queues (messages published meanwhile reached no queue)",
            )
        self._follow_wishes()

    # Worker thread: the ledger of what the app created and bound -------------
    def _ledger_key(self) -> tuple[str, str, str]:
        """Which queue on which broker: a cluster's name (the same through any
        of its nodes), else the node's address."""
        properties = getattr(self._connection, "server_properties", None) or {}
        cluster = properties.get("cluster_name", b"")
        if isinstance(cluster, bytes):
            cluster = cluster.decode("utf-8", "replace")
        broker = str(cluster) or self.url.rpartition("@")[2].partition("/")[0]
        return broker, self._vhost, self.queue

    def _record_attached(self, queue: str, existed: bool, wanted: list[dict[str, Any]]) -> Attached:
        if self.ledger is None or not self.spec.named:
            return Attached()  # a server-named queue goes with its connection
        exchange = self.broker.exchange
        broker, vhost, _ = self._ledger_key()
        return self.ledger.attached(
            broker,
            vhost,
            queue,
            existed=existed,
            owns=not self.spec.keep,
            wanted=[{"exchange": exchange, **binding} for binding in wanted],
        )

    def _record_rebound(self, new: list[dict[str, Any]]) -> None:
        if self.ledger is not None and self.spec.named:
            exchange = self.broker.exchange
            made = [{"exchange": exchange, **binding} for binding in new]
            self.ledger.rebound(*self._ledger_key(), made)

    def _record_deleted(self) -> None:
        if self.ledger is not None:
            self.ledger.deleted(*self._ledger_key())
