"""``fanout-tui publish``: its options, the bodies it reads, and one confirmed
publish per message, each ending in its exit code."""

from __future__ import annotations

import argparse
import sys

from ..locations import cli_counter_file
from ..model.cli_numbers import cli_origin, reserve
from ..model.outcomes import Outcome
from ..present.outcomes import describe_outcome, outcome_cause
from ..transport.broker import BrokerSettings
from ..transport.publisher_sync import Publisher
from ..transport.stamps import MessageProperties, check_properties
from .exits import EXIT_BROKER, EXIT_NACKED, EXIT_UNCONFIRMED, EXIT_UNROUTABLE, EXIT_USAGE, fail
from .options import MAX_SHORT_STRING, Subcommands, add_broker_options, header, routing_key

# How long `publish` waits for the confirm. A message still unconfirmed then was
# written, so it is reported held or unknown (exit 5), never "not sent".
CONFIRM_WAIT = 10.0
TUTORIAL_MESSAGE = "info: Hello World!"
MAX_CONTENT_TYPE = MAX_SHORT_STRING


def add_publish_parser(sub: Subcommands) -> None:
    pub = sub.add_parser(
        "publish",
        help="publish one message to the exchange and wait for the broker's confirm",
        description="Publish one message (the words joined by spaces, like the tutorial's "
        "emit_log.py) and wait for the broker's confirm.",
        epilog=f"exit codes: 0 routed; 3 unroutable (no queue is bound, or no binding "
        f"matches); 4 nacked; 5 held or unknown (written, no confirm within "
        f"{CONFIRM_WAIT:g} s: it may still be routed, so do not blindly resend); 1 broker "
        "error, or not sent; 2 bad input; 130 Ctrl+C. With --lines, the first message not "
        "routed ends it, with its code.",
    )
    add_broker_options(pub)
    pub.add_argument("--content-type", default="text/plain", help="default text/plain")
    pub.add_argument(
        "--routing-key",
        type=routing_key,
        default="",
        metavar="KEY",
        help="the routing key, as emit_log_direct.py and emit_log_topic.py take it "
        "(kern.critical); default '', which a fanout ignores",
    )
    pub.add_argument(
        "--header",
        type=header,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a header to send (repeat for several), which a headers exchange routes by",
    )
    pub.add_argument(
        "--lines",
        action="store_true",
        help="with the message '-': publish each line of standard input as one message",
    )
    pub.add_argument(
        "--keep-newline",
        action="store_true",
        help="with the message '-': keep standard input's final newline; by default one "
        "final newline is stripped, as a shell's $(...) strips it (echo '{...}' | "
        "fanout-tui publish - sends the JSON alone)",
    )
    pub.add_argument(
        "message",
        nargs="*",
        help=f"the message (default {TUTORIAL_MESSAGE!r}); '-' reads it from standard input",
    )


def messages(args: argparse.Namespace) -> list[bytes] | str:
    """The bodies to publish, or why the arguments cannot give any (a usage error).

    ``-`` alone reads standard input, as command-line tools do: all of it as one
    message, less one final newline (``echo`` adds it; ``--keep-newline`` keeps
    it), or with ``--lines`` one message per line (without its newline).
    """
    if args.lines and args.keep_newline:
        return "--keep-newline is for one message; --lines strips every line's newline"
    if args.message == ["-"]:
        data = sys.stdin.buffer.read()
        if args.lines:
            return [line.removesuffix(b"\r") for line in data.splitlines()]
        if args.keep_newline:
            return [data]
        return [strip_final_newline(data)]
    if args.lines:
        return "--lines needs the message '-' (one message per line of standard input)"
    if args.keep_newline:
        return "--keep-newline needs the message '-' (words on the command line have none)"
    return [(" ".join(args.message) or TUTORIAL_MESSAGE).encode("utf-8")]


def strip_final_newline(data: bytes) -> bytes:
    """``data`` less one final newline (``\\n`` or ``\\r\\n``): the one ``echo``
    and most editors end a file with, which is not part of the message."""
    if data.endswith(b"\r\n"):
        return data[:-2]
    return data.removesuffix(b"\n")


def run_publish(broker: BrokerSettings, args: argparse.Namespace) -> int:
    if len(args.content_type.encode("utf-8")) > MAX_CONTENT_TYPE:
        return fail(f"--content-type is longer than {MAX_CONTENT_TYPE} bytes", EXIT_USAGE)
    bodies = messages(args)
    if isinstance(bodies, str):
        return fail(bodies, EXIT_USAGE)
    properties = MessageProperties(content_type=args.content_type)
    try:
        check_properties(properties, dict(args.header))
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    publisher = Publisher(broker, origin=cli_origin())
    try:
        problem = _connect_to_any(publisher)
        if problem:
            return fail(problem, EXIT_BROKER)
        # Numbered on from the last run's (cli#N in listen and the dashboard).
        first = reserve(cli_counter_file(), len(bodies))
        for seq, body in enumerate(bodies, first):
            code = _publish_one(publisher, seq, body, properties, args)
            if code:
                return code  # the first message not routed ends it, with its code
    except Exception as exc:
        return fail(publisher.describe(exc), EXIT_BROKER)
    finally:
        publisher.close()
    return 0


def _publish_one(
    publisher: Publisher,
    seq: int,
    body: bytes,
    props: MessageProperties,
    args: argparse.Namespace,
) -> int:
    exchange, key = publisher.broker.exchange, args.routing_key
    result = publisher.publish(
        seq, body, props, timeout=CONFIRM_WAIT, routing_key=key, headers=dict(args.header)
    )
    status = result.status
    if status is Outcome.ROUTED:
        text = body.decode("utf-8", errors="backslashreplace")
        if key:
            print(f" [x] Sent {key!r}:{text!r}")  # emit_log_direct.py's and emit_log_topic.py's
        else:
            print(f" [x] Sent {text!r} to exchange {exchange!r}")  # the tutorial's line
        return 0
    cause = outcome_cause(status, exchange, result.reason)
    if status is Outcome.FAILED:
        return fail(cause, EXIT_BROKER)
    if status in (Outcome.HELD, Outcome.UNKNOWN):
        return fail(describe_outcome(status, exchange, result.reason), EXIT_UNCONFIRMED)
    code = EXIT_UNROUTABLE if status is Outcome.UNROUTABLE else EXIT_NACKED
    return fail(f"{status.value}: {cause}", code)


def _connect_to_any(publisher: Publisher) -> str:
    """Connect to the first of the URLs that works, each tried once in turn, as
    the dashboard would; "" when one did, else why each failed (one line)."""
    reasons = []
    for url in publisher.broker.urls:
        try:
            publisher.connect(url)
            return ""
        except Exception as exc:
            reasons.append(publisher.describe(exc))
            publisher.close()
    return " | ".join(reasons)
