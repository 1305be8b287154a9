"""Publish history: the last messages typed, kept across runs.

One JSON value per line, so a message with any characters round-trips: a
string for a message published without a routing key (as every line was
before routing keys existed, so older files read as they are), an object
``{"text": ..., "routing_key": ...}`` for one with a key. An unreadable or
unwritable file never stops the app: ``error`` says why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

MAX_ENTRIES = 1000


class Entry(NamedTuple):
    text: str
    routing_key: str = ""

    def line(self) -> str:
        if not self.routing_key:
            return json.dumps(self.text) + "\n"
        return json.dumps({"text": self.text, "routing_key": self.routing_key}) + "\n"


def _entry(value: Any) -> Entry | None:
    """A line's value as an entry (None for anything else: a damaged line)."""
    if isinstance(value, str):
        return Entry(value)
    if isinstance(value, dict):
        text, key = value.get("text"), value.get("routing_key", "")
        if isinstance(text, str) and isinstance(key, str):
            return Entry(text, key)
    return None


class History:
    def __init__(self, path: Path, limit: int = MAX_ENTRIES) -> None:
        self.path = path
        self.limit = limit
        self.entries: list[Entry] = []
        self.error: str | None = None
        self._cursor: int | None = None  # index into entries while recalling
        self._file_lines = 0

    def load(self) -> None:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as exc:
            self.error = f"history not loaded from {self.path}: {_reason(exc)}"
            return
        self._file_lines = len(lines)
        entries = []
        for line in lines[-self.limit :]:
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue  # a damaged line costs that line, not the history
            entry = _entry(value)
            if entry is not None:
                entries.append(entry)
        self.entries = entries

    def add(self, text: str, routing_key: str = "") -> None:
        self._cursor = None
        entry = Entry(text, routing_key)
        if self.entries and self.entries[-1] == entry:
            return
        self.entries.append(entry)
        del self.entries[: -self.limit]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self._file_lines >= 2 * self.limit:
                # Appending is cheap; rewriting now and then keeps the file bounded.
                body = "".join(e.line() for e in self.entries)
                self.path.write_text(body, encoding="utf-8")
                self._file_lines = len(self.entries)
            else:
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(entry.line())
                self._file_lines += 1
            self.error = None
        except OSError as exc:
            self.error = f"history not saved to {self.path}: {_reason(exc)}"

    def previous(self) -> Entry | None:
        if not self.entries:
            return None
        self._cursor = len(self.entries) - 1 if self._cursor is None else max(0, self._cursor - 1)
        return self.entries[self._cursor]

    def next(self) -> Entry | None:
        """The next newer entry, or an empty one past the newest (back to an
        empty input and an empty routing key)."""
        if self._cursor is None:
            return None
        self._cursor += 1
        if self._cursor >= len(self.entries):
            self._cursor = None
            return Entry("")
        return self.entries[self._cursor]

    def reset(self) -> None:
        self._cursor = None


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)
