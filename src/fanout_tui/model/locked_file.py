"""A small JSON file several processes read and write in turn (``flock``).

Used for what the app keeps across runs and processes in the data directory:
the ledger of its queues (``ledger.py``) and the numbers ``fanout-tui
publish`` gives its messages (``cli_numbers.py``). A damaged file is read as
empty rather than stopping anything; an OSError is the caller's to report.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def locked_json(path: Path) -> Iterator[dict[str, Any]]:
    """The file's object, held under an exclusive lock and written back after."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        try:
            value = json.loads(handle.read() or "{}")
        except ValueError:
            value = {}  # a damaged file: start again rather than stop
        if not isinstance(value, dict):
            value = {}
        yield value
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(value, sort_keys=True))
