"""The ``fanout-tui`` command: the dashboard, ``publish``, ``listen`` and ``serve``.

This module owns the start: the arguments are checked, the settings loaded, and
the command chosen. Every failure a user can cause ends in one line on stderr
and a non-zero exit: 2 for bad input (usage, URL, config), 1 for the broker, 3
for unroutable, 4 for a nack, 5 for a message written but not confirmed, 130
for Ctrl+C; the dashboard quits cleanly on SIGINT, SIGTERM and SIGHUP with 128
+ the signal's number (130, 143, 129). Never a traceback.

The parts: ``options`` (shared option groups and argument types), ``parser``
(the command line), ``publish``, ``listen``, ``dashboard`` (the dashboard and
``serve``), ``exits`` (the exit codes).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ..settings import ConfigError, load_settings
from ..transport.broker import BrokerUrlError
from .dashboard import dashboard_arguments, run_dashboard, run_serve, tune_for_the_dashboard
from .exits import (
    EXIT_BROKER,
    EXIT_INTERRUPTED,
    EXIT_NACKED,
    EXIT_UNCONFIRMED,
    EXIT_UNROUTABLE,
    EXIT_USAGE,
    fail,
)
from .listen import run_listen
from .parser import build_parser
from .publish import run_publish

__all__ = [
    "EXIT_BROKER",
    "EXIT_INTERRUPTED",
    "EXIT_NACKED",
    "EXIT_UNCONFIRMED",
    "EXIT_UNROUTABLE",
    "EXIT_USAGE",
    "build_parser",
    "dashboard_arguments",
    "main",
    "tune_for_the_dashboard",
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    for position, arg in enumerate(argv, 1):
        # Python hands undecodable bytes over as lone surrogates, which no
        # message, URL or name can carry; never echoed (it may be a password).
        if not _is_text(arg):
            return fail(f"argument {position} is not valid UTF-8 text", EXIT_USAGE)
    args = parser.parse_args(argv)
    # Bodies are sanitized to printable text; a terminal without UTF-8 still gets escapes.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        settings = load_settings(
            urls=getattr(args, "url", None),
            exchange=getattr(args, "exchange", None),
            exchange_type=getattr(args, "exchange_type", None),
            receivers=getattr(args, "receivers", None),
            scrollback=getattr(args, "scrollback", None),
            management_url=getattr(args, "management_url", None),
            heartbeat=getattr(args, "heartbeat", None),
            spread=getattr(args, "spread", None),
            receiver_specs=getattr(args, "receiver_specs", None),
            check_management=args.command not in ("publish", "listen"),
        )
        broker = settings.broker()
    except (ConfigError, BrokerUrlError) as exc:
        return fail(str(exc), EXIT_USAGE)
    try:
        if args.command == "serve":
            return run_serve(settings, args)
        if args.command == "publish":
            return run_publish(broker, args)
        if args.command == "listen":
            return run_listen(broker, args)
        return run_dashboard(settings)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0  # the reader went away (e.g. `| head`); not an error of ours


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
