"""Run the web server until SIGINT or SIGTERM, then end every session and stop.

The stop is bounded: each session is asked to quit and killed if it has not
within its grace (``session.py``), the sockets get a short close, and nothing
is left running when the event loop closes (so no "Event loop is closed" from
a subprocess transport collected after it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass

from aiohttp import web

from ..settings import Settings
from ..transport.broker import mask_url
from .server import DashboardServer

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
SOCKETS_CLOSE_WAIT = 0.5  # s: aiohttp's wait for handlers still running at cleanup


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    max_sessions: int = 8


def serve(settings: Settings, arguments: list[str], options: ServeOptions) -> int:
    try:
        return asyncio.run(_serve(settings, arguments, options))
    except KeyboardInterrupt:  # a Ctrl+C before the handlers were in place
        return 130


async def _serve(settings: Settings, arguments: list[str], options: ServeOptions) -> int:
    server = DashboardServer(
        settings,
        arguments,
        host=options.host,
        port=options.port,
        public_url=options.public_url,
        max_sessions=options.max_sessions,
    )
    runner = web.AppRunner(
        server.make_app(),
        handle_signals=False,
        access_log=None,
        shutdown_timeout=SOCKETS_CLOSE_WAIT,
    )
    await runner.setup()
    site = web.TCPSite(runner, options.host, options.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        server.remove_workdir()
        where = f"{options.host}:{options.port}"
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        print(f"fanout-tui: cannot listen on {where}: {reason}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    _announce(server, settings, options)
    try:
        await stop.wait()
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
        print("fanout-tui: stopping: ending every session", file=sys.stderr, flush=True)
        await server.close_sessions()
        await runner.cleanup()
        server.remove_workdir()
    return 0


def _announce(server: DashboardServer, settings: Settings, options: ServeOptions) -> None:
    address = options.public_url or f"http://{_url_host(options.host)}:{options.port}"
    broker = ", ".join(mask_url(url) for url in settings.urls)
    lines = [
        f"fanout-tui: serving the dashboard at {address}"
        + ("" if options.host in ("127.0.0.1", "localhost", "::1") else f" (on {options.host})"),
        f"  each browser tab is a dashboard of its own (at most {options.max_sessions} at once)"
        f" on exchange {settings.exchange!r} of {broker}",
        "  there is no login: anyone who can reach this port can publish with these broker "
        "credentials",
        "  press Ctrl+C to stop",
    ]
    print("\n".join(lines), flush=True)


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1" if host != "::" else "[::1]"
    return f"[{host}]" if ":" in host else host
