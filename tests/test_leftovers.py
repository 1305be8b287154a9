"""What a run of the app leaves on the broker, and what the next run does with it.

The first run is the real program in a tmux pane (its own process, so it can
be killed or quit and leave its pid behind); the second is the dashboard
under Pilot, which must recognise the first run's queues and bindings through
the ledger in the data directory (``model/ledger.py``). The broker's own view
(``rabbitmqctl``) is the judge.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest
from helpers import queue_exists, running_app, unique_exchange, until, wait_for

from fanout_tui.model.ledger import Ledger
from fanout_tui.model.receiver_spec import parse_spec
from fanout_tui.ui.widgets.receiver_pane import ReceiverPane

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

FANOUT_TUI = Path(sys.executable).with_name("fanout-tui")


@pytest.fixture
def tmux() -> Iterator[str]:
    socket = f"fanout-test-{uuid.uuid4().hex[:8]}"
    yield socket
    subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)


def first_run(tmux: str, tmp_path: Path, url: str, exchange: str, *specs: str) -> int:
    """The dashboard in tmux with ``specs``, once every pane consumes; its pid."""
    pid_file = tmp_path / "pid"
    env = " ".join(
        f"{name}={shlex.quote(os.environ[name])}"
        for name in ("FANOUT_TUI_CONFIG", "FANOUT_TUI_DATA_DIR")
    )
    receivers = [arg for spec in specs for arg in ("--receiver", spec)]
    app = shlex.join([str(FANOUT_TUI), "--url", url, "--exchange", exchange, *receivers])
    script = f"sh -c 'echo $$ > {pid_file}; exec env TERM=xterm-256color {env} {app}'"
    subprocess.run(
        ["tmux", "-L", tmux, "new-session", "-d", "-s", "app", "-x", "160", "-y", "48", script],
        check=True,
    )
    screen = ""

    def consuming() -> bool:
        nonlocal screen
        command = ["tmux", "-L", tmux, "capture-pane", "-p", "-t", "app"]
        screen = subprocess.run(command, capture_output=True, text=True).stdout
        n = len(specs)  # the header, wide or narrow
        return f"{n} receivers, {n} consuming" in screen or f"{n}/{n} consuming" in screen

    try:
        wait_for(consuming, timeout=30, what="the first run consuming")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the screen:\n{screen}") from None
    return int(pid_file.read_text())


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def bindings_of(node: Any, queue: str) -> set[str]:
    out = node.rabbitctl_output(
        "list_bindings", "source_name", "destination_name", "routing_key", "--quiet"
    )
    found = set()
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[1] == queue and parts[0]:
            found.add(f"{parts[0]} {parts[2]}")
    return found


def pane_text(app: Any) -> str:
    return "\n".join(line for pane in app.query(ReceiverPane) for line in pane.plain_lines())


async def test_queues_a_killed_run_created_are_deleted_by_the_next_run_at_quit(
    tmux: str, tmp_path: Path, broker_url: str, pika_connection: pika.BlockingConnection
) -> None:
    exchange = unique_exchange()
    names = durable, shared, stream = [f"left-{kind}-{uuid.uuid4().hex[:6]}" for kind in "dss"]
    specs = (f"durable:name={durable}", f"shared:name={shared}", f"stream:name={stream}")
    pid = first_run(tmux, tmp_path, broker_url, exchange, *specs)
    ledger = Path(os.environ["FANOUT_TUI_DATA_DIR"]) / "queues.json"
    assert ledger.read_text().count(f'"owner": "{pid}:') == 3  # the record it keeps
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: gone(pid), timeout=10, what="the first run gone")
    assert all(queue_exists(pika_connection, q) for q in names)  # it could not delete them

    parsed = tuple(parse_spec(spec) for spec in specs)
    async with running_app(
        broker_url, receivers=3, exchange=exchange, receiver_specs=parsed, timeout=30
    ) as (app, pilot):
        await until(
            pilot,
            lambda: pane_text(app).count(f"(pid {pid})") == 3,
            10,
            what="every pane saying its queue is a killed run's leftover",
        )
        assert f"queue {durable} was left by a run of fanout-tui that is gone" in pane_text(app)
    assert not any(queue_exists(pika_connection, q) for q in names)  # deleted at quit


async def test_a_queue_another_program_made_is_not_taken_for_a_leftover(
    broker_url: str, pika_connection: pika.BlockingConnection
) -> None:
    name = f"theirs-{uuid.uuid4().hex[:6]}"
    pika_connection.channel().queue_declare(name, durable=True)
    try:
        async with running_app(
            broker_url, receivers=1, receiver_specs=(parse_spec(f"durable:name={name}"),)
        ) as (app, _pilot):
            assert "was left by a run" not in pane_text(app)
        assert queue_exists(pika_connection, name)  # not ours: kept
    finally:
        pika_connection.channel().queue_delete(name)


async def test_a_kept_queue_reattached_with_other_keys_loses_the_old_binding_and_says_so(
    tmux: str,
    tmp_path: Path,
    broker_url: str,
    broker_node: Any,
    pika_connection: pika.BlockingConnection,
) -> None:
    exchange = unique_exchange()
    pika_connection.channel().exchange_declare(exchange, "topic")
    name = f"kept-{uuid.uuid4().hex[:6]}"
    pid = first_run(tmux, tmp_path, broker_url, exchange, f"durable:name={name},keep=yes,keys=a.*")
    subprocess.run(["tmux", "-L", tmux, "send-keys", "-t", "app", "C-q"], check=True)
    wait_for(lambda: gone(pid), timeout=10, what="the first run quit")
    assert bindings_of(broker_node, name) == {f"{exchange} a.*"}  # kept, as asked
    try:
        spec = parse_spec(f"durable:name={name},keep=yes,keys=b.*")
        async with running_app(
            broker_url, receivers=1, exchange=exchange, receiver_specs=(spec,)
        ) as (app, pilot):
            await until(
                pilot,
                lambda: "removed what an earlier run bound" in pane_text(app),
                10,
                what="the pane saying it removed the old binding",
            )
            assert "key 'a.*'" in pane_text(app)
            assert bindings_of(broker_node, name) == {f"{exchange} b.*"}
        assert queue_exists(pika_connection, name)  # keep=yes: still kept
    finally:
        broker_node.rabbitctl_output("delete_queue", name)


def test_bindings_a_running_process_claims_are_never_stale(tmp_path: Path) -> None:
    path = tmp_path / "queues.json"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        theirs, mine = Ledger(path, pid=other.pid), Ledger(path)
        a, b = {"exchange": "x", "routing_key": "a"}, {"exchange": "x", "routing_key": "b"}
        theirs.attached("c", "/", "q", existed=False, owns=True, wanted=[a])
        found = mine.attached("c", "/", "q", existed=True, owns=True, wanted=[b])
        assert found.stale == [] and found.leftover_of == 0  # the other still runs
        other.kill()
        other.wait(timeout=10)
        found = mine.attached("c", "/", "q", existed=True, owns=True, wanted=[b])
        assert found.stale == [a] and found.leftover_of == other.pid
    finally:
        other.kill()
        other.wait(timeout=10)
