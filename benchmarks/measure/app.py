"""The real dashboard, headless (App.run_test, 200x60), measured through its
public surface: FanoutApp's panes and their receivers, the settings it runs
with, the pause a person toggles. The screen updates are observed at the one
place Textual writes a frame (``App._display``), which is Textual's, not pika's.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from textual import events

from fanout_tui.cli import tune_for_the_dashboard
from fanout_tui.model.states import WorkerState
from fanout_tui.settings import Settings
from fanout_tui.ui.app import FanoutApp
from fanout_tui.ui.widgets.publish_input import PublishInput

from .common import percentiles, rss_mb, until
from .publisher import SMALL, Publisher

SIZE = (200, 60)
STARTUP_TIMEOUT = 60.0  # seconds for every receiver to report consuming
DRAWN_TIMEOUT = 600.0  # the longest burst of a full run, with room


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
        now. Launch has its own figure; the burst measures a dashboard that is up.
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


def dashboard(url: str, exchange: str, receivers: int) -> FanoutApp:
    """The app as `fanout-tui` runs it, process-wide tuning included."""
    settings = Settings(urls=(url,), exchange=exchange, receivers=receivers)
    app = FanoutApp(settings)
    tune_for_the_dashboard()
    return app


def all_in(app: FanoutApp, n: int, state: WorkerState) -> bool:
    panes = app.panes
    return len(panes) == n and all(p.state.state is state for p in panes)


def all_drawn(app: FanoutApp, expected: int) -> bool:
    return all(p.received >= expected and p.mailbox.pending == 0 for p in app.panes)


async def _watched(app: FanoutApp, probe: Probe, messages: int, start: Any) -> tuple[float, float]:
    """Run ``start()`` (returns the wall time the burst began) with the probes on;
    until every pane has drawn ``messages``. (started, ended), wall times."""
    probe.active = True
    tasks = [
        asyncio.create_task(probe.loop_lateness()),
        asyncio.create_task(probe.key_presses(app)),
    ]
    try:
        started = await start()
        # Polled every 10 ms: finer polling is load on the very loop being measured,
        # and 10 ms is under 1% of any burst's duration here.
        await until(lambda: all_drawn(app, messages), DRAWN_TIMEOUT, step=0.01)
        ended = time.time()
    finally:
        probe.active = False
        await asyncio.gather(*tasks)
    return started, ended


def _result(app: FanoutApp, probe: Probe, n: int, messages: int, span: float) -> dict[str, Any]:
    return {
        "rate": n * messages / span,
        "exact": all(p.received == messages for p in app.panes),
        "lateness": probe.lateness,
        "key": probe.key_latency,
    }


async def burst(url: str, receivers: int, messages: int, size: int = SMALL) -> dict[str, Any]:
    """A live burst: publisher start to the last copy drawn in every pane."""
    exchange = f"bench-app-{uuid.uuid4().hex[:8]}"
    app = dashboard(url, exchange, receivers)
    probe = Probe()
    async with app.run_test(size=SIZE) as pilot:
        probe.attach(app)
        await until(lambda: all_in(app, receivers, WorkerState.CONSUMING), STARTUP_TIMEOUT)
        await probe.settled(pilot)
        publisher = Publisher(url, exchange, messages, size=size)

        async def start() -> float:
            return await asyncio.to_thread(publisher.start)

        started, ended = await _watched(app, probe, messages, start)
        publisher.join()
        return _result(app, probe, receivers, messages, ended - started)


async def drain(url: str, receivers: int, messages: int) -> dict[str, Any]:
    """A drain: every receiver paused (as a person pauses one), ``messages``
    published into each paused queue, then every receiver resumed at once;
    from the resume to the last copy drawn in every pane."""
    exchange = f"bench-appdrain-{uuid.uuid4().hex[:8]}"
    app = dashboard(url, exchange, receivers)
    probe = Probe()
    async with app.run_test(size=SIZE) as pilot:
        probe.attach(app)
        await until(lambda: all_in(app, receivers, WorkerState.CONSUMING), STARTUP_TIMEOUT)
        for pane in app.panes:
            app.toggle_pause(pane)
        await until(lambda: all_in(app, receivers, WorkerState.PAUSED), STARTUP_TIMEOUT)
        publisher = Publisher(url, exchange, messages)
        await asyncio.to_thread(publisher.start)
        await asyncio.to_thread(publisher.join)
        # A paused receiver reads its queue's depth about once a second.
        await until(lambda: all((p.state.waiting or 0) >= messages for p in app.panes), 300, 0.05)
        await probe.settled(pilot)

        async def start() -> float:
            started = time.time()
            for pane in app.panes:
                app.toggle_pause(pane)
            return started

        started, ended = await _watched(app, probe, messages, start)
        return _result(app, probe, receivers, messages, ended - started)


async def steady_latency(url: str, receivers: int, seconds: float) -> dict[str, float]:
    """Publish-to-display at 20 msg/s: send time (header) to the first screen
    update after the UI drew the message."""
    exchange = f"bench-lat-{uuid.uuid4().hex[:8]}"
    app = dashboard(url, exchange, receivers)
    probe = Probe()
    drawn: list[tuple[float, float]] = []  # (perf_counter when drained, age then)
    async with app.run_test(size=SIZE):
        probe.attach(app)
        await until(lambda: all_in(app, receivers, WorkerState.CONSUMING), STARTUP_TIMEOUT)
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
        count = int(seconds * 20)
        publisher = Publisher(url, exchange, count, rate=20)
        await asyncio.to_thread(publisher.start)
        await until(lambda: pane.received >= count, seconds + 30)
        await asyncio.sleep(0.2)
        publisher.join()
    latencies = []
    for drained_at, age in drawn:
        shown = probe.shown_after(drained_at)
        if shown is not None:
            latencies.append(age + (shown - drained_at))
    return percentiles(latencies)


async def memory(url: str, deliveries: int, receivers: int, size: int) -> dict[str, Any]:
    """RSS sampled every 0.25 s while ``deliveries`` copies of ``size``-byte
    bodies are drawn over ``receivers`` panes."""
    exchange = f"bench-mem-{uuid.uuid4().hex[:8]}"
    messages = deliveries // receivers
    app = dashboard(url, exchange, receivers)
    samples: list[tuple[int, float]] = []
    async with app.run_test(size=SIZE):
        await until(lambda: all_in(app, receivers, WorkerState.CONSUMING), STARTUP_TIMEOUT)
        publisher = Publisher(url, exchange, messages, size=size)
        await asyncio.to_thread(publisher.start)
        while not all_drawn(app, messages):
            samples.append((sum(p.received for p in app.panes), rss_mb()))
            await asyncio.sleep(0.25)
        samples.append((sum(p.received for p in app.panes), rss_mb()))
        publisher.join()
        exact = all(p.received == messages for p in app.panes)
    peak = max(rss for _, rss in samples)
    half = [rss for got, rss in samples if got >= receivers * messages / 2]
    return {
        "deliveries": receivers * messages,
        "body_bytes": size,
        "counts_exact": exact,
        "samples": len(samples),
        "peak_rss_mb": round(peak, 1),
        "rss_at_half_mb": round(half[0], 1),
        "rss_at_end_mb": round(half[-1], 1),
        "growth_over_last_half_mb": round(max(half) - half[0], 1),
    }


def memory_main(url: str, deliveries: int, receivers: int, size: int, results: Any) -> None:
    """``memory`` in a process of its own (common.in_fresh_process)."""
    results.put(asyncio.run(memory(url, deliveries, receivers, size)))


async def startup(url: str, receivers: int, presses: int = 5) -> dict[str, Any]:
    """Launch to all receivers consuming; ctrl+n to the new receiver consuming
    (the worker's own report, stamped in its thread) and to the screen showing
    the new pane (Pilot.press returns once the screen has caught up)."""
    exchange = f"bench-start-{uuid.uuid4().hex[:8]}"
    launched = time.perf_counter()
    app = dashboard(url, exchange, receivers)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: all_in(app, receivers, WorkerState.CONSUMING), STARTUP_TIMEOUT, 0.001)
        all_consuming = time.perf_counter() - launched
        await asyncio.sleep(0.5)
        consuming, shown = [], []
        for _ in range(presses):
            pressed_wall, pressed = time.time(), time.perf_counter()
            await pilot.press("ctrl+n")
            shown.append(time.perf_counter() - pressed)
            newest = app.panes[-1]
            await until(lambda n=newest: n.state.state is WorkerState.CONSUMING, 30, 0.001)
            consuming.append(newest.state.at - pressed_wall)
            await asyncio.sleep(0.3)
    return {
        "receivers": receivers,
        "launch_to_all_consuming_ms": round(all_consuming * 1000, 1),
        "ctrl_n_to_consuming_ms": percentiles(consuming),
        "ctrl_n_to_screen_ms": percentiles(shown),
    }


async def launch(url: str, receivers: int) -> dict[str, Any]:
    """Launch (the App constructed) to every one of ``receivers`` consuming."""
    exchange = f"bench-launch-{uuid.uuid4().hex[:8]}"
    launched = time.perf_counter()
    app = dashboard(url, exchange, receivers)
    async with app.run_test(size=SIZE):
        await until(lambda: all_in(app, receivers, WorkerState.CONSUMING), STARTUP_TIMEOUT, 0.001)
        elapsed = time.perf_counter() - launched
    return {"receivers": receivers, "launch_to_all_consuming_ms": round(elapsed * 1000, 1)}
