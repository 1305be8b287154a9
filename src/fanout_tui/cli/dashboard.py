"""The dashboard in this terminal and ``fanout-tui serve``: the process-wide
tuning the dashboard starts with, and the dashboard options a served session
is handed (never those that may hold a password)."""

from __future__ import annotations

import argparse
import gc

from ..settings import Settings
from .options import (
    Subcommands,
    add_broker_options,
    add_dashboard_options,
    add_serve_options,
)

GC_YOUNG_THRESHOLD = 20_000  # allocations between young-generation collections (default 700)

# Options whose value may hold a password: a session gets them in its environment.
SECRET_OPTIONS = frozenset({"url", "management_url"})


def add_serve_parser(sub: Subcommands) -> None:
    srv = sub.add_parser(
        "serve",
        help="serve the dashboard to web browsers, one dashboard per tab",
        description="Serve the dashboard over HTTP: every browser tab gets a dashboard of "
        "its own, with its own receivers and queues. There is no login: anyone who can "
        "reach the port can publish with the configured broker credentials.",
        epilog="exit codes: 0 after SIGINT, SIGTERM or SIGHUP (every session ended); 1 "
        "when it cannot listen; 2 bad input.",
    )
    add_broker_options(srv)
    add_dashboard_options(srv)
    add_serve_options(srv)


def tune_for_the_dashboard() -> None:
    """Process-wide tuning for the dashboard, done once where the process starts.

    The consumer threads allocate a few objects per delivery, so under a burst
    the collector runs constantly and, in the UI thread, walks everything the
    panes hold. Fewer, larger young-generation passes, and the objects that
    exist after start-up (Textual, pika) never scanned again: less event-loop
    lateness under a burst (benchmarks/fanout_bench.py).
    """
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 50)


def run_dashboard(settings: Settings) -> int:
    from ..ui.app import FanoutApp  # Textual only loads for the dashboard

    app = FanoutApp(settings, quit_on_signals=True)
    tune_for_the_dashboard()
    app.run()
    return app.return_code or 0


def run_serve(settings: Settings, args: argparse.Namespace) -> int:
    """Every option was checked before this, before anything is served: a bad one
    is this terminal's usage error, not a browser page that never starts."""
    from ..web.serve import ServeOptions, serve  # aiohttp and textual-serve only load here

    options = ServeOptions(
        host=args.host,
        port=args.port,
        public_url=args.public_url,
        max_sessions=args.max_sessions,
    )
    return serve(settings, dashboard_arguments(args), options)


def dashboard_arguments(args: argparse.Namespace) -> list[str]:
    """The dashboard options given on this command line, as arguments for a
    session's ``python -m fanout_tui``: all but those whose value may hold a
    password (the URLs), which reach the session through its environment, since
    any user of the machine can read a process's argv (``ps``). Every option
    :func:`add_dashboard_options` defines is handed on, present and future."""
    probe = argparse.ArgumentParser(add_help=False)
    actions = add_broker_options(probe) + add_dashboard_options(probe)
    out = []
    for action in actions:
        if action.dest in SECRET_OPTIONS or not hasattr(args, action.dest):
            continue
        value = getattr(args, action.dest)
        if action.nargs == 0:  # a flag (--spread): present or not
            if value:
                out.append(action.option_strings[-1])
            continue
        values = value if isinstance(value, list) else [value]  # repeatable: each one
        out.extend(f"{action.option_strings[-1]}={item}" for item in values)
    return out
