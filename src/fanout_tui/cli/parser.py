"""The ``fanout-tui`` command line: the top-level options and the commands,
each command's options defined beside the code that runs it."""

from __future__ import annotations

import argparse

from .. import __version__
from .dashboard import add_serve_parser
from .listen import add_listen_parser
from .options import Parser, add_broker_options, add_dashboard_options
from .publish import add_publish_parser


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="fanout-tui",
        description="Watch a RabbitMQ fanout exchange deliver every message to every queue.",
        epilog="exit codes (the dashboard): 0; 2 bad input; on SIGINT, SIGTERM or SIGHUP it "
        "quits as ctrl+q does and exits 128 + the signal's number: 130, 143, 129. Each "
        "command's --help gives its own.",
    )
    parser.add_argument("--version", action="version", version=f"fanout-tui {__version__}")
    add_broker_options(parser)
    add_dashboard_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    add_publish_parser(sub)
    add_listen_parser(sub)
    add_serve_parser(sub)
    return parser
