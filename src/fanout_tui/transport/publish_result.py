"""What a publish came to, and what is in flight meanwhile.

:class:`PublishResult` is one publish's outcome as the publishers report it;
:class:`PublishRequest` a message asked for and :class:`InFlight` one written
and waiting for its confirm; the reasons they give are worded here once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..model.outcomes import Outcome
from ..present.outcomes import describe_outcome
from .stamps import MessageProperties

# The reason of a publish refused because the broker blocks the connection.
BLOCKED_PREFIX = "the broker is blocking publishers"
# The note of a message published again after its exchange was found deleted (404).
EXCHANGE_REDECLARED = "the exchange was missing (deleted?) and was declared again"
# ... and of such a message that then reached no queue: the receivers re-bind soon.
REDECLARED_UNROUTABLE = f"{EXCHANGE_REDECLARED}; no queue is bound to it yet"
NOT_CONNECTED = "not connected to the broker"


@dataclass(frozen=True)
class PublishResult:
    seq: int
    # Never PUBLISHING. HELD is interim: the final outcome of that seq follows.
    status: Outcome
    body: bytes
    exchange: str
    reason: str = ""
    sent_at: float = 0.0
    done_at: float = 0.0
    routing_key: str = ""  # the key it was published with

    @property
    def ok(self) -> bool:
        return self.status is Outcome.ROUTED

    def describe(self) -> str:
        """The one-line outcome shown to a person: ``#7 routed to exchange 'logs'``."""
        return f"#{self.seq} {describe_outcome(self.status, self.exchange, self.reason)}"


@dataclass(frozen=True)
class PublishRequest:
    seq: int
    body: bytes
    properties: MessageProperties
    routing_key: str = ""
    headers: Mapping[str, Any] | None = None  # this message's own, besides the properties'


@dataclass(slots=True)
class InFlight:
    seq: int
    body: bytes
    properties: Any
    sent_at: float
    routing_key: str = ""
    note: str = ""  # EXCHANGE_REDECLARED once published again


def unroutable_reason(exchange_type: str, routing_key: str) -> str:
    """Why a message came back unroutable from an exchange of this type ("" for
    the fanout wording, "no queue is bound"): on a routing exchange it is that
    no binding matched, which names what it was matched by."""
    if exchange_type == "headers":
        return "no binding matches its headers"
    if exchange_type in ("direct", "topic") or (exchange_type == "" and routing_key):
        return f"no binding matches routing key {routing_key!r}"
    return ""
