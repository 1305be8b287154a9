"""One browser tab's dashboard: an app process, started without a shell, ended in bounded time.

textual-serve's :class:`AppService` runs its command through a shell and, when
told to stop, waits for the app however long it takes. This subclass starts
``sys.executable -m fanout_tui`` directly with the session's own environment
(``_open_app_process``, the hook ``AppService.start`` calls: textual-serve has
no public one; ``tests/test_serve_compat.py`` fails if that changes), and ends
the process within :data:`QUIT_GRACE` + :data:`KILL_WAIT` seconds: asked to
quit first (receivers stopped, queues deleted), killed if it has not. A killed
app's exclusive queues still go: the broker deletes them when the process's
connections close, which the kernel does at its exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from asyncio.subprocess import PIPE, Process
from collections.abc import Awaitable, Callable

from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

QUIT_GRACE = 1.6  # s for the app to quit as ctrl+q does (it stops receivers within 2 s)
KILL_WAIT = 0.5  # s for the kernel to reap a killed process


class DashboardSession(AppService):
    def __init__(
        self,
        argv: list[str],
        environment: dict[str, str],
        *,
        write_bytes: Callable[[bytes], Awaitable[None]],
        write_str: Callable[[str], Awaitable[None]],
        close: Callable[[], Awaitable[None]],
        download_manager: DownloadManager,
    ) -> None:
        # The command string is only shown in textual-serve's log lines; no shell runs it.
        super().__init__(
            shlex.join(argv),
            write_bytes=write_bytes,
            write_str=write_str,
            close=close,
            download_manager=download_manager,
        )
        self.argv = argv
        self.environment = environment
        self.process: Process | None = None
        self.ended = asyncio.Event()  # the app process has exited and its output is read
        self._stopping: asyncio.Task[None] | None = None

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
        environment = self._build_environment(width=width, height=height)
        environment.update(self.environment)
        process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=PIPE, stdout=PIPE, stderr=PIPE, env=environment
        )
        assert process.stdin is not None
        # What the base class's own version sets, and its other methods read.
        self._process = process
        self._stdin = process.stdin
        self.process = process
        return process

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            if self.process is not None:
                await self.process.wait()
            self.ended.set()

    async def stop(self) -> None:
        """Ask the app to quit; kill it if it has not within the grace. Idempotent:
        the tab closing and the server stopping may both ask at once."""
        if self._stopping is None:
            self._stopping = asyncio.create_task(self._stop())
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        if self.process is None:
            return
        asking = asyncio.create_task(super().stop())  # the quit request, then its output
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.ended.wait()), QUIT_GRACE)
        if not self.ended.is_set() and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.ended.wait()), KILL_WAIT)
        with contextlib.suppress(TimeoutError, Exception):
            await asyncio.wait_for(asking, KILL_WAIT)
