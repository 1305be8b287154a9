"""The whole pipeline against the raw pika ceiling, in one run, against one broker.

    python benchmarks/fanout_bench.py [--receivers 1,8] [--messages 20000] [--json FILE]

The report goes to benchmarks/results/latest.json unless --json says otherwise;
benchmarks/render_performance.py turns it into docs/performance.md. It names
the machine (CPU, cores, memory, Python, pika, Textual, RabbitMQ versions) and
whether this was a full run (every setting at its default) or a smoke run.

For each N it measures deliveries per second for
  * raw: N pika consumer threads in one process, each with its own
    BlockingConnection and exclusive queue, auto_ack, doing nothing but count;
  * app: the real dashboard, headless (App.run_test, 200x60), N receiver panes,
    display on;
both fed the same burst by a separate publisher process, and the ratio app/raw.
During the app's burst it records the event loop's lateness and the time from a
key press to the screen update. Unless --quick, it also measures the publish-to-
display latency at 20 msg/s, peak RSS over 1,000,000 deliveries on 8 panes,
ctrl+n to consuming, launch to all receivers consuming, and the scaling with N.

Deliveries per second = N x messages / (time the publisher started -> time the
last copy was received, and for the app, drawn). A figure that misses its
target is printed as such; the measurement is never loosened to pass.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing as mp
import os
import platform
import resource
import statistics
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from importlib import metadata
from multiprocessing import resource_tracker
from pathlib import Path
from typing import Any

import pika
from textual import events

from fanout_tui.cli import tune_for_the_dashboard
from fanout_tui.model.states import WorkerState
from fanout_tui.settings import Settings
from fanout_tui.ui.app import FanoutApp
from fanout_tui.ui.widgets.publish_input import PublishInput

SIZE = (200, 60)
SCHEMA = 1  # of the JSON report; render_performance.py checks it
LATEST = Path(__file__).resolve().parent / "results" / "latest.json"
BODY = b"bench 0123"  # ~10 bytes, as in the measurements in DESIGN.md


# --- publisher process --------------------------------------------------------
def _publish(url: str, exchange: str, count: int, rate: float | None, started: Any) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.exchange_declare(exchange=exchange, exchange_type="fanout")
    started.put(time.time())
    interval = 1.0 / rate if rate else 0.0
    next_at = time.monotonic()
    for seq in range(1, count + 1):
        if interval:
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        props = pika.BasicProperties(
            headers={"x-fanout-seq": seq, "x-fanout-sent-us": int(time.time() * 1_000_000)}
        )
        channel.basic_publish(exchange=exchange, routing_key="", body=BODY, properties=props)
    connection.close()


class Publisher:
    """A burst from another process, so it does not share our GIL."""

    def __init__(self, url: str, exchange: str, count: int, rate: float | None = None) -> None:
        ctx = mp.get_context("spawn")
        self._started = ctx.Queue()
        self.process = ctx.Process(
            target=_publish, args=(url, exchange, count, rate, self._started), daemon=True
        )

    def start(self) -> float:
        self.process.start()
        return float(self._started.get(timeout=30))

    def join(self) -> None:
        self.process.join(60)


# --- raw ceiling ---------------------------------------------------------------
class RawConsumer(threading.Thread):
    def __init__(self, url: str, exchange: str, expected: int) -> None:
        super().__init__(daemon=True)
        self.url, self.exchange, self.expected = url, exchange, expected
        self.count = 0
        self.bound = threading.Event()
        self.done_at = 0.0

    def run(self) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        channel = connection.channel()
        channel.exchange_declare(exchange=self.exchange, exchange_type="fanout")
        queue = channel.queue_declare(queue="", exclusive=True).method.queue
        channel.queue_bind(queue=queue, exchange=self.exchange)

        def on_message(ch: Any, method: Any, props: Any, body: bytes) -> None:
            self.count += 1
            if self.count >= self.expected:
                self.done_at = time.time()
                ch.stop_consuming()

        channel.basic_consume(queue=queue, on_message_callback=on_message, auto_ack=True)
        self.bound.set()
        channel.start_consuming()
        connection.close()


def measure_raw(url: str, receivers: int, messages: int) -> float:
    exchange = f"bench-raw-{uuid.uuid4().hex[:8]}"
    consumers = [RawConsumer(url, exchange, messages) for _ in range(receivers)]
    for c in consumers:
        c.start()
    for c in consumers:
        c.bound.wait(30)
    publisher = Publisher(url, exchange, messages)
    started = publisher.start()
    for c in consumers:
        c.join(300)
    publisher.join()
    ended = max(c.done_at for c in consumers)
    return receivers * messages / (ended - started)


# --- the app -------------------------------------------------------------------
@dataclass
class Probe:
    """Instruments a running app: loop lateness and key-to-screen times."""

    lateness: list[float] = field(default_factory=list)
    key_latency: list[float] = field(default_factory=list)
    displays: list[float] = field(default_factory=list)  # perf_counter of each screen update
    active: bool = False
    # Set on every screen update: the key probe waits on it rather than polling, so
    # the instrument does not wake the app's loop (and take the GIL) thousands of
    # times a second during the very burst it measures.
    displayed: asyncio.Event = field(default_factory=asyncio.Event)

    def attach(self, app: FanoutApp) -> None:
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is not None:
                self.displays.append(time.perf_counter())
                self.displayed.set()

        app._display = display  # type: ignore[method-assign]

    async def settled(self, pilot: Any, quiet: float = 0.25, timeout: float = 10.0) -> None:
        """Until start-up is over: a screen update, then none for ``quiet`` seconds.

        Textual's Footer lays out its keys (a layout of the whole screen) in a
        callback that runs after the next screen update. Headless, nothing
        updates the screen between launch and the burst, so that start-up work
        landed inside every N = 1 burst. ``pilot.pause()`` runs a screen update
        now. Launch has its own figure (``_startup``); the burst measures a
        dashboard that is up.
        """
        await pilot.pause()
        since = time.perf_counter()
        deadline = since + timeout
        while (now := time.perf_counter()) < deadline:
            last = max(since, self.displays[-1]) if self.displays else since
            if now - last >= quiet:
                return
            await asyncio.sleep(quiet - (now - last))
        raise TimeoutError("the screen never settled")

    def shown_after(self, moment: float) -> float | None:
        """The first screen update at or after ``moment``."""
        return min((t for t in self.displays if t >= moment), default=None)

    async def loop_lateness(self, period: float = 0.025) -> None:
        loop = asyncio.get_running_loop()
        while self.active:
            before = loop.time()
            await asyncio.sleep(period)
            self.lateness.append(loop.time() - before - period)

    async def key_presses(self, app: FanoutApp, every: float = 0.2) -> None:
        """Press a key in the input now and then; time from the key event being
        posted to the first screen update after the input's value changed."""
        box = app.query_one(PublishInput)
        changed: list[float] = []
        value_changed = asyncio.Event()

        def on_value(_value: str) -> None:
            changed.append(time.perf_counter())
            value_changed.set()

        app.watch(box, "value", on_value, init=False)
        while self.active:
            await asyncio.sleep(every)
            if not self.active:
                break
            changed.clear()
            value_changed.clear()
            pressed = time.perf_counter()
            app.post_message(events.Key("x", "x"))
            await value_changed.wait()
            while (shown := self.shown_after(changed[0])) is None:
                self.displayed.clear()
                await self.displayed.wait()
            self.key_latency.append(shown - pressed)
            box.value = ""


def _settings(url: str, exchange: str, receivers: int, scrollback: int = 1000) -> Settings:
    return Settings(urls=(url,), exchange=exchange, receivers=receivers, scrollback=scrollback)


async def _until(condition: Any, timeout: float, step: float = 0.005) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not met in time")
        await asyncio.sleep(step)


def _dashboard(url: str, exchange: str, receivers: int) -> FanoutApp:
    """The app as `fanout-tui` runs it, process-wide tuning included."""
    app = FanoutApp(_settings(url, exchange, receivers))
    tune_for_the_dashboard()
    return app


def _all_consuming(app: FanoutApp, n: int) -> bool:
    panes = app.panes
    return len(panes) == n and all(p.state.state is WorkerState.CONSUMING for p in panes)


def _all_drawn(app: FanoutApp, expected: int) -> bool:
    return all(p.received >= expected and p.mailbox.pending == 0 for p in app.panes)


async def _app_burst(url: str, receivers: int, messages: int) -> dict[str, Any]:
    exchange = f"bench-app-{uuid.uuid4().hex[:8]}"
    app = _dashboard(url, exchange, receivers)
    probe = Probe()
    async with app.run_test(size=SIZE) as pilot:
        probe.attach(app)
        await _until(lambda: _all_consuming(app, receivers), 60)
        await probe.settled(pilot)
        publisher = Publisher(url, exchange, messages)
        probe.active = True
        tasks = [
            asyncio.create_task(probe.loop_lateness()),
            asyncio.create_task(probe.key_presses(app)),
        ]
        started = await asyncio.to_thread(publisher.start)
        # Polled every 10 ms: finer polling is load on the very loop being measured,
        # and 10 ms is under 1% of any burst's duration here.
        await _until(lambda: _all_drawn(app, messages), 600, step=0.01)
        ended = time.time()
        probe.active = False
        await asyncio.gather(*tasks)
        publisher.join()
        exact = all(p.received == messages for p in app.panes)
    return {
        "rate": receivers * messages / (ended - started),
        "exact": exact,
        "lateness": probe.lateness,
        "key": probe.key_latency,
    }


async def _steady_latency(url: str, receivers: int, seconds: float) -> dict[str, float]:
    """Publish-to-display at 20 msg/s: send time (header) to the first screen
    update after the UI drew the message."""
    exchange = f"bench-lat-{uuid.uuid4().hex[:8]}"
    app = _dashboard(url, exchange, receivers)
    probe = Probe()
    drawn: list[tuple[float, float]] = []  # (perf_counter when drained, sent wall time)
    async with app.run_test(size=SIZE):
        probe.attach(app)
        await _until(lambda: _all_consuming(app, receivers), 60)
        pane = app.panes[0]
        original = pane.add_deliveries

        def add_deliveries(deliveries: Any) -> None:
            deliveries = list(deliveries)
            now_perf, now_wall = time.perf_counter(), time.time()
            for d in deliveries:
                if d.sent_at is not None:
                    drawn.append((now_perf, now_wall - d.sent_at))
            original(deliveries)

        pane.add_deliveries = add_deliveries  # type: ignore[method-assign]
        displays: list[float] = []
        original_display = app._display

        def display(screen: Any, renderable: Any) -> None:
            original_display(screen, renderable)
            if renderable is not None:
                displays.append(time.perf_counter())

        app._display = display  # type: ignore[method-assign]
        count = int(seconds * 20)
        publisher = Publisher(url, exchange, count, rate=20)
        await asyncio.to_thread(publisher.start)
        await _until(lambda: pane.received >= count, seconds + 30)
        await asyncio.sleep(0.2)
        publisher.join()
    latencies = []
    for drained_at, age in drawn:
        shown = next((t for t in displays if t >= drained_at), None)
        if shown is not None:
            latencies.append(age + (shown - drained_at))
    return _percentiles(latencies)


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _memory(url: str, deliveries: int, receivers: int = 8) -> dict[str, float]:
    exchange = f"bench-mem-{uuid.uuid4().hex[:8]}"
    messages = deliveries // receivers
    app = _dashboard(url, exchange, receivers)
    samples: list[tuple[int, float]] = []
    async with app.run_test(size=SIZE):
        await _until(lambda: _all_consuming(app, receivers), 60)
        publisher = Publisher(url, exchange, messages)
        await asyncio.to_thread(publisher.start)
        while not _all_drawn(app, messages):
            samples.append((sum(p.received for p in app.panes), _rss_mb()))
            await asyncio.sleep(0.25)
        samples.append((sum(p.received for p in app.panes), _rss_mb()))
        publisher.join()
    peak = max(rss for _, rss in samples)
    half = [rss for got, rss in samples if got >= deliveries / 2]
    return {
        "peak_rss_mb": round(peak, 1),
        "rss_at_half_mb": round(half[0], 1),
        "rss_at_end_mb": round(half[-1], 1),
        "growth_over_last_half_mb": round(max(half) - half[0], 1),
    }


async def _startup(url: str, receivers: int) -> dict[str, Any]:
    """Launch to all receivers consuming; ctrl+n to the new receiver consuming
    (the worker's own report, stamped in its thread) and to the screen showing
    the new pane (Pilot.press returns once the screen has caught up)."""
    exchange = f"bench-start-{uuid.uuid4().hex[:8]}"
    launched = time.perf_counter()
    app = _dashboard(url, exchange, receivers)
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: _all_consuming(app, receivers), 60, step=0.001)
        all_consuming = time.perf_counter() - launched
        await asyncio.sleep(0.5)
        consuming, shown = [], []
        for _ in range(5):
            pressed_wall, pressed = time.time(), time.perf_counter()
            await pilot.press("ctrl+n")
            shown.append(time.perf_counter() - pressed)
            newest = app.panes[-1]
            await _until(lambda n=newest: n.state.state is WorkerState.CONSUMING, 30, 0.001)
            consuming.append(newest.state.at - pressed_wall)
            await asyncio.sleep(0.3)
    return {
        "launch_to_all_consuming_ms": round(all_consuming * 1000, 1),
        "ctrl_n_to_consuming_ms": _percentiles(consuming),
        "ctrl_n_to_screen_ms": _percentiles(shown),
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {
        "n": len(ordered),
        "p50": round(statistics.median(ordered) * 1000, 1),
        "p99": at(0.99),
        "max": round(ordered[-1] * 1000, 1),
    }


def _memory_main(url: str, deliveries: int, results: Any) -> None:
    results.put(asyncio.run(_memory(url, deliveries)))


def _in_fresh_process(target: Any, *args: Any) -> Any:
    """Run ``target`` in a new interpreter: RSS must not include what earlier
    measurements left in this process's heap."""
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, results))
    process.start()
    value = results.get(timeout=1800)
    process.join(60)
    return value


# --- the machine -------------------------------------------------------------
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def _rabbitmq_version(url: str) -> str:
    """What the broker says it is, in its connection.start."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        props = connection._impl.server_properties
        version = props.get("version", b"unknown")
        return version.decode() if isinstance(version, bytes) else str(version)
    finally:
        connection.close()


def machine(url: str) -> dict[str, Any]:
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "python": platform.python_version(),
        "pika": _version("pika"),
        "textual": _version("textual"),
        "rabbitmq": _rabbitmq_version(url),
        "platform": platform.platform(),
    }


# --- driver --------------------------------------------------------------------
def _paired(url: str, n: int, messages: int, repeat: int) -> dict[str, Any]:
    """Raw and app back to back, ``repeat`` times; the median pair is reported.

    A shared machine drifts from one minute to the next, so each app run is
    compared with the raw run right before it, never with a run from elsewhere.
    Lateness and key-press samples are pooled over every app run: a p99 from
    one run of ~150 samples is its second-worst sample, and swung by 2x
    between runs minutes apart.
    """
    runs = []
    for _ in range(repeat):
        raw = measure_raw(url, n, messages)
        app = asyncio.run(_app_burst(url, n, messages))
        runs.append((app["rate"] / raw, raw, app))
    runs.sort(key=lambda r: r[0])
    ratio, raw, app = runs[len(runs) // 2]
    return {
        "raw_per_s": round(raw),
        "app_per_s": round(app["rate"]),
        "ratio": round(ratio, 3),
        "ratios_all": [round(r[0], 3) for r in runs],
        "counts_exact": all(r[2]["exact"] for r in runs),
        "loop_lateness_ms": _percentiles([x for r in runs for x in r[2]["lateness"]]),
        "key_to_screen_ms": _percentiles([x for r in runs for x in r[2]["key"]]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", default=os.environ.get("FANOUT_TUI_URL", "amqp://guest:guest@localhost:5672/%2F")
    )
    parser.add_argument("--receivers", default="1,8", help="comma-separated N for the burst")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--scaling", default="1,2,4,8,16,32", help="N for the scaling table")
    parser.add_argument("--memory-deliveries", type=int, default=1_000_000)
    parser.add_argument("--latency-seconds", type=float, default=15.0)
    parser.add_argument("--repeat", type=int, default=5, help="raw/app pairs per N (median)")
    parser.add_argument("--quick", action="store_true", help="bursts only (CI smoke)")
    parser.add_argument(
        "--json",
        metavar="FILE",
        default=str(LATEST),
        help="where the report goes (default benchmarks/results/latest.json)",
    )
    args = parser.parse_args()
    # Start multiprocessing's helper process now: spawning it later, from inside a
    # running Textual app, fails on the driver's file descriptors.
    resource_tracker.ensure_running()

    receivers = [int(n) for n in args.receivers.split(",") if n]
    settings = {
        name: getattr(args, name)
        for name in (
            "receivers",
            "messages",
            "repeat",
            "scaling",
            "memory_deliveries",
            "latency_seconds",
            "quick",
        )
    }
    # Full only with every setting at its default: the targets are for those counts.
    full = all(parser.get_default(name) == value for name, value in settings.items())
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "run": {
            "kind": "full" if full else "smoke",
            "date": dt.datetime.now(dt.UTC).date().isoformat(),
            "settings": settings,
        },
        "machine": machine(args.url),
        "messages": args.messages,
        "bursts": {},
    }
    for n in receivers:
        report["bursts"][str(n)] = burst = _paired(args.url, n, args.messages, args.repeat)
        print(f"N={n}: {json.dumps(burst)}", flush=True)
    if not args.quick:
        report["steady_20_per_s_latency_ms"] = asyncio.run(
            _steady_latency(args.url, 3, args.latency_seconds)
        )
        print(f"latency: {report['steady_20_per_s_latency_ms']}", flush=True)
        report["startup"] = asyncio.run(_startup(args.url, 8))
        print(f"startup: {report['startup']}", flush=True)
        report["memory"] = _in_fresh_process(_memory_main, args.url, args.memory_deliveries)
        print(f"memory: {report['memory']}", flush=True)
        scaling = {}
        for n in [int(x) for x in args.scaling.split(",") if x]:
            scaling[str(n)] = _paired(args.url, n, args.messages, 1)
            print(f"scaling N={n}: {json.dumps(scaling[str(n)])}", flush=True)
        report["scaling"] = scaling
    print_table(report)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"report: {out} ({report['run']['kind']} run)", flush=True)
    return 0


def print_table(report: dict[str, Any]) -> None:
    print()
    print("| figure | measured | target |")
    print("| --- | --- | --- |")
    for n, b in report["bursts"].items():
        print(
            f"| app / raw deliveries/s, N = {n} | {b['app_per_s']:,} / {b['raw_per_s']:,}"
            f" = {b['ratio']:.2f} | ≥ 0.90 |"
        )
    for n, b in report["bursts"].items():
        lat, key = b["loop_lateness_ms"], b["key_to_screen_ms"]
        print(
            f"| event-loop lateness during burst, N = {n} | p50 {lat.get('p50')} ms, "
            f"p99 {lat.get('p99')} ms, max {lat.get('max')} ms | p99 ≤ 100 ms |"
        )
        print(
            f"| key press to screen during burst, N = {n} | p50 {key.get('p50')} ms, "
            f"max {key.get('max')} ms | ≤ 100 ms |"
        )
    if "steady_20_per_s_latency_ms" in report:
        lat = report["steady_20_per_s_latency_ms"]
        print(
            f"| publish-to-display at 20 msg/s | p50 {lat.get('p50')} ms, p99 {lat.get('p99')} ms"
            " | p50 ≤ 30 ms, p99 ≤ 100 ms |"
        )
        mem = report["memory"]
        print(
            f"| peak RSS, {report['run']['settings']['memory_deliveries']:,} deliveries"
            f" over 8 panes | {mem['peak_rss_mb']} MB; "
            f"+{mem['growth_over_last_half_mb']} MB over the last half | ≤ 150 MB, flat |"
        )
        start = report["startup"]
        print(
            f"| ctrl+n to consuming | p50 {start['ctrl_n_to_consuming_ms'].get('p50')} ms, "
            f"max {start['ctrl_n_to_consuming_ms'].get('max')} ms | ≤ 250 ms |"
        )
        print(
            f"| ctrl+n to the new pane on screen | p50 {start['ctrl_n_to_screen_ms'].get('p50')} "
            f"ms, max {start['ctrl_n_to_screen_ms'].get('max')} ms | |"
        )
        print(f"| launch to 8 receivers consuming | {start['launch_to_all_consuming_ms']} ms | |")
        for n, s in report["scaling"].items():
            target = "≥ 0.80, all consuming" if n == "32" else ""
            print(
                f"| scaling N = {n} | {s['app_per_s']:,} / {s['raw_per_s']:,} = {s['ratio']:.2f} "
                f"| {target} |"
            )


if __name__ == "__main__":
    sys.exit(main())
