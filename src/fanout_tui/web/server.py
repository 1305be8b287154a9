"""The web server: textual-serve's :class:`Server`, with a session limit, a
``Host`` check on every route (``hosts.py``), an origin check, and sessions
that run without a shell and end in bounded time.

Through its public surface: the route handlers are overridden (textual-serve
builds its :class:`AppService` inside ``handle_websocket``, so that handler is
this module's own), and the server is run by :func:`web.serve.run` rather than
``Server.serve``, which cannot end its sessions in bounded time.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import WSMsgType, web
from textual_serve.server import Server

from ..settings import Settings
from .hosts import host_check
from .session import DashboardSession
from .session_env import session_argv, session_environment

TEMPLATES = Path(__file__).parent / "templates"
WEBSOCKET_CLOSE_WAIT = 1.0  # s for a browser to answer the close of its socket


class DashboardServer(Server):
    def __init__(
        self,
        settings: Settings,
        arguments: list[str],
        *,
        host: str,
        port: int,
        public_url: str | None,
        max_sessions: int,
    ) -> None:
        super().__init__(
            "fanout-tui",
            host=host,
            port=port,
            title="fanout-tui",
            public_url=public_url,
            templates_path=TEMPLATES,
        )
        self.settings = settings
        self.arguments = arguments
        self.given_public_url = public_url  # None: each page from the address it was asked at
        self.max_sessions = max_sessions
        self.sessions: set[DashboardSession] = set()
        self.closing = False
        # Every session's data directory (its history) lives under here, and goes with it.
        self.workdir = Path(tempfile.mkdtemp(prefix="fanout-tui-serve-"))

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[host_check(self.host, self.given_public_url)])
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        app.add_routes(
            [
                web.get("/", self.handle_index, name="index"),
                web.get("/ws", self.handle_websocket, name="websocket"),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.static("/static", self.statics_path, name="static"),
            ]
        )
        return app

    # Refusals -------------------------------------------------------------------
    def refusal(self) -> str | None:
        """Why a new session cannot start now, or None."""
        if self.closing:
            return "This dashboard server is stopping."
        if len(self.sessions) >= self.max_sessions:
            many = f"{self.max_sessions} browser session{'s' if self.max_sessions != 1 else ''}"
            return (
                f"This dashboard server already has {many} open, its limit "
                f"(--max-sessions {self.max_sessions}). Close a tab that shows it, then reload."
            )
        return None

    def _base_url(self, request: web.Request) -> str:
        if self.given_public_url:
            return self.given_public_url
        return f"{request.scheme}://{request.host}"

    def origin_problem(self, request: web.Request) -> str | None:
        """A WebSocket has no same-origin rule: any web page a visitor opens could
        connect to this port and publish. Only this server's own page may."""
        origin = request.headers.get("Origin")
        if origin is None:
            return "no Origin header"
        allowed = {urlsplit(self._base_url(request)).netloc.lower(), request.host.lower()}
        if urlsplit(origin).netloc.lower() not in allowed:
            return f"a page from another origin ({origin})"
        # A foreign name pointed at 127.0.0.1 (DNS rebinding) passes the check
        # above; hosts.py's check, on every route, has refused it before this.
        return None

    # Handlers -------------------------------------------------------------------
    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        reason = self.refusal()
        if reason is not None:
            return web.Response(status=503, text=refusal_page(reason), content_type="text/html")
        base = self._base_url(request)
        scheme, _, rest = base.partition(":")
        context: dict[str, Any] = {
            "font_size": _int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"{'wss' if scheme == 'https' else 'ws'}:{rest}/ws",
            "config": {"static": {"url": f"{base}/static/"}},
            "application": {"name": self.title},
        }
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        problem = self.origin_problem(request)
        if problem is not None:
            raise web.HTTPForbidden(text=f"fanout-tui: refused: {problem}")
        websocket = web.WebSocketResponse(heartbeat=15, timeout=WEBSOCKET_CLOSE_WAIT)
        await websocket.prepare(request)
        reason = self.refusal()
        if reason is not None:
            # Shown in the page's terminal: more than a few bytes make it visible.
            await websocket.send_bytes(f"\r\n  {reason}\r\n".encode())
            await websocket.close()
            return websocket
        data_dir = Path(tempfile.mkdtemp(prefix="session-", dir=self.workdir))

        async def close() -> None:  # the app's "exit": its page says the session ended
            await websocket.close()

        session = DashboardSession(
            session_argv(self.arguments),
            session_environment(os.environ, self.settings, data_dir),
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=close,
            download_manager=self.download_manager,
        )
        self.sessions.add(session)
        closer: asyncio.Task[None] | None = None
        try:
            width = _int(request.query.get("width", "80"), 80)
            height = _int(request.query.get("height", "24"), 24)
            try:
                await session.start(width, height)
            except OSError as exc:  # the program could not be started at all
                text = f"\r\n  fanout-tui could not start: {exc.strerror or exc}\r\n"
                await websocket.send_bytes(text.encode())
                return websocket
            closer = asyncio.create_task(_close_when_ended(session, websocket))
            await _relay(websocket, session)
        except (asyncio.CancelledError, ConnectionError):
            pass
        finally:
            await session.stop()  # bounded: quit, else kill
            if closer is not None:
                closer.cancel()
            with contextlib.suppress(Exception):
                await websocket.close()
            self.sessions.discard(session)
            shutil.rmtree(data_dir, ignore_errors=True)
        return websocket

    async def close_sessions(self) -> None:
        """Refuse new sessions and end every open one (each within its bound)."""
        self.closing = True
        await asyncio.gather(*(s.stop() for s in list(self.sessions)), return_exceptions=True)

    def remove_workdir(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


async def _relay(websocket: web.WebSocketResponse, session: DashboardSession) -> None:
    """The browser's messages to the app: keys, size, focus (textual-serve's protocol)."""
    async for message in websocket:
        if message.type != WSMsgType.TEXT:
            continue
        try:
            kind, *rest = message.json()
        except (ValueError, TypeError):
            continue  # not the page's protocol: ignored, as textual-serve would fail on it
        data = rest[0] if rest else None
        if kind == "stdin" and isinstance(data, str):
            await session.send_bytes(data.encode("utf-8"))
        elif kind == "resize" and isinstance(data, dict):
            width, height = _int(data.get("width"), 80), _int(data.get("height"), 24)
            await session.set_terminal_size(width, height)
        elif kind == "ping":
            await websocket.send_json(["pong", data])
        elif kind == "blur":
            await session.blur()
        elif kind == "focus":
            await session.focus()


async def _close_when_ended(session: DashboardSession, websocket: web.WebSocketResponse) -> None:
    """An app that ended (quit, or failed) closes its page's socket: the page says
    'Session ended' rather than waiting for a screen that never comes."""
    await session.ended.wait()
    with contextlib.suppress(Exception):
        await websocket.close()


def refusal_page(reason: str) -> str:
    text = html.escape(reason)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>fanout-tui: not now</title>"
        "<style>body{background:#0c181f;color:#eee;font:16px monospace;padding:3em}</style>"
        f"</head><body><h1>fanout-tui</h1><p id='refusal'>{text}</p></body></html>"
    )


def _int(value: object, default: int) -> int:
    try:
        number = int(str(value))
    except ValueError:
        return default
    return number if 1 <= number <= 10_000 else default
