"""How the values that differ between runs are written on screen.

The App takes one :class:`Labels` and hands it to the widgets and screens that
show such values; snapshot tests pass fixed ones (a clock that always says
12:00:00.000, a namer for server-named queues) so that what they compare is
the layout, not the moment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..present.text import time_of_day


def _queue_as_named(owner: str, queue: str) -> str:
    return queue


def _rate(rate: float) -> str:
    return f"{rate:,.0f}/s"


def _url_as_given(masked_url: str) -> str:
    return masked_url


def _date(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(timestamp))


@dataclass(frozen=True)
class Labels:
    clock: Callable[[float], str] = time_of_day  # a time of day, as HH:MM:SS.mmm
    date: Callable[[float], str] = _date  # a day, as YYYY-MM-DD
    queue: Callable[[str, str], str] = _queue_as_named  # owner ("R1"), queue name
    rate: Callable[[float], str] = _rate  # messages a second
    url: Callable[[str], str] = _url_as_given  # a URL, its password masked already
