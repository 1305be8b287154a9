"""Every action a person can take, in one place.

The App's and the panes' key bindings, the command palette's entries and the
keys on the help screen are all made from these lists (and a test checks the
README's keys table against them), so a key is written once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True)
class Action:
    title: str  # as the footer and the palette name it
    help: str  # one line, for the palette and the help screen
    keys: str = ""  # Textual key names, comma-separated; "" for palette only
    action: str = ""  # the action it runs; "" for keys a widget handles itself (documented)
    shown_keys: str = ""  # how the help screen and README write the keys
    footer: bool = False  # shown in the footer
    priority: bool = False  # before focused widgets (the input) see the key
    palette: bool = False  # offered in the command palette
    documented: bool = True  # a row of its own in help and the README (not a key's twin)

    @property
    def key_text(self) -> str:
        return self.shown_keys or self.keys


# The dashboard: keys that work wherever focus is, and palette commands.
APP_ACTIONS = (
    Action(
        "Publish",
        "publish the typed message; the line below says which receivers got it",
        "enter",
        shown_keys="Enter",
    ),
    Action(
        "History", "recall earlier messages (kept across runs)", "up,down", shown_keys="Up / Down"
    ),
    Action(
        "Add receiver",
        "start another receiver pane (also the + receiver control)",
        "ctrl+n",
        "add_receiver",
        footer=True,
        priority=True,
        palette=True,
    ),
    Action(
        "Add receiver…",
        "add a receiver of a kind you choose (exclusive, durable, shared, stream) and its keys",
        "ctrl+o",
        "add_receiver_form",
        priority=True,
        palette=True,
    ),
    Action(
        "Edit bindings…",
        "the focused receiver's binding keys, x-match and header pairs (f2 on a pane)",
        action="edit_bindings",
        palette=True,
    ),
    Action(
        "Remove receiver",
        "stop the focused receiver, or the newest, and delete its queue (also ✕ on a pane)",
        "ctrl+r",
        "remove_receiver",
        footer=True,
        priority=True,
        palette=True,
    ),
    Action(
        "Focus",
        "move focus: key field, message, panes (and the delivery log when open); Shift+Tab back",
        "tab",
        shown_keys="Tab / Shift+Tab",
    ),
    Action(
        "Delivery log",
        "per message, who got it and how late, who did not and why",
        "ctrl+l",
        "toggle_log",
        footer=True,
        priority=True,
        palette=True,
    ),
    Action(
        "Bindings",
        "the exchange's bindings, as rabbitmqctl list_bindings shows them",
        "ctrl+b",
        "bindings",
        footer=True,
        priority=True,
        palette=True,
    ),
    Action(
        "Pause/resume receiver",
        "cancel the focused receiver's consumer and let its queue fill, or consume again",
        action="toggle_pause",
        palette=True,
    ),
    Action(
        "Publish burst…",
        "publish numbered copies, with a progress bar (Escape cancels)",
        action="burst",
        palette=True,
    ),
    Action(
        "Publish properties…",
        "content type, delivery mode and headers of the next publishes",
        action="properties",
        palette=True,
    ),
    Action(
        "Export pane to JSON Lines",
        "write the focused receiver's messages, full bodies included, to a file",
        action="export",
        palette=True,
    ),
    Action(
        "Command palette",
        "command palette: burst, publish properties, export, pause/resume…",
        "ctrl+p",
    ),
    # Enabled only while a burst runs and the dashboard is on top (check_action).
    Action(
        "Cancel burst",
        "while a burst runs, cancel it",
        "escape",
        "cancel_burst",
        shown_keys="Escape",
        footer=True,
        priority=True,
    ),
    Action("Help", "this help", "f1", "help", shown_keys="? / F1", footer=True),
    Action("Help", "this help", "question_mark", "help", documented=False),
    Action(
        "Quit",
        "quit (stops every receiver; their queues are deleted)",
        "ctrl+q",
        "quit",
        footer=True,
        priority=True,
    ),
)

# A focused receiver pane.
PANE_ACTIONS = (
    Action(
        "Pause/resume",
        "pause / resume: the consumer is cancelled, the queue keeps filling "
        "(a click on the state in its bottom border does the same)",
        "space",
        "toggle_pause",
        footer=True,
    ),
    # The app's action, so the form opens over the dashboard for the focused pane.
    Action(
        "Edit bindings",
        "edit this receiver's binding keys, x-match and header pairs",
        "f2",
        "app.edit_bindings",
        shown_keys="F2",
    ),
    Action(
        "Previous pane",
        "focus the pane before / after",
        "left",
        "app.pane_step(-1)",
        shown_keys="Left / Right",
    ),
    Action("Next pane", "focus the next pane", "right", "app.pane_step(1)", documented=False),
    Action("Previous message", "select a message", "up", "cursor(-1)", shown_keys="Up / Down"),
    Action("Next message", "select a message", "down", "cursor(1)", documented=False),
    Action(
        "Details",
        "open the selected message (or click a line): body, properties, headers",
        "enter",
        "open_selected",
        shown_keys="Enter",
    ),
    Action("Page up", "scroll a page", "pageup", "page(-1)", shown_keys="PgUp / PgDn"),
    Action("Page down", "scroll a page", "pagedown", "page(1)", documented=False),
    Action("Oldest", "scroll to the oldest message", "home", "top", shown_keys="Home"),
    Action(
        "Follow newest",
        "follow the newest message again",
        "end,escape",
        "follow",
        shown_keys="End / Escape",
    ),
    Action("Typing", "goes to the input", shown_keys="typing"),
)


def bindings(actions: Iterable[Action]) -> list[BindingType]:
    return [
        Binding(a.keys, a.action, a.title, show=a.footer, priority=a.priority)
        for a in actions
        if a.keys and a.action
    ]


def documented(actions: Iterable[Action]) -> list[tuple[str, str]]:
    """(keys as people write them, what they do): the help screen's and the
    README's rows, palette-only actions left out."""
    return [(a.key_text, a.help) for a in actions if a.documented and a.key_text]
