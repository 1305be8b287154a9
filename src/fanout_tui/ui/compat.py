"""Where Textual's public API cannot do what the dashboard needs cheaply.

Each workaround here says which Textual behaviour it works around; each has a
test in tests/test_compat.py that fails when a Textual upgrade makes it wrong
(the private name is gone) or unneeded (the behaviour it avoids is gone).
Nothing outside this module touches Textual's private API.

Why any of it: under a burst every millisecond the UI thread holds the GIL is
taken from the consumer threads, and Textual asks for a layout of the whole
screen (which repaints every pane) on changes that do not move anything here.
"""

from __future__ import annotations

from typing import Self

from textual.geometry import Region, Size
from textual.widget import Widget
from textual.widgets import Input


def set_virtual_size_quietly(widget: Widget, size: Size) -> None:
    """Set a widget's virtual size without the layout its reactive asks for.

    Textual: ``virtual_size`` is a reactive with ``layout=True``, so every new
    value lays out the whole screen. A pane gaining a line, or the input a
    character, changes nothing outside itself.
    """
    widget.set_reactive(Widget.virtual_size, size)


def set_scroll_y_quietly(widget: Widget, y: float) -> None:
    """Move a widget's scroll position without watchers or a repaint.

    Textual: assigning ``scroll_y`` runs its watcher, which repaints the widget
    and its scrollbar at once; the pane decides when to paint.
    """
    widget.set_reactive(Widget.scroll_y, y)
    widget.set_reactive(Widget.scroll_target_y, y)


def update_scrollbars(widget: Widget) -> None:
    """Bring the scrollbars up to a virtual size set quietly, without a layout.

    Textual: the public way is ``refresh(layout=True)``, a layout of the screen;
    ``Widget._scroll_update`` is what a virtual-size change runs, minus that.
    The scrollbars are always shown (overflow-y: scroll), so no layout is needed.
    """
    scroll_update = getattr(widget, "_scroll_update", None)
    if scroll_update is not None:
        scroll_update(widget.virtual_size)
    else:  # a Textual without it: take the layout (the size is already set)
        widget.refresh(layout=True)


class QuietInput(Input):
    """An Input that sets its virtual size without laying out the screen.

    Textual: ``Input._watch_value`` assigns ``virtual_size`` on every keystroke;
    a fixed-size input needs no layout for that, and typing during a burst
    would otherwise repaint every pane. Setting it quietly first makes the base
    class's assignment a no-op.
    """

    def _watch_value(self, value: str) -> None:
        set_virtual_size_quietly(self, Size(self.content_width, 1))
        super()._watch_value(value)


class CheapSubtitle(Widget):
    """A bordered widget whose border subtitle changes often (a live count).

    Textual: a new ``border_subtitle`` refreshes the whole widget, every row of
    its border and background, though only the bottom row shows it. While
    ``set_subtitle`` runs, a plain refresh() is narrowed to that row.
    """

    _bottom_row_only = False

    def set_subtitle(self, subtitle: object) -> None:
        self._bottom_row_only = True
        try:
            self.border_subtitle = subtitle  # type: ignore[assignment]
        finally:
            self._bottom_row_only = False

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        if self._bottom_row_only and not (regions or layout or recompose):
            outer, offset = self.outer_size, self.content_offset
            if outer.height:  # regions are relative to the content, inside the border
                regions = (Region(-offset.x, outer.height - 1 - offset.y, outer.width, 1),)
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)
