"""The numbers ``fanout-tui publish`` gives its messages, and how they read.

Every run of ``fanout-tui publish`` stamps the origin ``cli-HOST-PID`` and
takes its sequence numbers from one counter per user (a file in the data
directory, under a lock), so consecutive runs are ``cli#1``, ``cli#2``, … in
``listen`` and in the dashboard, rather than all ``#1`` (or ``ext``). The
counter is only a label: if the file cannot be used, a run numbers its
messages from 1 and still publishes.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from .locked_file import locked_json

CLI_ORIGIN_PREFIX = "cli-"


def cli_origin() -> str:
    return f"{CLI_ORIGIN_PREFIX}{socket.gethostname()}-{os.getpid()}"


def is_cli_origin(origin: str | None) -> bool:
    return origin is not None and origin.startswith(CLI_ORIGIN_PREFIX)


def reserve(path: Path, count: int) -> int:
    """The first of ``count`` numbers taken from the counter at ``path`` (1
    when it cannot be read or written)."""
    try:
        with locked_json(path) as counter:
            last = counter.get("last", 0)
            first = (last if isinstance(last, int) and last >= 0 else 0) + 1
            counter["last"] = first + count - 1
            return first
    except OSError:
        return 1
