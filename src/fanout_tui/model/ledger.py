"""The queues this app created and the bindings it made, kept in a file.

A run that ends normally deletes the named queues it created (unless their
spec keeps them). A run that is killed (SIGKILL, a crash, a power cut) cannot,
and without a record the next run would find those queues, take them for
someone else's and never delete them; nor could it tell a binding an earlier
run made (and a changed spec no longer names) from one another program made.

The ledger is that record: one JSON file in the data directory, read and
written under an exclusive ``flock`` so several dashboards may share it. For
each queue (by broker, vhost and name) it keeps which process created it and
will delete it, and which bindings each process made. A process that no longer
runs has left its entries behind: the next run that attaches to the queue
takes over its ownership (so deletes it at quit, as the dead run would have)
and removes the bindings it made that the new spec does not name (bindings
a process still running claims are never touched).

Any file error makes the ledger say nothing (``error`` keeps why): it never
stops a receiver. The file holds no secrets: no URL, no user.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .locked_file import locked_json

Binding = dict[str, Any]  # queue_bind's keywords: routing_key, arguments


def process_start(pid: int) -> str:
    """Something that tells this process from a later one with the same pid
    (its start time in clock ticks since boot, on Linux; "" elsewhere)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # The command name (field 2) is in parentheses and may hold spaces.
    return stat.rsplit(")", 1)[-1].split()[19]


def process_runs(pid: int, start: str) -> bool:
    """Whether the process that wrote an entry still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it runs
    return not start or process_start(pid) in ("", start)


@dataclass
class Attached:
    """What the ledger found for a queue a receiver attached to."""

    leftover_of: int = 0  # the pid of a run that created it and is gone (0: none)
    stale: list[Binding] = field(default_factory=list)  # bindings of gone runs, not wanted


def _key(broker: str, vhost: str, queue: str) -> str:
    return json.dumps([broker, vhost, queue])


class Ledger:
    def __init__(self, path: Path, pid: int | None = None) -> None:
        self.path = path
        self.pid = os.getpid() if pid is None else pid
        self.start = process_start(self.pid)
        self.error: str | None = None
        self._lock = threading.Lock()  # one thread of this process at a time

    @contextlib.contextmanager
    def _entries(self) -> Iterator[dict[str, Any]]:
        """The file's entries, read and written back under the locks."""
        with self._lock, locked_json(self.path) as entries:
            yield entries

    def _me(self) -> str:
        return f"{self.pid}:{self.start}"

    @staticmethod
    def _runs(who: str) -> bool:
        pid, _, start = who.partition(":")
        return pid.isdigit() and process_runs(int(pid), start)

    def attached(
        self,
        broker: str,
        vhost: str,
        queue: str,
        *,
        existed: bool,
        owns: bool,
        wanted: list[Binding],
    ) -> Attached:
        """A receiver declared ``queue`` (``existed``: it was there before) and
        bound ``wanted``. ``owns``: the receiver will delete the queue at quit
        if it created it (a spec that keeps it does not). Records what this
        process now owns and bound; returns what gone runs left."""
        found = Attached()
        try:
            with self._entries() as entries:
                entry = entries.setdefault(_key(broker, vhost, queue), {})
                owner = entry.get("owner", "") if existed else ""  # declared anew: none
                if owner and owner != self._me() and not self._runs(owner):
                    # Left by a run that is gone: this one owns it now, unless
                    # its spec keeps the queue (then nobody deletes it).
                    if owns:
                        found.leftover_of = int(owner.partition(":")[0])
                    owner = ""
                if owns and not owner and (not existed or found.leftover_of):
                    owner = self._me()
                entry["owner"] = owner
                claims: dict[str, list[Binding]] = entry.setdefault("bindings", {})
                live: list[Binding] = list(wanted)
                gone: list[Binding] = []
                for who, made in list(claims.items()):
                    if who == self._me() or self._runs(who):
                        live.extend(made)
                    else:
                        gone.extend(made)
                        del claims[who]
                if existed:
                    found.stale = [b for i, b in enumerate(gone) if b not in live + gone[:i]]
                mine = claims.setdefault(self._me(), [])
                mine.extend(b for b in wanted if b not in mine)
        except OSError as exc:
            self.error = f"queue record not kept in {self.path}: {exc.strerror or exc}"
        return found

    def rebound(self, broker: str, vhost: str, queue: str, added: list[Binding]) -> None:
        """This process bound ``added`` too (a binding edit): a later run may
        remove them if this one is gone. Unbinding is not recorded: a binding
        kept in the record that is no longer there is unbound again harmlessly."""
        with contextlib.suppress(OSError), self._entries() as entries:
            entry = entries.setdefault(_key(broker, vhost, queue), {})
            mine = entry.setdefault("bindings", {}).setdefault(self._me(), [])
            mine.extend(b for b in added if b not in mine)

    def deleted(self, broker: str, vhost: str, queue: str) -> None:
        """The queue was deleted: nothing of it is left to take over."""
        with contextlib.suppress(OSError), self._entries() as entries:
            entries.pop(_key(broker, vhost, queue), None)
