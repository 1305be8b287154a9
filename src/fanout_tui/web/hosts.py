"""Which ``Host`` names the server answers, on every route.

A server listening on a loopback address answers loopback names only
(``localhost``, ``127.0.0.1``, ``[::1]``): a foreign name that reaches it is a
DNS name rebound to this machine, whose page would run as that site's and whose
URLs (the page writes the asked host into them) would lead back to it. Such a
request, and one with no ``Host`` at all, gets 421 Misdirected Request before
any handler runs. A server given ``--public-url`` (a proxy in front, which may
pass on a name of its own) or listening on another address answers any name;
its WebSocket still checks ``Origin`` (``server.py``).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import web

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler, Middleware


def is_loopback(name: str) -> bool:
    """Whether a host name or address is this machine's own loopback."""
    name = name.lower().removesuffix(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def host_problem(host: str | None, listen_host: str, public_url: str | None) -> str | None:
    """Why a request with this ``Host`` header is not for this server, or None."""
    if public_url or not is_loopback(listen_host):
        return None
    if host is None:
        return "a request without a Host header"
    try:
        name = urlsplit(f"//{host}").hostname or ""
    except ValueError:  # not a host[:port] at all
        name = ""
    if not is_loopback(name):
        shown = ascii(host)[1:-1][:100]  # a header is anyone's text: escaped, bounded
        return f"the host name {shown!r} is not this machine's (a loopback server)"
    return None


def host_check(listen_host: str, public_url: str | None) -> Middleware:
    """The aiohttp middleware that refuses a request whose ``Host`` is not this server's."""

    @web.middleware
    async def check_host(request: web.Request, handler: Handler) -> web.StreamResponse:
        problem = host_problem(request.headers.get("Host"), listen_host, public_url)
        if problem is not None:
            return web.Response(status=421, text=f"fanout-tui: refused: {problem}\n")
        return await handler(request)

    return check_host
