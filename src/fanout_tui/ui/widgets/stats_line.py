"""The pane's stats line: latency figures, with the rate's sparkline at its end."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.widget import Widget

RATE_HISTORY = 60  # seconds of rate in the sparkline
SPARK_WIDTH = 16  # its columns at most (a third of the line at most)


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty sequence."""
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


class StatsLine(Widget):
    """The pane's latency line, with the rate's sparkline at its right end.

    One widget rather than a text and a Textual ``Sparkline`` side by side: a
    busy pane's paint re-renders both, and under a burst the UI thread's time
    is taken from the consumer threads (the Sparkline alone was 0.5 ms of a
    ~4 ms paint, its row container another 0.1 ms). It repaints without
    asking for a layout (``Static.update`` lays out the whole screen).
    """

    def __init__(self, *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self._text = ""
        self._rates: list[float] = []

    def set_text(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self.refresh()

    def set_rates(self, rates: list[float]) -> None:
        """The per-second rates, oldest first; drawn once there are two."""
        rates = rates if len(rates) > 1 else []
        if rates != self._rates:
            self._rates = rates
            self.refresh()

    def render(self) -> Content:
        width = self.size.width
        spark = sparkline(self._rates, min(SPARK_WIDTH, width // 3))
        text = self._text[: max(0, width - len(spark) - 1)]
        if not spark:
            return Content(text)  # plain text: never parsed as markup
        return Content.assemble(text.ljust(width - len(spark)), (spark, "$accent"))


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int) -> str:
    """``values`` in at most ``width`` bars, each the largest of its share of them."""
    if len(values) < 2 or width < 1:
        return ""
    count = min(width, len(values))
    buckets = [
        max(values[i * len(values) // count : (i + 1) * len(values) // count]) for i in range(count)
    ]
    low, high = min(buckets), max(buckets)
    span = high - low
    top = len(_BARS) - 1
    return "".join(_BARS[round((v - low) / span * top) if span else 0] for v in buckets)
