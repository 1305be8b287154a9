"""The help screen: the keys, and what a fanout exchange does."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = """\
[b]fanout-tui[/b]

A [b]fanout exchange[/b] copies every message it receives to every queue bound to it, \
ignoring the routing key; a message published while no queue is bound is dropped. \
Each pane is a separate receiver with its own connection and its own exclusive, \
server-named queue bound to the exchange, so each pane shows its own copy of every \
message, side by side. A pane line gives the message's sequence number ([b]ext[/b] for \
one from another program), the time it arrived and its body with control characters \
escaped; the title names the pane's queue and the bottom border counts what it received.

[b]Keys[/b]
  [b]Enter[/b]        publish the typed message; the line below says which receivers got it
  [b]Up / Down[/b]    recall earlier messages (kept across runs)
  [b]ctrl+n[/b]       add a receiver (also the [b]+ receiver[/b] control)
  [b]ctrl+r[/b]       remove the focused receiver, or the newest (also ✕ on each pane)
  [b]Tab[/b]          move focus between the input and the panes
  [b]ctrl+l[/b]       delivery log: per message, who got it and how late, who did not and why
  [b]ctrl+b[/b]       the exchange's bindings (management API, else this app's own)
  [b]ctrl+p[/b]       command palette: burst, publish properties, export, pause/resume…
  [b]? / F1[/b]       this help
  [b]ctrl+q[/b]       quit (stops every receiver; their queues are deleted)

[b]On a focused pane[/b]
  [b]space[/b]        pause / resume: the consumer is cancelled, the queue keeps filling
               (a click on the state in its bottom border does the same)
  [b]Up / Down[/b]    select a message; [b]Enter[/b] (or a click) opens its details
  [b]PgUp / PgDn[/b]  scroll; [b]Home[/b] oldest; [b]End[/b] / [b]Escape[/b] follow the newest
  typing           goes to the input

While a burst runs, [b]Escape[/b] cancels it.

Press Escape to close."""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,f1,question_mark", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(HELP, markup=True)
