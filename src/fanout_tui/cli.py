"""The ``fanout-tui`` command: the dashboard, ``publish`` and ``listen``.

Every failure a user can cause ends in one line on stderr and a non-zero exit:
2 for bad input (usage, URL, config), 1 for the broker, 3 for unroutable, 4
for a nack, 130 for Ctrl+C; the dashboard quits cleanly on SIGINT, SIGTERM and
SIGHUP with 128 + the signal's number (130, 143, 129). Never a traceback.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence
from typing import NoReturn
from urllib.parse import urlsplit

from . import __version__
from .model.export import delivery_json
from .model.mailbox import Mailbox
from .model.outcomes import Outcome
from .model.receiver_spec import MATCHES, ReceiverSpec
from .model.states import WorkerState
from .present.outcomes import describe_outcome, outcome_cause
from .present.text import delivery_line
from .settings import MAX_RECEIVERS, ConfigError, Settings, load_settings
from .transport.broker import DEFAULT_HEARTBEAT, EXCHANGE_TYPES, BrokerSettings, BrokerUrlError
from .transport.publisher_sync import Publisher
from .transport.receiver import ReceiverWorker
from .transport.stamps import MessageProperties, check_properties

EXIT_BROKER = 1
EXIT_USAGE = 2
EXIT_UNROUTABLE = 3
EXIT_NACKED = 4
EXIT_UNCONFIRMED = 5  # written, no confirm: held by a blocked broker, or unknown
# How long `publish` waits for the confirm. A message still unconfirmed then was
# written, so it is reported held or unknown (exit 5), never "not sent".
CONFIRM_WAIT = 10.0
EXIT_INTERRUPTED = 130

TUTORIAL_MESSAGE = "info: Hello World!"

GC_YOUNG_THRESHOLD = 20_000  # allocations between young-generation collections (default 700)


def _add_broker_options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
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
        type=_non_negative,
        default=argparse.SUPPRESS,
        metavar="SECONDS",
        help=f"AMQP heartbeat interval (0 to 3600, 0 turns heartbeats off; default "
        f"{DEFAULT_HEARTBEAT}): a silent path to the broker is noticed after about twice this",
    )
    return [url, exchange, exchange_type, heartbeat]


def _header(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` as a pair; the name is not empty and fits an AMQP table key."""
    name, eq, value = text.partition("=")
    if not eq or not name:
        raise argparse.ArgumentTypeError(f"not NAME=VALUE: {text!r}")
    if len(name.encode("utf-8")) > MAX_SHORT_STRING:
        raise argparse.ArgumentTypeError(f"a header name is at most {MAX_SHORT_STRING} bytes")
    return name, value


def _routing_key(text: str) -> str:
    if len(text.encode("utf-8")) > MAX_SHORT_STRING:
        raise argparse.ArgumentTypeError(f"a routing key is at most {MAX_SHORT_STRING} bytes")
    return text


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {value}")
    return value


# The dashboard's own options (beyond --url and --exchange): given before any
# command, or after `serve`, which hands them on to every browser session.
def _add_dashboard_options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        parser.add_argument(
            "--receivers",
            type=_non_negative,
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
            type=_non_negative,
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


def _positive(text: str) -> int:
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _port(text: str) -> int:
    value = _non_negative(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port (1 to 65535): {value}")
    return value


def _public_url(text: str) -> str:
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


def _add_serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    parser.add_argument("--port", type=_port, default=8000, help="default 8000")
    parser.add_argument(
        "--public-url",
        type=_public_url,
        metavar="URL",
        help="the address browsers use, when it is not the one listened on "
        "(a proxy in front: https://dash.example.org)",
    )
    parser.add_argument(
        "--max-sessions",
        type=_positive,
        default=8,
        metavar="N",
        help="browser tabs served at once, each its own dashboard (default 8)",
    )


class _Parser(argparse.ArgumentParser):
    """A usage error is one line, as every other failure is: what is wrong,
    and where the help is (the usage text would bury the line that matters)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fanout-tui",
        description="Watch a RabbitMQ fanout exchange deliver every message to every queue.",
    )
    parser.add_argument("--version", action="version", version=f"fanout-tui {__version__}")
    _add_broker_options(parser)
    _add_dashboard_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    pub = sub.add_parser(
        "publish",
        help="publish one message to the exchange and wait for the broker's confirm",
        description="Publish one message (the words joined by spaces, like the tutorial's "
        "emit_log.py). Exits 0 when routed, 3 when no queue is bound (or no binding matches), "
        "4 when nacked.",
    )
    _add_broker_options(pub)
    pub.add_argument("--content-type", default="text/plain", help="default text/plain")
    pub.add_argument(
        "--routing-key",
        type=_routing_key,
        default="",
        metavar="KEY",
        help="the routing key, as emit_log_direct.py and emit_log_topic.py take it "
        "(kern.critical); default '', which a fanout ignores",
    )
    pub.add_argument(
        "--header",
        type=_header,
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
        "message",
        nargs="*",
        help=f"the message (default {TUTORIAL_MESSAGE!r}); '-' reads it from standard input",
    )

    lis = sub.add_parser(
        "listen",
        help="bind an exclusive queue to the exchange and print each message",
        description="Bind a server-named exclusive queue to the exchange and print every "
        "message as it arrives, like the tutorial's receive_logs.py (and, with --key, "
        "receive_logs_direct.py and receive_logs_topic.py).",
    )
    _add_broker_options(lis)
    lis.add_argument("--count", type=_non_negative, metavar="N", help="stop after N messages")
    lis.add_argument(
        "--key",
        type=_routing_key,
        action="append",
        default=[],
        metavar="KEY",
        help="a binding key on a direct or topic exchange (repeat for several, as "
        "receive_logs_topic.py 'kern.*' '*.critical'); none: '' on direct, '#' on topic",
    )
    lis.add_argument(
        "--match",
        choices=MATCHES,
        default="all",
        help="on a headers exchange: whether all the --header pairs must match or any "
        "(default all)",
    )
    lis.add_argument(
        "--header",
        type=_header,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="on a headers exchange: a header to match (repeat for several)",
    )
    lis.add_argument(
        "--no-reconnect",
        action="store_true",
        help="exit 1 when the connection is lost instead of reconnecting",
    )
    lis.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per message, the record an export writes",
    )

    srv = sub.add_parser(
        "serve",
        help="serve the dashboard to web browsers, one dashboard per tab",
        description="Serve the dashboard over HTTP: every browser tab gets a dashboard of "
        "its own, with its own receivers and queues. There is no login: anyone who can "
        "reach the port can publish with the configured broker credentials.",
    )
    _add_broker_options(srv)
    _add_dashboard_options(srv)
    _add_serve_options(srv)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    for position, arg in enumerate(argv, 1):
        # Python hands undecodable bytes over as lone surrogates, which no
        # message, URL or name can carry; never echoed (it may be a password).
        if not _is_text(arg):
            return _fail(f"argument {position} is not valid UTF-8 text", EXIT_USAGE)
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
        return _fail(str(exc), EXIT_USAGE)
    try:
        if args.command == "serve":
            return _serve(settings, args)
        if args.command == "publish":
            return _publish(broker, args)
        if args.command == "listen":
            return _listen(broker, args)
        return _dashboard(settings)
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


def _fail(message: str, code: int) -> int:
    print(f"fanout-tui: {message}", file=sys.stderr)
    return code


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


def _dashboard(settings: Settings) -> int:
    from .ui.app import FanoutApp  # Textual only loads for the dashboard

    app = FanoutApp(settings, quit_on_signals=True)
    tune_for_the_dashboard()
    app.run()
    return app.return_code or 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    """Every option was checked above, before anything is served: a bad one is
    this terminal's usage error, not a browser page that never starts."""
    from .web.serve import ServeOptions, serve  # aiohttp and textual-serve only load here

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
    :func:`_add_dashboard_options` defines is handed on, present and future."""
    probe = argparse.ArgumentParser(add_help=False)
    actions = _add_broker_options(probe) + _add_dashboard_options(probe)
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


# Options whose value may hold a password: a session gets them in its environment.
SECRET_OPTIONS = frozenset({"url", "management_url"})


MAX_SHORT_STRING = 255  # bytes: an AMQP short string (a routing key, a header's name)
MAX_CONTENT_TYPE = MAX_SHORT_STRING


def _messages(args: argparse.Namespace) -> list[bytes] | str:
    """The bodies to publish, or why the arguments cannot give any (a usage error).

    ``-`` alone reads standard input, as command-line tools do: all of it as one
    message, or with ``--lines`` one message per line (without its newline).
    """
    if args.message == ["-"]:
        data = sys.stdin.buffer.read()
        if not args.lines:
            return [data]
        return [line.removesuffix(b"\r") for line in data.splitlines()]
    if args.lines:
        return "--lines needs the message '-' (one message per line of standard input)"
    return [(" ".join(args.message) or TUTORIAL_MESSAGE).encode("utf-8")]


def _publish(broker: BrokerSettings, args: argparse.Namespace) -> int:
    if len(args.content_type.encode("utf-8")) > MAX_CONTENT_TYPE:
        return _fail(f"--content-type is longer than {MAX_CONTENT_TYPE} bytes", EXIT_USAGE)
    bodies = _messages(args)
    if isinstance(bodies, str):
        return _fail(bodies, EXIT_USAGE)
    properties = MessageProperties(content_type=args.content_type)
    try:
        check_properties(properties, dict(args.header))
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE)
    publisher = Publisher(broker)
    try:
        problem = _connect_to_any(publisher)
        if problem:
            return _fail(problem, EXIT_BROKER)
        for seq, body in enumerate(bodies, 1):
            code = _publish_one(publisher, seq, body, properties, args)
            if code:
                return code  # the first message not routed ends it, with its code
    except Exception as exc:
        return _fail(publisher.describe(exc), EXIT_BROKER)
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
        return _fail(cause, EXIT_BROKER)
    if status in (Outcome.HELD, Outcome.UNKNOWN):
        return _fail(describe_outcome(status, exchange, result.reason), EXIT_UNCONFIRMED)
    code = EXIT_UNROUTABLE if status is Outcome.UNROUTABLE else EXIT_NACKED
    return _fail(f"{status.value}: {cause}", code)


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


def _routes_by_key(worker: ReceiverWorker, args: argparse.Namespace) -> bool:
    """Whether a line shows the routing key: on a direct or topic exchange, as
    receive_logs_direct.py does, or with --key when the type is unknown."""
    kind = worker.exchange_type
    return kind in ("direct", "topic") or (kind == "" and bool(args.key))


def _bound_as(exchange_type: str, spec: ReceiverSpec) -> str:
    """`` (topic, keys 'kern.*', '*.critical')``: the type and the binding, as bound."""
    if not exchange_type:
        return f" (keys {', '.join(map(repr, spec.keys))})" if spec.keys else ""
    if exchange_type == "fanout":
        return " (fanout, which ignores keys and headers)" if spec.keys or spec.headers else ""
    if exchange_type == "headers":
        pairs = ", ".join(f"{name}={value}" for name, value in spec.headers)
        return f" (headers, match {spec.match}{': ' + pairs if pairs else ''})"
    keys = spec.keys or (("#",) if exchange_type == "topic" else ("",))
    word = "key" if len(keys) == 1 else "keys"
    return f" ({exchange_type}, {word} {', '.join(map(repr, keys))})"


def _listen(broker: BrokerSettings, args: argparse.Namespace) -> int:
    if any(name == "x-match" for name, _ in args.header):
        return _fail("--header x-match=...: say how the pairs match with --match", EXIT_USAGE)
    mailbox = Mailbox(max_deliveries=100_000)
    # Each URL is tried once at start (a wrong URL or password ends it); once
    # listening, a lost connection is retried like the dashboard's receivers,
    # unless --no-reconnect asks for the old exit.
    worker = ReceiverWorker(
        broker,
        mailbox,
        name="listen",
        reconnect=not args.no_reconnect,
        start_attempts=len(broker.urls),
        spec=ReceiverSpec(
            keys=tuple(args.key), match=args.match, headers=tuple(sorted(dict(args.header).items()))
        ),
    )
    worker.start()
    printed = 0
    announced = False
    lost = False  # said that the connection was lost, since the last consume
    try:
        while args.count is None or printed < args.count:
            mailbox.ready.wait(0.5)
            mailbox.ready.clear()
            for event in mailbox.drain_events():
                if event.state is WorkerState.RECONNECTING and announced and not lost:
                    # One line per outage; the new queue's line follows when back.
                    lost = True
                    print(
                        f"fanout-tui: {worker.error or 'connection lost'}; reconnecting "
                        "(messages published meanwhile are not received)",
                        file=sys.stderr,
                        flush=True,
                    )
                elif event.state is WorkerState.CONSUMING and (lost or not announced):
                    announced, lost = True, False
                    print(
                        f" [*] Waiting for messages on queue {event.queue} bound to exchange "
                        f"{broker.exchange!r}{_bound_as(worker.exchange_type, worker.spec)}. "
                        "To exit press CTRL+C",
                        file=sys.stderr,
                        flush=True,
                    )
                elif event.state is WorkerState.FAILED:
                    return _fail(event.detail, EXIT_BROKER)
            for delivery in mailbox.drain_deliveries():
                # The export's record, with the whole body: one line is one message.
                if args.json:
                    line = delivery_json(delivery, None)
                else:
                    line = delivery_line(delivery, with_key=_routes_by_key(worker, args))
                print(line, flush=True)
                printed += 1
                if args.count is not None and printed >= args.count:
                    break
            if not worker.is_alive() and mailbox.pending == 0:
                return _fail(worker.error or "the receiver stopped", EXIT_BROKER)
        return 0
    finally:
        worker.stop()
