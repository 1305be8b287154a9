"""Publish history: the last messages typed, kept across runs.

One JSON string per line, so a message with any characters round-trips. An
unreadable or unwritable file never stops the app: ``error`` says why.
"""

from __future__ import annotations

import json
from pathlib import Path

MAX_ENTRIES = 1000


class History:
    def __init__(self, path: Path, limit: int = MAX_ENTRIES) -> None:
        self.path = path
        self.limit = limit
        self.entries: list[str] = []
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
            if isinstance(value, str):
                entries.append(value)
        self.entries = entries

    def add(self, text: str) -> None:
        self._cursor = None
        if self.entries and self.entries[-1] == text:
            return
        self.entries.append(text)
        del self.entries[: -self.limit]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self._file_lines >= 2 * self.limit:
                # Appending is cheap; rewriting now and then keeps the file bounded.
                body = "".join(json.dumps(e) + "\n" for e in self.entries)
                self.path.write_text(body, encoding="utf-8")
                self._file_lines = len(self.entries)
            else:
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(text) + "\n")
                self._file_lines += 1
            self.error = None
        except OSError as exc:
            self.error = f"history not saved to {self.path}: {_reason(exc)}"

    def previous(self) -> str | None:
        if not self.entries:
            return None
        self._cursor = len(self.entries) - 1 if self._cursor is None else max(0, self._cursor - 1)
        return self.entries[self._cursor]

    def next(self) -> str | None:
        """The next newer entry, or "" past the newest (back to an empty input)."""
        if self._cursor is None:
            return None
        self._cursor += 1
        if self._cursor >= len(self.entries):
            self._cursor = None
            return ""
        return self.entries[self._cursor]

    def reset(self) -> None:
        self._cursor = None


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)
