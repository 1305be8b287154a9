"""The publisher's side that listens: what the broker answers, and the results.

:class:`Confirms` holds what is in flight and turns the broker's answers into
outcomes: confirms (ack or nack, one or ``multiple``), returns (unroutable,
which comes before its message's ack), a blocked or unblocked connection (what
was written is then ``held``), and, before a message is called unroutable, a
check that its exchange was not replaced by one of another type. Results go
into a bounded deque that other threads drain, and ``ready`` is set whenever
there is something new to read. ``publisher.py`` connects and writes.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pika

from ..model.delivery import SEQ_HEADER
from ..model.outcomes import Outcome
from ..model.states import StateChange, WorkerState
from ..present.text import sanitize
from .broker import BrokerSettings
from .errors import ExchangeTypeConflict, describe_error
from .loop import LoopWorker
from .publish_result import (
    REDECLARED_UNROUTABLE,
    InFlight,
    PublishRequest,
    PublishResult,
    unroutable_reason,
)
from .steps import AsyncSteps
from .topology import exchange_steps_for


class Confirms(LoopWorker):
    """What is in flight and what the broker answers about it (see the module).

    Read by other threads (written by the worker thread only): ``state``,
    ``blocked`` (why the broker blocks publishers), ``exchange_problem`` (why
    the exchange is not what it was), ``exchange_type`` and ``url``.
    """

    def __init__(self, name: str, broker: BrokerSettings, max_results: int) -> None:
        super().__init__(name)
        self.broker = broker
        self.state = StateChange(WorkerState.CONNECTING)
        self.ready = threading.Event()  # set whenever results or states arrive
        self._results: deque[PublishResult] = deque(maxlen=max_results)
        # Why the broker blocks publishers, and why the exchange is not the type
        # it was ("" when not); the UI reads them.
        self.blocked = ""
        self.exchange_problem = ""
        # The exchange's type as the broker last said ("" until connected, or
        # when this user may not declare it and so cannot ask).
        self.exchange_type = ""
        self.url = ""  # masked URL of the node in use
        # Worker thread only:
        self._vhost = "/"
        self._channel: Any = None  # the confirming channel, once requests may be written
        self._in_flight: OrderedDict[int, InFlight] = OrderedDict()  # delivery tag -> message
        self._returned_seqs: set[int] = set()
        self._checking = False  # a check of the exchange's type is under way
        self._unchecked: list[PublishResult] = []  # unroutable ones waiting for it

    # Any thread ----------------------------------------------------------------
    def drain_results(self) -> list[PublishResult]:
        out: list[PublishResult] = []
        for _ in range(len(self._results)):
            try:
                out.append(self._results.popleft())
            except IndexError:
                break
        return out

    # Worker thread: what the broker answers -------------------------------------
    def _confirmer(self, channel: Any) -> Callable[[Any], None]:
        """The confirm callback of ``channel``: delivery tags are per channel."""
        return lambda frame: self._on_confirm(channel, frame)

    def _on_confirm(self, channel: Any, frame: Any) -> None:
        if channel is not self._channel:
            return
        method = frame.method
        tag = method.delivery_tag
        nacked = isinstance(method, pika.spec.Basic.Nack)
        tags = [t for t in self._in_flight if t <= tag] if method.multiple else [tag]
        now = time.time()
        for t in tags:
            message = self._in_flight.pop(t, None)
            if message is None:
                continue
            status, note = (Outcome.NACKED if nacked else Outcome.ROUTED), message.note
            if status is Outcome.ROUTED and message.seq in self._returned_seqs:
                status = Outcome.UNROUTABLE  # a return comes before its message's ack
                note = REDECLARED_UNROUTABLE if note else ""
            self._returned_seqs.discard(message.seq)
            self._outcome(self._result(message, status, note, now))

    def _outcome(self, result: PublishResult) -> None:
        """A final outcome from the broker. Unroutable is also what a publish to
        an exchange replaced by another type gets (its key may match nothing
        there), so before "no queue is bound" (or "no binding matches") is said
        the exchange's type is checked, on a channel of its own; a routed one
        proves it unchanged."""
        if result.status is Outcome.ROUTED and self.exchange_problem:
            self.exchange_problem = ""
            self.ready.set()
        if result.status is Outcome.UNROUTABLE and not result.reason and not self.blocked:
            # (While blocked an RPC would wait unread: the next unroutable one asks.)
            self._unchecked.append(result)
            if not self._checking:
                self._checking = True
                AsyncSteps(
                    self._connection,
                    # The type found at connect: a replaced exchange conflicts with it.
                    exchange_steps_for(self.broker, self.exchange_type),
                    self._type_fine,
                    self._type_wrong,
                )
            return
        self._emit(self._keyed(result))

    def _keyed(self, result: PublishResult) -> PublishResult:
        """An unroutable result without a reason, with the one its exchange's
        type gives (the key no binding matched); any other as it is."""
        if result.status is not Outcome.UNROUTABLE or result.reason:
            return result
        reason = unroutable_reason(self.exchange_type, result.routing_key)
        return replace(result, reason=reason) if reason else result

    def _type_fine(self, declared: tuple[Any, str]) -> None:
        declared[0].close()
        self._type_checked("")

    def _type_wrong(self, exc: BaseException) -> None:
        # Anything else (no configure permission, say) leaves nothing more to tell.
        self._type_checked(str(exc) if isinstance(exc, ExchangeTypeConflict) else "")

    def _type_checked(self, problem: str) -> None:
        self._checking = False
        self.exchange_problem = problem
        unchecked, self._unchecked = self._unchecked, []
        for result in unchecked:
            self._emit(replace(result, reason=problem) if problem else self._keyed(result))
        self.ready.set()

    def _on_returned(self, _channel: Any, _method: Any, properties: Any, _body: bytes) -> None:
        seq = (properties.headers or {}).get(SEQ_HEADER)
        if isinstance(seq, int):
            self._returned_seqs.add(seq)

    def _on_blocked(self, _connection: Any, frame: Any) -> None:
        reason = sanitize(getattr(frame.method, "reason", "") or "", 120)
        self.blocked = reason or "a resource alarm"
        now = time.time()
        for message in self._in_flight.values():
            self._emit(self._result(message, Outcome.HELD, self.blocked, now))
        self.ready.set()

    def _on_unblocked(self, _connection: Any, _frame: Any) -> None:
        self.blocked = ""
        self.ready.set()

    # Worker thread: reporting --------------------------------------------------
    def _describe(self, exc: BaseException) -> str:
        return describe_error(exc, self.url, self._vhost)

    def _result(self, message: InFlight, status: Outcome, reason: str, now: float) -> PublishResult:
        return PublishResult(
            message.seq,
            status,
            message.body,
            self.broker.exchange,
            reason,
            message.sent_at,
            now,
            message.routing_key,
        )

    def _fail(self, request: PublishRequest, reason: str, sent_at: float | None = None) -> None:
        now = time.time()
        self._emit(
            PublishResult(
                request.seq,
                Outcome.FAILED,
                request.body,
                self.broker.exchange,
                reason,
                now if sent_at is None else sent_at,
                now,
                request.routing_key,
            )
        )

    def _emit(self, result: PublishResult) -> None:
        self._results.append(result)
        self.ready.set()

    def _set_state(self, state: WorkerState, detail: str = "", attempt: int = 0) -> None:
        self.state = StateChange(state, detail, "", self.url, attempt, time.time())
        self.ready.set()
