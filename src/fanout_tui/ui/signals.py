"""Signals that quit the dashboard as the quit key does: workers stopped, queues
gone, the terminal restored. The exit code is then 128 + the signal's number,
as a shell reports it."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

QUIT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def quit_on_signals(quit: Callable[[int], None]) -> None:
    """Call ``quit(signum)`` on the running event loop when one arrives: not in
    the signal handler itself, so it may do anything a callback may."""
    loop = asyncio.get_running_loop()
    for signum in QUIT_SIGNALS:
        loop.add_signal_handler(signum, quit, signum)
