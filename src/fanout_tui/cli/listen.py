"""``fanout-tui listen``: its options, and a receiver worker whose deliveries
are printed one line each (or one JSON object), as the tutorial's receive_logs.py."""

from __future__ import annotations

import argparse
import sys

from ..model.export import delivery_json
from ..model.mailbox import Mailbox
from ..model.receiver_spec import MATCHES, ReceiverSpec
from ..model.states import WorkerState
from ..present.text import delivery_line
from ..transport.broker import BrokerSettings
from ..transport.receiver import ReceiverWorker
from .exits import EXIT_BROKER, EXIT_USAGE, fail
from .options import Subcommands, add_broker_options, header, non_negative, routing_key


def add_listen_parser(sub: Subcommands) -> None:
    lis = sub.add_parser(
        "listen",
        help="bind an exclusive queue to the exchange and print each message",
        description="Bind a server-named exclusive queue to the exchange and print every "
        "message as it arrives, like the tutorial's receive_logs.py (and, with --key, "
        "receive_logs_direct.py and receive_logs_topic.py).",
        epilog="exit codes: 0 after --count messages; 130 Ctrl+C; 1 broker error (at "
        "start, or a lost connection with --no-reconnect); 2 bad input.",
    )
    add_broker_options(lis)
    lis.add_argument("--count", type=non_negative, metavar="N", help="stop after N messages")
    lis.add_argument(
        "--key",
        type=routing_key,
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
        type=header,
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


def run_listen(broker: BrokerSettings, args: argparse.Namespace) -> int:
    if any(name == "x-match" for name, _ in args.header):
        return fail("--header x-match=...: say how the pairs match with --match", EXIT_USAGE)
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
                    return fail(event.detail, EXIT_BROKER)
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
                return fail(worker.error or "the receiver stopped", EXIT_BROKER)
        return 0
    finally:
        worker.stop()
