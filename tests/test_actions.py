"""One actions registry (ui/actions.py) makes the bindings, the palette and the
help screen; the README's keys table lists exactly its keys."""

from __future__ import annotations

import re
from pathlib import Path

from helpers import until

from fanout_tui.settings import Settings
from fanout_tui.ui.actions import APP_ACTIONS, PANE_ACTIONS, Action, documented
from fanout_tui.ui.app import FanoutApp
from fanout_tui.ui.screens.help import HelpScreen
from fanout_tui.ui.widgets.receiver_pane import ReceiverPane

README = Path(__file__).resolve().parent.parent / "README.md"
_WRITTEN = {"question_mark": "?"}  # Textual's key name -> how people write it


def registry_keys(actions: tuple[Action, ...]) -> set[str]:
    return {_WRITTEN.get(k, k) for a in actions for k in a.keys.split(",") if k}


def readme_keys() -> set[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Keys", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows, "the README's Keys section has no table rows"
    # A row may name several keys in its first cell: `left` / `right`.
    return {key for row in rows for key in re.findall(r"`([^`]+)`", row.split("|")[1])}


def test_the_readme_keys_table_lists_exactly_the_registrys_keys() -> None:
    assert readme_keys() == registry_keys(APP_ACTIONS) | registry_keys(PANE_ACTIONS)


def test_every_bound_or_offered_action_exists() -> None:
    for owner, actions in ((FanoutApp, APP_ACTIONS), (ReceiverPane, PANE_ACTIONS)):
        for action in actions:
            if action.action:
                name = action.action.split("(", 1)[0]
                # "app.x": a pane's key that runs the App's action.
                target, name = (FanoutApp, name[4:]) if name.startswith("app.") else (owner, name)
                assert callable(getattr(target, f"action_{name}", None)), (target, name)


def test_bindings_come_from_the_registry() -> None:
    bound = {(b.key, b.action) for b in FanoutApp.BINDINGS if not isinstance(b, tuple)}
    assert bound == {(a.keys, a.action) for a in APP_ACTIONS if a.keys and a.action}
    pane = {(b.key, b.action) for b in ReceiverPane.BINDINGS if not isinstance(b, tuple)}
    assert pane == {(a.keys, a.action) for a in PANE_ACTIONS if a.keys and a.action}


async def test_the_help_screen_lists_every_documented_key(broker_url: str, exchange: str) -> None:
    app = FanoutApp(Settings(urls=(broker_url,), exchange=exchange, receivers=0))
    async with app.run_test() as pilot:
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.text()
    for keys, what in documented(APP_ACTIONS) + documented(PANE_ACTIONS):
        assert keys in text and what in text


async def test_the_palette_offers_every_palette_action(broker_url: str, exchange: str) -> None:
    app = FanoutApp(Settings(urls=(broker_url,), exchange=exchange, receivers=0))
    async with app.run_test() as pilot:
        offered = {c.title for c in pilot.app.get_system_commands(pilot.app.screen)}
    assert {a.title for a in APP_ACTIONS if a.palette} <= offered
