"""Each Textual workaround in ui/compat.py still works, and is still needed.

A test here fails when a Textual upgrade removes what a workaround relies on
(it would stop working) or the behaviour it avoids (it would be dead weight).
No broker: these are about Textual alone.
"""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.widget import Widget
from textual.widgets import Input

from fanout_tui.ui import compat


class Counting:
    """Mixin: records every refresh() call's regions and layout flag."""

    calls: list[tuple[int, bool]]

    def refresh(self, *regions: Any, layout: bool = False, **kwargs: Any) -> Any:
        self.__dict__.setdefault("calls", []).append((len(regions), layout))
        return super().refresh(*regions, layout=layout, **kwargs)  # type: ignore[misc]

    def layouts(self) -> int:
        return sum(1 for _, layout in self.__dict__.get("calls", []) if layout)


class View(Counting, ScrollView):
    DEFAULT_CSS = "View { overflow-y: scroll; height: 10; }"


class PlainInput(Counting, Input):
    pass


class QuietInput(Counting, compat.QuietInput):
    pass


class Bordered(Widget):
    DEFAULT_CSS = "Bordered { border: round white; height: 6; }"


class Cheap(compat.CheapSubtitle):
    DEFAULT_CSS = "Cheap { border: round white; height: 6; }"


class Harness(App[None]):
    def compose(self) -> ComposeResult:
        yield View()
        yield PlainInput(id="plain")
        yield QuietInput(id="quiet")
        yield Bordered()
        yield Cheap()


async def test_a_quiet_virtual_size_lays_nothing_out_and_the_scrollbar_still_follows() -> None:
    async with Harness().run_test(size=(80, 40)) as pilot:
        view = pilot.app.query_one(View)
        view.calls = []
        compat.set_virtual_size_quietly(view, Size(40, 500))
        compat.update_scrollbars(view)
        assert view.layouts() == 0
        assert view.virtual_size.height == 500
        # The private method it calls is still there (else it falls back to a layout).
        assert callable(getattr(view, "_scroll_update", None))
        assert view.vertical_scrollbar.window_virtual_size == 500


async def test_assigning_the_virtual_size_still_asks_for_a_layout() -> None:
    """What makes the quiet way worth having: the reactive lays out the screen."""
    async with Harness().run_test(size=(80, 40)) as pilot:
        view = pilot.app.query_one(View)
        view.calls = []
        view.virtual_size = Size(40, 600)
        assert view.layouts() > 0


async def test_a_quiet_scroll_moves_without_a_repaint_and_a_plain_one_repaints() -> None:
    async with Harness().run_test(size=(80, 40)) as pilot:
        view = pilot.app.query_one(View)
        compat.set_virtual_size_quietly(view, Size(40, 500))
        compat.update_scrollbars(view)
        await pilot.pause()
        view.calls = []
        compat.set_scroll_y_quietly(view, 100)
        assert view.scroll_y == 100 and view.scroll_target_y == 100
        assert view.calls == []
        view.scroll_y = 200  # the watcher repaints: what the pane avoids between paints
        assert view.calls


async def test_the_quiet_input_types_without_a_layout_and_a_plain_one_does_not() -> None:
    assert callable(getattr(Input, "_watch_value", None)), "the overridden watcher is gone"
    async with Harness().run_test(size=(80, 40)) as pilot:
        plain = pilot.app.query_one("#plain", PlainInput)
        quiet = pilot.app.query_one("#quiet", QuietInput)
        for box in (plain, quiet):
            box.focus()
            await pilot.pause()
            box.calls = []
            await pilot.press(*"hello")
            assert box.value == "hello"
        assert quiet.layouts() == 0
        assert plain.layouts() > 0


async def test_a_cheap_subtitle_repaints_one_row_and_shows(monkeypatch: Any) -> None:
    calls: list[tuple[Widget, int]] = []
    refresh = Widget.refresh

    def spy(self: Widget, *regions: Any, **kwargs: Any) -> Any:
        calls.append((self, len(regions)))
        return refresh(self, *regions, **kwargs)

    async with Harness().run_test(size=(80, 40)) as pilot:
        plain = pilot.app.query_one(Bordered)
        cheap = pilot.app.query_one(Cheap)
        monkeypatch.setattr(Widget, "refresh", spy)
        plain.border_subtitle = "plain-42"
        cheap.set_subtitle("cheap-42")
        monkeypatch.undo()
        # Textual refreshes the whole widget for a subtitle (no regions)...
        assert (plain, 0) in calls
        # ...and the workaround narrows that to one region, the bottom row.
        assert [n for widget, n in calls if widget is cheap] == [1]
        await pilot.pause()
        assert "cheap-42" in pilot.app.export_screenshot()
