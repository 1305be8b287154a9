"""The option groups and argument types the commands share, and the parser class.

The broker options (every command), the dashboard's own (the dashboard and
``serve``, which hands them on to each session), ``serve``'s, and the checks
that turn a bad value into a one-line usage error.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn, Protocol
from urllib.parse import urlsplit

from ..settings import MAX_RECEIVERS
from ..transport.broker import DEFAULT_HEARTBEAT, EXCHANGE_TYPES
from .exits import EXIT_USAGE

MAX_SHORT_STRING = 255  # bytes: an AMQP short string (a routing key, a header's name)


def add_broker_options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    # SUPPRESS: an option given before the subcommand is not reset by the subparser.
    url = parser.add_argument(
        "--url",
        action="append",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="broker URL, amqp:// or amqps:// (repeat for several nodes); "
        "env FANOUT_TUI_URL; default amqp://guest:guest@localhost:5672/%%2F",
    )
    exchange = parser.add_argument(
        "--exchange",
        default=argparse.SUPPRESS,
        metavar="NAME",
        help="exchange name; env FANOUT_TUI_EXCHANGE; default 'logs'",
    )
    exchange_type = parser.add_argument(
        "--exchange-type",
        choices=EXCHANGE_TYPES,
        default=argparse.SUPPRESS,
        metavar="TYPE",
        help="the exchange's type: fanout, direct, topic or headers; default: whatever type "
        "the exchange has, fanout when it must be created (given and different from the "
        "existing type: an error)",
    )
    heartbeat = parser.add_argument(
        "--heartbeat",
        type=non_negative,
        default=argparse.SUPPRESS,
        metavar="SECONDS",
        help=f"AMQP heartbeat interval (0 to 3600, 0 turns heartbeats off; default "
        f"{DEFAULT_HEARTBEAT}): a silent path to the broker is noticed after about twice this",
    )
    return [url, exchange, exchange_type, heartbeat]


def header(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` as a pair; the name is not empty and fits an AMQP table key."""
    name, eq, value = text.partition("=")
    if not eq or not name:
        raise argparse.ArgumentTypeError(f"not NAME=VALUE: {text!r}")
    if len(name.encode("utf-8")) > MAX_SHORT_STRING:
        raise argparse.ArgumentTypeError(f"a header name is at most {MAX_SHORT_STRING} bytes")
    return name, value


def routing_key(text: str) -> str:
    if len(text.encode("utf-8")) > MAX_SHORT_STRING:
        raise argparse.ArgumentTypeError(f"a routing key is at most {MAX_SHORT_STRING} bytes")
    return text


def non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {value}")
    return value


# The dashboard's own options (beyond --url and --exchange): given before any
# command, or after `serve`, which hands them on to every browser session.
def add_dashboard_options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        parser.add_argument(
            "--receivers",
            type=non_negative,
            default=argparse.SUPPRESS,
            metavar="N",
            help=f"receivers to start with (0 to {MAX_RECEIVERS}; default 3)",
        ),
        parser.add_argument(
            "--receiver",
            action="append",
            dest="receiver_specs",
            default=argparse.SUPPRESS,
            metavar="SPEC",
            help="a receiver to start with, repeatable, in pane order: KIND[:key=value,...], "
            "e.g. durable, shared:name=jobs, stream:offset=first, exclusive:delay=20ms,"
            "max-length=1000 (kinds and keys: docs/receivers.md); replaces --receivers",
        ),
        parser.add_argument(
            "--scrollback",
            type=non_negative,
            default=argparse.SUPPRESS,
            metavar="LINES",
            help="lines kept in each receiver pane (default 1000)",
        ),
        parser.add_argument(
            "--spread",
            action="store_true",
            default=argparse.SUPPRESS,
            help="place the receivers round-robin on the --url nodes (R1 on the first, R2 on "
            "the second, ...) instead of all on the first",
        ),
        parser.add_argument(
            "--management-url",
            default=argparse.SUPPRESS,
            metavar="URL",
            help="RabbitMQ management API for the bindings panel, http:// or https:// "
            "(may carry user:password@; default the broker's user, password and host, "
            "port 15672); env FANOUT_TUI_MANAGEMENT_URL",
        ),
    ]


def positive(text: str) -> int:
    value = non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def port(text: str) -> int:
    value = non_negative(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port (1 to 65535): {value}")
    return value


def public_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError("must be an http:// or https:// address, with a host")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError("must be a plain address, without user, query or #")
    try:
        parts.port  # noqa: B018 (parsing it is the check)
    except ValueError:
        raise argparse.ArgumentTypeError("has a port that is not a number") from None
    return text.rstrip("/")


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    parser.add_argument("--port", type=port, default=8000, help="default 8000")
    parser.add_argument(
        "--public-url",
        type=public_url,
        metavar="URL",
        help="the address browsers use, when it is not the one listened on "
        "(a proxy in front: https://dash.example.org)",
    )
    parser.add_argument(
        "--max-sessions",
        type=positive,
        default=8,
        metavar="N",
        help="browser tabs served at once, each its own dashboard (default 8)",
    )


class Subcommands(Protocol):
    """What a command's ``add_*_parser`` needs of ``add_subparsers()``'s result,
    named by its public method rather than argparse's private class."""

    def add_parser(self, name: str, **kwargs: Any) -> Parser: ...


class Parser(argparse.ArgumentParser):
    """A usage error is one line, as every other failure is: what is wrong,
    and where the help is (the usage text would bury the line that matters)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")
