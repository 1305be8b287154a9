"""How the values that differ between runs are written on screen.

The App takes one :class:`Labels`; snapshot tests pass fixed ones (a clock
that always says 12:00:00.000, a namer for server-named queues) so that what
they compare is the layout, not the moment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..present.text import time_of_day


def _queue_as_named(number: int, queue: str) -> str:
    return queue


def _rate(rate: float) -> str:
    return f"{rate:,.0f}/s"


def _broker_as_given(masked_url: str) -> str:
    return masked_url


@dataclass(frozen=True)
class Labels:
    clock: Callable[[float], str] = time_of_day  # a receive time, as HH:MM:SS.mmm
    queue: Callable[[int, str], str] = _queue_as_named  # receiver number, queue name
    rate: Callable[[float], str] = _rate  # messages a second
    broker: Callable[[str], str] = _broker_as_given  # the masked URL in use
