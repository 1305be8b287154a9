"""SIGTERM, SIGHUP and SIGINT quit the dashboard cleanly: the real program in tmux.

Run as a person runs it, in a terminal (a tmux pane on a server of its own),
against the session's private node. After the signal the terminal must be
back out of the alternate screen with the cursor shown and mouse tracking off,
the exit code must be 128 + the signal's number (README, exit codes), and the
receivers' exclusive queues must be gone from the broker.
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

import pytest
from helpers import unique_exchange, wait_for

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

FANOUT_TUI = Path(sys.executable).with_name("fanout-tui")


class Tmux:
    """A tmux server of this test's own (``-L``), never the user's."""

    def __init__(self) -> None:
        self.socket = f"fanout-test-{uuid.uuid4().hex[:8]}"

    def __call__(self, *args: str) -> str:
        command = ["tmux", "-L", self.socket, *args]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout

    def flag(self, name: str) -> str:
        return self("display-message", "-p", "-t", "app", f"#{{{name}}}").strip()


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    server = Tmux()
    yield server
    subprocess.run(["tmux", "-L", server.socket, "kill-server"], capture_output=True)


def server_named_queues(node: Any) -> set[str]:
    return {name for name in node.list_queues() if name.startswith("amq.gen-")}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_quit_signal_restores_the_terminal_and_deletes_the_queues(
    signum: signal.Signals, tmux: Tmux, broker_url: str, broker_node: Any, tmp_path: Path
) -> None:
    before = server_named_queues(broker_node)
    pid_file, exit_file = tmp_path / "pid", tmp_path / "exit"
    env = " ".join(
        f"{name}={shlex.quote(os.environ[name])}"
        for name in ("FANOUT_TUI_CONFIG", "FANOUT_TUI_DATA_DIR")
    )
    app = shlex.join(
        [str(FANOUT_TUI), "--url", broker_url, "--exchange", unique_exchange(), "--receivers", "3"]
    )
    script = (
        f"sh -c 'echo $$ > {pid_file}; exec env TERM=xterm-256color {env} {app}'; "
        # The shell stays alive after, so the pane keeps its modes to look at
        # (a dead pane reports no cursor); the fixture kills the server.
        f"echo EXIT=$? > {exit_file}; sleep 600"
    )
    tmux("new-session", "-d", "-s", "app", "-x", "120", "-y", "40", script)
    screen = ""

    def consuming() -> bool:
        nonlocal screen
        screen = tmux("capture-pane", "-p", "-t", "app")
        # The header, wide or narrow (a pane's border shows "0 recv" while it connects).
        return "3 receivers, 3 consuming" in screen or "3/3 consuming" in screen

    try:
        wait_for(consuming, timeout=30, what="the dashboard showing 3 consuming receivers")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the screen:\n{screen}") from None
    ours = server_named_queues(broker_node) - before
    assert len(ours) == 3, ours
    assert tmux.flag("alternate_on") == "1"  # the dashboard is on the alternate screen

    os.kill(int(pid_file.read_text()), signum)
    wait_for(lambda: exit_file.exists() and exit_file.read_text(), timeout=15, what="the exit")

    assert exit_file.read_text().strip() == f"EXIT={128 + signum}"
    assert tmux.flag("alternate_on") == "0"
    assert tmux.flag("cursor_flag") == "1"
    assert tmux.flag("mouse_any_flag") == "0"
    assert not ours & server_named_queues(broker_node)
