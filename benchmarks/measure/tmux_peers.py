"""The app next to the usual way to watch a fanout, both in real terminals (tmux).

The peer: N copies of tutorial three's receive_logs.py (benchmarks/tutorial/),
one per tmux pane, tiled in a window of 200x60: what a person opens to watch a
fanout exchange without this app. The app: the ``fanout-tui`` command with N
receivers in a window of 200x60. Each side gets the same burst, one after the
other, and each is timed from the publisher's first publish to the moment
tmux's screen shows the last delivery everywhere:

  * a tutorial pane has shown it when its screen holds the burst's last body
    (bodies are numbered; a queue delivers in order, so it is the last line);
  * an app pane has shown it when its border reads the burst's count.

Both are read the same way, ``tmux capture-pane`` every POLL seconds for the
whole window in one tmux call, so neither side is observed more closely.
Nothing in the app is instrumented: this is what a person at the terminal sees.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from .common import median_pair
from .publisher import Publisher, body

SIZE = (200, 60)
POLL = 0.05  # seconds between screen reads: under 1% of a burst of several seconds
READY_TIMEOUT = 60.0
DONE_TIMEOUT = 600.0
RECEIVE_LOGS = Path(__file__).resolve().parent.parent / "tutorial" / "receive_logs.py"


def fanout_tui_command() -> list[str]:
    """The installed ``fanout-tui`` next to this interpreter, else the module."""
    script = Path(sys.executable).with_name("fanout-tui")
    return [str(script)] if script.exists() else [sys.executable, "-m", "fanout_tui"]


class Tmux:
    """A tmux server of the benchmark's own (``-L``, no config file), never the user's."""

    def __init__(self) -> None:
        if shutil.which("tmux") is None:
            raise RuntimeError("tmux is not installed")
        self.socket = f"fanout-bench-{uuid.uuid4().hex[:8]}"
        # The server outlives its sessions until kill(): by default it exits with
        # its last session, and the next new-session can reach it while it is
        # going away and fail ("server exited unexpectedly").
        self("start-server", ";", "set-option", "-g", "exit-empty", "off")

    def __call__(self, *args: str) -> str:
        command = ["tmux", "-L", self.socket, "-f", "/dev/null", *args]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout

    def panes(self, session: str) -> list[str]:
        return self("list-panes", "-t", session, "-F", "#{pane_id}").split()

    def screens(self, session: str, panes: list[str]) -> str:
        """Every pane's visible screen, in one tmux call."""
        args: list[str] = []
        for pane in panes:
            args += ["capture-pane", "-p", "-t", pane, ";"]
        return self(*args[:-1])

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def _wait(condition: Any, timeout: float, what: str) -> float:
    """Poll ``condition`` every POLL s; the wall time it first held."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return time.time()
        if time.monotonic() > deadline:
            raise TimeoutError(f"tmux: {what} not seen in {timeout:g} s")
        time.sleep(POLL)


def _environment(home: Path) -> dict[str, str]:
    """What the panes' programs run with: the app's config and data in a
    directory of the run's own, so no user's settings or history take part."""
    return {
        "TERM": "xterm-256color",
        "FANOUT_TUI_CONFIG": str(home / "config.toml"),
        "FANOUT_TUI_DATA_DIR": str(home / "data"),
    }


def _shell(env: dict[str, str], argv: list[str]) -> str:
    assigned = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    return f"exec env {assigned} {shlex.join(argv)}"


def tutorial_side(
    tmux: Tmux, url: str, receivers: int, messages: int, env: dict[str, str]
) -> float:
    """Seconds from the first publish to every tutorial pane showing the last body."""
    exchange = f"bench-peer-{uuid.uuid4().hex[:8]}"
    session = f"tutorial-{uuid.uuid4().hex[:6]}"
    command = _shell(env, [sys.executable, str(RECEIVE_LOGS), url, exchange])
    width, height = SIZE
    tmux("new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), command)
    try:
        for _ in range(receivers - 1):
            tmux("split-window", "-t", session, command)
            tmux("select-layout", "-t", session, "tiled")  # room for the next split
        panes = tmux.panes(session)
        if len(panes) != receivers:
            raise RuntimeError(f"tmux made {len(panes)} panes, not {receivers}")
        _wait(
            lambda: tmux.screens(session, panes).count("[*] Waiting for logs") == receivers,
            READY_TIMEOUT,
            "every tutorial receiver waiting",
        )
        last = f" [x] {body(messages)!r}"
        publisher = Publisher(url, exchange, messages)
        started = publisher.start()
        ended = _wait(
            lambda: tmux.screens(session, panes).count(last) == receivers,
            DONE_TIMEOUT,
            "the last message in every tutorial pane",
        )
        publisher.join()
        return ended - started
    finally:
        tmux("kill-session", "-t", session)


def app_side(tmux: Tmux, url: str, receivers: int, messages: int, env: dict[str, str]) -> float:
    """Seconds from the first publish to every app pane's border showing the count."""
    exchange = f"bench-tmuxapp-{uuid.uuid4().hex[:8]}"
    session = f"app-{uuid.uuid4().hex[:6]}"
    argv = [*fanout_tui_command(), "--url", url, "--exchange", exchange]
    command = _shell(env, [*argv, "--receivers", str(receivers)])
    width, height = SIZE
    tmux("new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), command)
    try:
        panes = tmux.panes(session)
        # A consuming pane's bottom border shows its count, " 0 recv · ...": no other
        # count ends in " 0" with a space before it.
        _wait(
            lambda: tmux.screens(session, panes).count(" 0 recv · ") == receivers,
            READY_TIMEOUT,
            f"the app showing {receivers} consuming receivers",
        )
        done = f" {messages:,} recv · "
        publisher = Publisher(url, exchange, messages)
        started = publisher.start()
        ended = _wait(
            lambda: tmux.screens(session, panes).count(done) == receivers,
            DONE_TIMEOUT,
            f"{messages:,} in every app pane",
        )
        publisher.join()
        return ended - started
    finally:
        tmux("kill-session", "-t", session)


def compare(url: str, receivers: int, messages: int, repeat: int) -> dict[str, Any]:
    """``repeat`` tutorial/app pairs, back to back; the median pair is reported."""
    tmux = Tmux()
    runs = []
    try:
        with tempfile.TemporaryDirectory(prefix="fanout-bench-") as home:
            env = _environment(Path(home))
            env["PATH"] = os.environ.get("PATH", "")
            for _ in range(repeat):
                peer = tutorial_side(tmux, url, receivers, messages, env)
                app = app_side(tmux, url, receivers, messages, env)
                # Deliveries per second on each side; the ratio is app / tutorial.
                runs.append((peer / app, receivers * messages / peer, receivers * messages / app))
    finally:
        tmux.kill()
    ratio, peer_rate, app_rate = median_pair(runs)
    return {
        "receivers": receivers,
        "messages": messages,
        "tutorial_per_s": round(peer_rate),
        "app_per_s": round(app_rate),
        "ratio": round(ratio, 3),
        "ratios_all": [round(r[0], 3) for r in runs],
    }
