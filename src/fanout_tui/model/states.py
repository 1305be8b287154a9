"""What a worker reports about itself: its state, and why."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class WorkerState(enum.Enum):
    CONNECTING = "connecting"
    CONSUMING = "consuming"
    PAUSED = "paused"  # connected, queue bound and filling, consumer cancelled
    READY = "connected"  # the publisher, connected and idle
    RECONNECTING = "reconnecting"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class StateChange:
    """A receiver moved to ``state``; ``detail`` says why when it failed."""

    state: WorkerState
    detail: str = ""
    queue: str = ""
    url: str = ""  # masked
    attempt: int = 0
    at: float = 0.0
    # Something repaired while consuming that concerns every receiver of the
    # exchange (e.g. it was deleted and declared again), to be shown to all.
    note: str = ""
    # How many deliveries the receiver had handed over when it reported this, so
    # a reader can tell exactly which deliveries came before and after it.
    received: int = 0
    # While paused: how many messages wait in the queue (None: not known yet).
    waiting: int | None = None
    # Reconnecting because the broker cancelled the consumer (its queue was
    # deleted), not because the connection failed.
    queue_deleted: bool = False
    # A reconnect found the receiver's named queue still there: what was
    # published meanwhile waited in it, and nothing was missed.
    queue_kept: bool = False
    # Set-up found the named queue left by a run that is gone (its pid): this
    # run owns it now and deletes it at quit, as that run would have.
    leftover_of: int = 0
    # Bindings a gone run made that the spec does not name, removed at set-up.
    unbound: tuple[str, ...] = ()
