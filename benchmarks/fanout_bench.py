"""The whole pipeline against the raw pika ceiling, in one run, against one broker.

    python benchmarks/fanout_bench.py [--parts bursts,drains,...] [--json FILE] [counts...]

The report goes to benchmarks/results/latest.json unless --json says otherwise;
benchmarks/render_performance.py turns it into docs/performance.md. It names
the machine (CPU, cores, memory, Python, pika, Textual, RabbitMQ versions) and
whether this was a full run (every setting at its default) or a smoke run.

The parts (--parts picks some; --quick is the live bursts only):
  bursts   live bursts at each N: raw (N pika consumer threads in one process,
           auto_ack, doing nothing but count) and the app (headless, 200x60, N
           panes, display on), both fed the same burst by a publisher process;
           with the event loop's lateness and key press to screen in the app's
  drains   N queues filled while nothing consumes, then drained: raw (N consumer
           threads started together) and the app (receivers paused, their
           queues filled, all resumed at once)
  sizes    live bursts of 1 KiB and 64 KiB bodies at N = 8, raw and app (the
           live bursts' bodies are 10 B)
  peers    the `fanout-tui` command in tmux against tutorial three's
           receive_logs.py, one process per tmux pane, the same burst each
  latency  publish-to-display at 20 msg/s
  startup  launch to 8 receivers consuming, ctrl+n to consuming and to screen;
           launch to 64 receivers consuming
  memory   peak RSS over 1,000,000 small deliveries and over 100,000 of 64 KiB,
           8 panes, each in a fresh interpreter
  scaling  one raw/app pair at more N, for the shape of the curve

Deliveries per second = N x messages / (time the burst started -> time the
last copy was received, and for the app, drawn). A figure that misses its
target is printed as such; the measurement is never loosened to pass.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable
from multiprocessing import resource_tracker
from pathlib import Path
from typing import Any

import render_performance
from measure import app, raw, tmux_peers
from measure.common import in_fresh_process, median_pair, percentiles
from measure.machine import machine

SCHEMA = 1  # of the JSON report; render_performance.py checks it
LATEST = Path(__file__).resolve().parent / "results" / "latest.json"
PARTS = ("bursts", "drains", "sizes", "peers", "latency", "startup", "memory", "scaling")
WIDE = 32  # from this N on, bursts and drains use --wide-messages and --wide-repeat
SIZE_N = 8  # receivers for the body sizes and the memory figures
LARGE = 64 * 1024  # bytes: the large body


def _paired(
    raw_run: Callable[[], float], app_run: Callable[[], dict[str, Any]], repeat: int
) -> dict[str, Any]:
    """Raw and app back to back, ``repeat`` times; the median pair is reported.

    A shared machine drifts from one minute to the next, so each app run is
    compared with the raw run right before it, never with a run from elsewhere.
    Lateness and key-press samples are pooled over every app run: a p99 from
    one run of ~150 samples is its second-worst sample, and swung by 2x
    between runs minutes apart.
    """
    runs = []
    for _ in range(repeat):
        reference = raw_run()
        measured = app_run()
        runs.append((measured["rate"] / reference, reference, measured))
    ratio, reference, measured = median_pair(runs)
    return {
        "raw_per_s": round(reference),
        "app_per_s": round(measured["rate"]),
        "ratio": round(ratio, 3),
        "ratios_all": sorted(round(r[0], 3) for r in runs),
        "counts_exact": all(r[2]["exact"] for r in runs),
        "loop_lateness_ms": percentiles([x for r in runs for x in r[2]["lateness"]]),
        "key_to_screen_ms": percentiles([x for r in runs for x in r[2]["key"]]),
    }


def _burst(url: str, n: int, messages: int, repeat: int, size: int = 10) -> dict[str, Any]:
    result = _paired(
        lambda: raw.burst(url, n, messages, size),
        lambda: asyncio.run(app.burst(url, n, messages, size)),
        repeat,
    )
    return {"receivers": n, "messages": messages, "body_bytes": size, **result}


def _drain(url: str, n: int, messages: int, repeat: int) -> dict[str, Any]:
    result = _paired(
        lambda: raw.drain(url, n, messages),
        lambda: asyncio.run(app.drain(url, n, messages)),
        repeat,
    )
    return {"receivers": n, "messages": messages, **result}


def _numbers(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--url", default=os.environ.get("FANOUT_TUI_URL", "amqp://guest:guest@localhost:5672/%2F"))
    add("--management-url", help="for the broker's version (default: from --url, port 15672)")
    add("--parts", default=",".join(PARTS), help="comma-separated parts to run")
    add("--quick", action="store_true", help="the live bursts only (CI smoke)")
    add("--receivers", default="1,8,32,64", help="N for the live bursts")
    add("--messages", type=int, default=20_000, help="per live burst, for N < 32")
    add("--repeat", type=int, default=5, help="raw/app pairs per N (the median is reported)")
    add("--wide-messages", type=int, default=3_000, help="per burst or queue, for N >= 32")
    add("--wide-repeat", type=int, default=3, help="raw/app pairs per N >= 32")
    add("--drain-receivers", default="1,8,32,64", help="N for the drains")
    add("--drain-messages", type=int, default=10_000, help="per queue, for N < 32")
    add("--drain-repeat", type=int, default=3, help="raw/app drain pairs per N")
    add(
        "--sizes",
        default="1024,65536",
        help=f"body sizes in bytes at N = {SIZE_N} (10 B is the live burst's own)",
    )
    add("--size-messages", type=int, default=10_000, help="per burst, for bodies up to 1 KiB")
    add("--large-messages", type=int, default=2_000, help="per burst, for bodies over 1 KiB")
    add("--size-repeat", type=int, default=3, help="raw/app pairs per body size")
    add("--peer-receivers", type=int, default=8, help="tutorial processes and app panes")
    add("--peer-messages", type=int, default=10_000)
    add("--peer-repeat", type=int, default=3, help="tutorial/app pairs")
    add("--latency-seconds", type=float, default=15.0)
    add("--launch-receivers", type=int, default=64)
    add("--memory-deliveries", type=int, default=1_000_000, help="small bodies, 8 panes")
    add("--large-memory-deliveries", type=int, default=100_000, help="64 KiB bodies, 8 panes")
    add("--scaling", default="2,4,16", help="N for one raw/app pair each")
    add(
        "--json",
        metavar="FILE",
        default=str(LATEST),
        help="where the report goes (default benchmarks/results/latest.json)",
    )
    return parser


SETTINGS = (
    "parts",
    "quick",
    "receivers",
    "messages",
    "repeat",
    "wide_messages",
    "wide_repeat",
    "drain_receivers",
    "drain_messages",
    "drain_repeat",
    "sizes",
    "size_messages",
    "large_messages",
    "size_repeat",
    "peer_receivers",
    "peer_messages",
    "peer_repeat",
    "latency_seconds",
    "launch_receivers",
    "memory_deliveries",
    "large_memory_deliveries",
    "scaling",
)


def main() -> int:
    parser = build_parser()
    args = parser.parse_args()
    parts = ["bursts"] if args.quick else [p for p in args.parts.split(",") if p]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))} (known: {', '.join(PARTS)})")
    # Start multiprocessing's helper process now: spawning it later, from inside a
    # running Textual app, fails on the driver's file descriptors.
    resource_tracker.ensure_running()

    settings = {name: getattr(args, name) for name in SETTINGS}
    # Full only with every setting at its default: the targets are for those counts.
    full = all(parser.get_default(name) == value for name, value in settings.items())
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "run": {
            "kind": "full" if full else "smoke",
            "date": dt.datetime.now(dt.UTC).date().isoformat(),
            "settings": settings,
        },
        "machine": machine(args.url, args.management_url),
        "messages": args.messages,
        "bursts": {},
    }
    run_parts(args, parts, report)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print_table(report)
    print(f"report: {out} ({report['run']['kind']} run)", flush=True)
    return 0


def print_table(report: dict[str, Any]) -> None:
    """The page's results table for this report (render_performance.py renders it)."""
    print("\n| figure | measured | target |\n| --- | --- | --- |")
    for row in render_performance.rows(report):
        print(f"| {row.figure} | {row.measured} | {row.target} |")
    print()


def _messages(args: argparse.Namespace, n: int) -> tuple[int, int]:
    """Messages per burst (or per queue) and pairs, for N receivers."""
    if n >= WIDE:
        return args.wide_messages, args.wide_repeat
    return args.messages, args.repeat


def _show(name: str, value: Any) -> None:
    print(f"{name}: {json.dumps(value)}", flush=True)


def run_parts(args: argparse.Namespace, parts: list[str], report: dict[str, Any]) -> None:
    """Each part asked for, in the order of PARTS; how long each took goes into
    the report's run (seconds), so the length of a full run is on record."""
    seconds = report["run"]["seconds"] = {}
    for part in PARTS:
        if part in parts:
            began = time.monotonic()
            PART_RUNNERS[part](args, report)
            seconds[part] = round(time.monotonic() - began, 1)
            print(f"{part}: {seconds[part]} s", flush=True)


def _run_bursts(args: argparse.Namespace, report: dict[str, Any]) -> None:
    url = args.url
    for n in _numbers(args.receivers):
        messages, repeat = _messages(args, n)
        report["bursts"][str(n)] = burst = _burst(url, n, messages, repeat)
        _show(f"burst N={n}", burst)


def _run_drains(args: argparse.Namespace, report: dict[str, Any]) -> None:
    url = args.url
    report["drains"] = {}
    for n in _numbers(args.drain_receivers):
        # No publisher bounds a drain, so fewer messages than a live burst last as long.
        messages = args.wide_messages if n >= WIDE else args.drain_messages
        report["drains"][str(n)] = drain = _drain(url, n, messages, args.drain_repeat)
        _show(f"drain N={n}", drain)


def _run_sizes(args: argparse.Namespace, report: dict[str, Any]) -> None:
    url = args.url
    report["sizes"] = {}
    for size in _numbers(args.sizes):
        messages = args.size_messages if size <= 1024 else args.large_messages
        report["sizes"][str(size)] = s = _burst(url, SIZE_N, messages, args.size_repeat, size)
        _show(f"size {size} B", s)


def _run_peers(args: argparse.Namespace, report: dict[str, Any]) -> None:
    url = args.url
    report["tmux_peers"] = peers = tmux_peers.compare(
        url, args.peer_receivers, args.peer_messages, args.peer_repeat
    )
    _show("tmux peers", peers)


def _run_latency(args: argparse.Namespace, report: dict[str, Any]) -> None:
    url = args.url
    report["steady_20_per_s_latency_ms"] = steady = asyncio.run(
        app.steady_latency(url, 3, args.latency_seconds)
    )
    _show("latency", steady)


def _run_startup(args: argparse.Namespace, report: dict[str, Any]) -> None:
    url = args.url
    report["startup"] = asyncio.run(app.startup(url, 8))
    _show("startup", report["startup"])
    report["launch"] = asyncio.run(app.launch(url, args.launch_receivers))
    _show("launch", report["launch"])


def _run_memory(args: argparse.Namespace, report: dict[str, Any]) -> None:
    url = args.url
    report["memory"] = in_fresh_process(app.memory_main, url, args.memory_deliveries, SIZE_N, 10)
    _show("memory", report["memory"])
    report["memory_large"] = in_fresh_process(
        app.memory_main, url, args.large_memory_deliveries, SIZE_N, LARGE
    )
    _show("memory, 64 KiB bodies", report["memory_large"])


def _run_scaling(args: argparse.Namespace, report: dict[str, Any]) -> None:
    url = args.url
    report["scaling"] = {}
    for n in _numbers(args.scaling):
        # At most the N = 8 burst's deliveries: the curve's shape, not another long burst.
        messages = min(args.messages, SIZE_N * args.messages // n)
        report["scaling"][str(n)] = s = _burst(url, n, messages, 1)
        _show(f"scaling N={n}", s)


PART_RUNNERS: dict[str, Callable[[argparse.Namespace, dict[str, Any]], None]] = {
    "bursts": _run_bursts,
    "drains": _run_drains,
    "sizes": _run_sizes,
    "peers": _run_peers,
    "latency": _run_latency,
    "startup": _run_startup,
    "memory": _run_memory,
    "scaling": _run_scaling,
}


if __name__ == "__main__":
    sys.exit(main())
