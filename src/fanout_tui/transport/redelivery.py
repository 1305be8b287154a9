"""Showing a redelivered message once, after a named queue's connection came back.

Acknowledgements have no reply in AMQP 0-9-1: when a connection drops, the
acks of the last deliveries handed over may never have reached the broker,
which then requeues those messages and delivers them again (``redelivered``)
on the next connection. A durable or shared pane would show them twice.

The broker holds at most a prefetch window of unacknowledged messages per
consumer, so every message it can give back that this pane showed is among
the last ``window`` it showed. :class:`ShownWindow` remembers those (an id and
the body's hash, never the body) and, after a reconnect, skips a redelivered
delivery that matches one, once. Identical messages are counted, not merged:
each shown one excuses one redelivery. The receiver asks only while the
redeliveries that follow a reconnect last (until the first fresh delivery),
then clears the window.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

Identity = tuple[Any, int, int]


def identity(properties: Any, body: bytes) -> Identity:
    """What tells one message from another without keeping its body."""
    return (properties.message_id, len(body), hash(body))


class ShownWindow:
    """The identities of the last ``window`` deliveries shown; worker thread only."""

    def __init__(self, window: int) -> None:
        self._order: deque[Identity] = deque()
        self._counts: Counter[Identity] = Counter()
        self._window = max(window, 1)

    def shown(self, properties: Any, body: bytes) -> None:
        key = identity(properties, body)
        self._order.append(key)
        self._counts[key] += 1
        if len(self._order) > self._window:
            old = self._order.popleft()
            left = self._counts.get(old, 0) - 1  # 0 or less: matched already
            if left > 0:
                self._counts[old] = left
            else:
                self._counts.pop(old, None)

    def seen_before(self, properties: Any, body: bytes) -> bool:
        """Whether a redelivered message was shown already (and is now accounted for)."""
        key = identity(properties, body)
        if not self._counts.get(key):
            return False
        self._counts[key] -= 1
        if not self._counts[key]:
            del self._counts[key]
        return True

    def clear(self) -> None:
        self._order.clear()
        self._counts.clear()
