"""Small helpers the tests share (import from here, not from conftest)."""

from __future__ import annotations

import importlib.util
import inspect
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pika

from fanout_tui.model.states import WorkerState

if TYPE_CHECKING:  # conftest imports this module: the pure tests need no Textual
    from textual.pilot import Pilot

    from fanout_tui.ui.app import FanoutApp
    from fanout_tui.ui.widgets.receiver_pane import ReceiverPane

# Waiting (the one bounded poll every test uses; never a fixed sleep) ----------


def _polls(condition: Callable[[], object], timeout: float, what: str | None) -> Iterator[None]:
    """Yield (for the caller to wait one interval) while ``condition`` is false;
    after ``timeout`` fail, naming what did not happen: ``what``, or the
    condition's source when the caller gave no words for it."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            if what is None:
                try:
                    what = " ".join(inspect.getsource(condition).split())[:200]
                except (OSError, TypeError):
                    what = getattr(condition, "__qualname__", repr(condition))
            raise AssertionError(f"timed out after {timeout}s waiting for: {what}")
        yield


def wait_for(
    condition: Callable[[], object],
    timeout: float = 10.0,
    interval: float = 0.02,
    *,
    what: str | None = None,
) -> None:
    """Poll ``condition`` until it is truthy; fail the test after ``timeout``."""
    for _ in _polls(condition, timeout, what):
        time.sleep(interval)


def stays(
    condition: Callable[[], object],
    seconds: float,
    interval: float = 0.01,
    *,
    what: str | None = None,
) -> None:
    """Poll ``condition`` for ``seconds``, failing at once if it stops holding
    (e.g. no more deliveries come: a duplicate would show within the window)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not condition():
            raise AssertionError(f"stopped holding: {what or 'the condition'}")
        time.sleep(interval)


async def until(
    pilot: Pilot[Any],
    condition: Callable[[], object],
    timeout: float = 15.0,
    interval: float = 0.05,
    *,
    what: str | None = None,
) -> None:
    """Let the app run until ``condition`` holds; fail the test after ``timeout``."""
    for _ in _polls(condition, timeout, what):
        await pilot.pause(interval)


def unique_exchange() -> str:
    """A fresh exchange name, so tests never see each other's messages."""
    return f"test-{uuid.uuid4().hex[:10]}"


# The dashboard, running ---------------------------------------------------------
# Every look the helpers take inside FanoutApp is in the three functions below
# and running_app, so a change of the App's API is adapted here, once.


def _consuming(pane: ReceiverPane) -> bool:
    return pane.state.state is WorkerState.CONSUMING


def all_consuming(app: FanoutApp) -> bool:
    """The app has receiver panes and every one of them consumes."""
    panes = app.panes
    return bool(panes) and all(_consuming(p) for p in panes)


def app_ready(app: FanoutApp, receivers: int) -> bool:
    """``receivers`` panes, all consuming, and the publisher connected."""
    panes = app.panes
    return (
        len(panes) == receivers
        and all(_consuming(p) for p in panes)
        and app.dashboard.publisher.state.state is WorkerState.READY
    )


@asynccontextmanager
async def running_app(
    url: str,
    *,
    receivers: int = 3,
    size: tuple[int, int] = (160, 48),
    exchange: str | None = None,
    timeout: float = 15.0,
    **settings: Any,
) -> AsyncIterator[tuple[FanoutApp, Pilot[None]]]:
    """The dashboard under Pilot with ``receivers`` panes, once every pane
    consumes and the publisher is connected (failing after ``timeout``).

    A fresh exchange unless ``exchange`` names one; ``settings`` go to Settings
    as they are (``scrollback=50``, ``management_url=...``).
    """
    from fanout_tui.settings import Settings  # here: conftest imports this module for every test
    from fanout_tui.ui.app import FanoutApp

    settings.setdefault("urls", (url,))  # several nodes: urls=(...) overrides ``url``
    app = FanoutApp(
        Settings(exchange=exchange or unique_exchange(), receivers=receivers, **settings)
    )
    async with app.run_test(size=size) as pilot:
        await until(
            pilot,
            lambda: app_ready(app, receivers),
            timeout,
            what=f"{receivers} receivers consuming and the publisher ready",
        )
        yield app, pilot


async def key_latencies(app: FanoutApp, pilot: Pilot[Any], presses: int) -> list[float]:
    """Seconds from a key event posted to the input's value changing, each of
    ``presses`` times (Pilot.press would wait for the app to go idle)."""
    from textual import events  # here: conftest imports this module for every test

    from fanout_tui.ui.widgets.publish_input import PublishInput

    box = app.query_one(PublishInput)
    app.screen.set_focus(box)
    took = []
    for _ in range(presses):
        before = len(box.value)
        started = time.monotonic()
        app.post_message(events.Key("x", "x"))
        await until(pilot, lambda before=before: len(box.value) > before, timeout=5, interval=0.002)
        took.append(time.monotonic() - started)
        await pilot.pause(0.05)
    box.value = ""
    return took


def queue_exists(connection: pika.BlockingConnection, queue: str) -> bool:
    """Passive declare: True if the queue exists, False on 404.

    Another connection's exclusive queue (a receiver's) answers 405
    RESOURCE_LOCKED to a passive declare; that counts as existing.
    """
    channel = connection.channel()
    try:
        channel.queue_declare(queue=queue, passive=True)
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == 404:
            return False
        if exc.reply_code == 405:
            # RESOURCE_LOCKED: it exists, exclusive to another connection.
            return True
        raise
    channel.close()
    return True


# Tutorial-style programs (RabbitMQ tutorial three, plain pika) -----------------


def emit_log(
    url: str,
    exchange: str,
    message: bytes | str = "info: Hello World!",
    properties: pika.BasicProperties | None = None,
) -> None:
    """What the tutorial's emit_log.py does: declare fanout, publish with routing key ""."""
    body = message.encode("utf-8") if isinstance(message, str) else message
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.exchange_declare(exchange=exchange, exchange_type="fanout")
        channel.basic_publish(exchange=exchange, routing_key="", body=body, properties=properties)
    finally:
        connection.close()


def bind_tutorial_queue(
    connection: pika.BlockingConnection, exchange: str, declare: bool = True
) -> tuple[Any, str]:
    """What the tutorial's receive_logs.py does before consuming: an exclusive
    server-named queue bound to the fanout exchange. Returns (channel, queue).

    ``declare=False`` for the built-in amq.* exchanges, which refuse a declare.
    """
    channel = connection.channel()
    if declare:
        channel.exchange_declare(exchange=exchange, exchange_type="fanout")
    queue = channel.queue_declare(queue="", exclusive=True).method.queue
    channel.queue_bind(exchange=exchange, queue=queue)
    return channel, queue


def consume(
    connection: pika.BlockingConnection,
    channel: Any,
    queue: str,
    count: int = 1,
    timeout: float = 10.0,
) -> list[tuple[Any, Any, bytes]]:
    """Consume with auto_ack until ``count`` messages arrived; fail after ``timeout``.

    Returns (method, properties, body) tuples.
    """
    got: list[tuple[Any, Any, bytes]] = []

    def on_message(_ch: Any, method: Any, properties: Any, body: bytes) -> None:
        got.append((method, properties, body))

    tag = channel.basic_consume(queue=queue, on_message_callback=on_message, auto_ack=True)
    deadline = time.monotonic() + timeout
    try:
        while len(got) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"got {len(got)} of {count} messages within {timeout}s")
            connection.process_data_events(time_limit=min(left, 0.2))
    finally:
        channel.basic_cancel(tag)
    return got


# Brokers that are not there ---------------------------------------------------


def closed_port() -> int:
    """A local TCP port nothing listens on (connecting is refused at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def silent_listener() -> socket.socket:
    """A socket that listens but never accepts nor answers: a TCP connect to it
    succeeds (the kernel queues it) and the AMQP handshake then hangs.
    The caller closes it, which resets the queued connections."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock


def renderer() -> ModuleType:
    """benchmarks/render_performance.py, imported (it is a script, not a package)."""
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "render_performance.py"
    spec = importlib.util.spec_from_file_location("render_performance", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module
