"""The RabbitMQ management HTTP API, read-only: the bindings of an exchange.

AMQP cannot list bindings; the management plugin's HTTP API can, including
the queues of other programs bound to the exchange. It is optional: a broker
without the plugin (or a firewall in between) is reported with one line and
the caller falls back to what it knows itself.

Only the standard library is used. The password travels in the
``Authorization`` header, never in a URL, so no error text can contain it;
the URLs shown are credential-free (:attr:`ManagementSettings.shown_url`).
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from ..present.text import escape_text
from .broker import mask_url, raw_userinfo_problem, vhost_of
from .errors import socket_reason

DEFAULT_MANAGEMENT_PORT = 15672
DEFAULT_TIMEOUT = 2.0
# pika's defaults when the broker URL names no user.
DEFAULT_USER = "guest"
DEFAULT_PASSWORD = "guest"
# An exchange with very many bindings is still a few MiB of JSON; more is not an API answer.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
_REASON_LIMIT = 200

_SCHEMES = {"amqp": "http", "amqps": "https"}


class ManagementUrlError(ValueError):
    """A management URL that cannot be used; the message is one line, safe to show."""


class ManagementUnavailable(Exception):
    """The management API did not give the bindings.

    ``str(exc)`` is the reason: one line, no password, safe to show (e.g.
    ``connection refused``, ``HTTP 401: login refused for user 'guest'``).
    ``exc.url`` is the credential-free URL that was asked.
    """

    def __init__(self, reason: str, url: str = "", *, answered: bool = False) -> None:
        self.reason = _one_line(reason)
        self.url = url
        # The API was reached and said no (an HTTP error, an answer that is not
        # the bindings), as opposed to not being reached at all.
        self.answered = answered
        super().__init__(self.reason)


@dataclass(frozen=True)
class ManagementSettings:
    """Where the management API is and how to log in to it.

    ``url`` is the API's base (scheme, host, port and any path prefix) without
    credentials, e.g. ``http://localhost:15672``. ``vhost`` is the broker's
    virtual host whose exchange is asked about. The password is left out of
    ``repr`` so the settings can be logged.
    """

    url: str
    user: str = DEFAULT_USER
    password: str = field(default=DEFAULT_PASSWORD, repr=False)
    vhost: str = "/"

    @property
    def shown_url(self) -> str:
        """The URL to show a person: ``http://user@host:15672``, never the password."""
        parts = urlsplit(self.url)
        if not self.user:
            return self.url
        return urlunsplit(parts._replace(netloc=f"{quote(self.user, safe='')}@{parts.netloc}"))

    def authorization(self) -> str:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"


@dataclass(frozen=True)
class ExchangeBinding:
    """One row of ``rabbitmqctl list_bindings`` whose source is the exchange."""

    source: str
    destination: str
    destination_type: str  # "queue" or "exchange"
    routing_key: str


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def management_url_for(amqp_url: str) -> str:
    """The management API's default base URL for a broker URL.

    ``amqp://u:p@rabbit:5672/%2F`` gives ``http://rabbit:15672``; ``amqps://``
    gives ``https://``. Credentials are not part of the result (see
    :func:`management_settings`).
    """
    shown = mask_url(amqp_url)
    try:
        parts = urlsplit(amqp_url)
        host = parts.hostname
    except ValueError as exc:
        raise ManagementUrlError(f"malformed broker URL {shown!r}: {exc}") from None
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        raise ManagementUrlError(
            f"malformed broker URL {shown!r}: the scheme must be amqp:// or amqps://"
        )
    if not host:
        raise ManagementUrlError(f"malformed broker URL {shown!r}: no host name")
    return f"{scheme}://{_netloc(host, DEFAULT_MANAGEMENT_PORT)}"


def _credentials(url: str) -> tuple[str | None, str | None]:
    """The percent-decoded user and password of ``url`` (``None`` when absent).

    The user information runs to the last ``@`` before the path, so a raw
    ``@`` in a password does not cut it short.
    """
    rest = url.split("://", 1)[1] if "://" in url else url
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if "@" not in authority:
        return None, None
    userinfo = authority.rpartition("@")[0]
    user, sep, password = userinfo.partition(":")
    return unquote(user), (unquote(password) if sep else None)


def management_settings(amqp_url: str, management_url: str | None = None) -> ManagementSettings:
    """The management API settings for a broker URL.

    Without ``management_url`` the API is taken to be on the broker's host,
    port 15672 (:func:`management_url_for`). An explicit ``management_url``
    (``http://`` or ``https://``, possibly with a path prefix) may carry its own
    ``user:password@``; otherwise the broker URL's user and password are used,
    and RabbitMQ's ``guest``/``guest`` when it has none. The vhost is always
    the broker URL's.
    """
    amqp_user, amqp_password = _credentials(amqp_url)
    vhost = vhost_of(amqp_url)
    if management_url is None:
        base = management_url_for(amqp_url)
        user, password = amqp_user, amqp_password
    else:
        base = _validated_base(management_url)
        user, password = _credentials(management_url)
        if user is None:
            user, password = amqp_user, amqp_password
    if user is None:
        user, password = DEFAULT_USER, DEFAULT_PASSWORD
    return ManagementSettings(url=base, user=user, password=password or "", vhost=vhost)


def _validated_base(management_url: str) -> str:
    """``management_url`` without its credentials, query or trailing ``/``."""
    shown = mask_url(management_url)
    problem = raw_userinfo_problem(management_url)
    if problem:
        raise ManagementUrlError(f"malformed management URL {shown!r}: {problem}")
    rest = management_url.split("://", 1)[1] if "://" in management_url else ""
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    hostport = authority.rpartition("@")[2]
    scheme = management_url.split("://", 1)[0].lower() if "://" in management_url else ""
    if scheme not in ("http", "https"):
        raise ManagementUrlError(
            f"malformed management URL {shown!r}: the scheme must be http:// or https://"
        )
    path = rest[len(authority) :].split("?", 1)[0].split("#", 1)[0]
    try:
        parts = urlsplit(f"{scheme}://{hostport}{path}")
        port = parts.port
    except ValueError as exc:
        raise ManagementUrlError(f"malformed management URL {shown!r}: {exc}") from None
    if not parts.hostname:
        raise ManagementUrlError(f"malformed management URL {shown!r}: no host name")
    if port == 0:
        raise ManagementUrlError(f"malformed management URL {shown!r}: port 0")
    return urlunsplit((scheme, hostport, path.rstrip("/"), "", ""))


def validate_management_url(management_url: str) -> None:
    """Raise :class:`ManagementUrlError` with a one-line reason if it is unusable."""
    _validated_base(management_url)


# Talking to the API -----------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect could carry the Authorization header to another host: refuse it."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    text = escape_text(text)
    if len(text) > _REASON_LIMIT:
        text = text[:_REASON_LIMIT] + "…"
    return text


def _path(*segments: str) -> str:
    return "/" + "/".join(quote(s, safe="") for s in segments)


def _api_name(exchange: str) -> str:
    # The API calls the default exchange (name "") amq.default.
    return exchange or "amq.default"


def _error_reason(body: bytes) -> str:
    """The ``reason`` of the API's JSON error body, if it has one."""
    try:
        data = json.loads(body[:4096])
    except ValueError:
        return ""
    if isinstance(data, dict):
        reason = data.get("reason") or data.get("error")
        if isinstance(reason, str):
            return reason
    return ""


def _get(settings: ManagementSettings, path: str, timeout: float) -> Any:
    """GET ``path`` under the API and return the decoded JSON; HTTP errors raise
    :class:`urllib.error.HTTPError`, everything else :class:`ManagementUnavailable`."""
    url = settings.url + "/api" + path
    shown = settings.shown_url
    request = urllib.request.Request(
        url,
        headers={
            "Authorization": settings.authorization(),
            "Accept": "application/json",
            "User-Agent": "fanout-tui",
        },
    )

    def fail(reason: str, answered: bool = False) -> NoReturn:
        raise ManagementUnavailable(reason, shown, answered=answered) from None

    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError:
        raise
    except urllib.error.URLError as exc:
        fail(_describe_os_error(exc.reason, timeout))
    except (OSError, http.client.HTTPException) as exc:
        fail(_describe_os_error(exc, timeout))
    except ValueError as exc:  # e.g. a URL urllib cannot use
        fail(f"cannot ask {shown}: {exc}")
    if len(body) > MAX_RESPONSE_BYTES:
        fail(f"the answer is larger than {MAX_RESPONSE_BYTES // (1024 * 1024)} MiB", True)
    try:
        return json.loads(body)
    except ValueError:
        fail("the answer is not JSON (is this the RabbitMQ management API?)", True)


def _describe_os_error(error: object, timeout: float) -> str:
    """The HTTP-specific readings first, then the same socket reasons AMQP gives."""
    if isinstance(error, TimeoutError | socket.timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the rabbitmq_management plugin enabled?)"
    if isinstance(error, ConnectionResetError):
        return "the connection was reset (is this an HTTP port?)"
    if isinstance(error, http.client.RemoteDisconnected | http.client.BadStatusLine):
        return "the server did not answer HTTP (is this the management port?)"
    reason = socket_reason(error) if isinstance(error, BaseException) else None
    return reason or str(error) or type(error).__name__


def _describe_http_error(exc: urllib.error.HTTPError, settings: ManagementSettings) -> str:
    try:
        reason = _error_reason(exc.read(4096))
    except OSError:
        reason = ""
    code = exc.code
    # The API's own reason says most (e.g. "User not authorised to access virtual
    # host"); the guesses below are for when it gives none.
    if code == 401:
        return f"HTTP 401: login refused for user {settings.user!r}: " + (
            reason or "wrong password, or the user lacks the 'management' tag"
        )
    if code == 403:
        return f"HTTP 403: user {settings.user!r}: " + (
            reason or f"may not read vhost {settings.vhost!r}"
        )
    if code == 404:
        return "HTTP 404: not found (is this the RabbitMQ management API?)"
    if 300 <= code < 400:
        return f"HTTP {code}: the API answered with a redirect; give the final URL"
    return f"HTTP {code} {exc.reason}" + (f": {reason}" if reason else "")


def _ask(settings: ManagementSettings, path: str, timeout: float) -> Any:
    """:func:`_get` with HTTP errors described."""
    try:
        return _get(settings, path, timeout)
    except urllib.error.HTTPError as exc:
        raise _refused(exc, settings) from None


def _exists(settings: ManagementSettings, path: str, timeout: float) -> bool:
    try:
        _get(settings, path, timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return False
        raise _refused(exc, settings) from None
    return True


def _refused(exc: urllib.error.HTTPError, settings: ManagementSettings) -> ManagementUnavailable:
    reason = _describe_http_error(exc, settings)
    return ManagementUnavailable(reason, settings.shown_url, answered=True)


def list_bindings(
    settings: ManagementSettings, exchange: str, timeout: float = DEFAULT_TIMEOUT
) -> list[ExchangeBinding]:
    """Every binding whose source is ``exchange``, in the API's order
    (``GET /api/exchanges/{vhost}/{exchange}/bindings/source``).

    Raises :class:`ManagementUnavailable` with a one-line reason for anything
    that is not a list of bindings: no answer, a refused login, an exchange or
    vhost that does not exist, an answer that is not the API's. Each request
    waits at most ``timeout`` seconds; an empty list costs one or two more.
    """
    vhost = settings.vhost
    name = _api_name(exchange)
    shown = settings.shown_url
    data = _ask(settings, _path("exchanges", vhost, name, "bindings", "source"), timeout)
    # The API answers [] for an exchange or a vhost that does not exist;
    # asking for the exchange (and the vhost) tells them apart.
    if data == [] and not _exists(settings, _path("exchanges", vhost, name), timeout):
        if not _exists(settings, _path("vhosts", vhost), timeout):
            raise ManagementUnavailable(f"HTTP 404: no vhost {vhost!r}", shown, answered=True)
        raise ManagementUnavailable(
            f"HTTP 404: no exchange {exchange!r} in vhost {vhost!r}", shown, answered=True
        )
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ManagementUnavailable(
            "the answer is not a list of bindings (is this the RabbitMQ management API?)",
            shown,
            answered=True,
        )
    return [
        ExchangeBinding(
            source=str(item.get("source", exchange)),
            destination=str(item.get("destination", "")),
            destination_type=str(item.get("destination_type", "queue")),
            routing_key=str(item.get("routing_key", "")),
        )
        for item in data
    ]


def broker_version(settings: ManagementSettings, timeout: float = DEFAULT_TIMEOUT) -> str:
    """The RabbitMQ version the API's node reports (``GET /api/overview``).

    pika's BlockingConnection does not make the broker's connection.start
    properties public, so this is the way to ask without private attributes.
    Raises :class:`ManagementUnavailable` with a one-line reason when the API
    is not reached or its answer names no version.
    """
    data = _ask(settings, "/overview", timeout)
    version = data.get("rabbitmq_version") if isinstance(data, dict) else None
    if not isinstance(version, str) or not version:
        raise ManagementUnavailable(
            "the answer names no RabbitMQ version (is this the RabbitMQ management API?)",
            settings.shown_url,
            answered=True,
        )
    return escape_text(version)


def queue_nodes(settings: ManagementSettings, timeout: float = DEFAULT_TIMEOUT) -> dict[str, str]:
    """Which node each queue of the vhost lives on, by name
    (``GET /api/queues/{vhost}?columns=name,node``; a queue's ``node`` field).

    Raises :class:`ManagementUnavailable` like :func:`list_bindings`. Entries
    without a name or a node (a queue type that has none) are left out.
    """
    data = _ask(settings, _path("queues", settings.vhost) + "?columns=name,node", timeout)
    if not isinstance(data, list):
        raise ManagementUnavailable(
            "the answer is not a list of queues (is this the RabbitMQ management API?)",
            settings.shown_url,
            answered=True,
        )
    return {
        item["name"]: item["node"]
        for item in data
        if isinstance(item, dict)
        and isinstance(item.get("name"), str)
        and isinstance(item.get("node"), str)
    }


def exchange_type(
    settings: ManagementSettings, exchange: str, timeout: float = DEFAULT_TIMEOUT
) -> str | None:
    """The type of ``exchange`` in the settings' vhost, as the API says
    (``GET /api/exchanges/{vhost}/{exchange}``, its ``type`` field), or None
    when it cannot say: no answer, a refusal, no such exchange.

    For a user the broker would not tell over AMQP (no configure permission:
    the active declare that reads the type gets a 403 first). Never raises, so
    a caller in a thread of its own just shows what it got; the type is escaped
    (a plugin's type is any text the broker holds).
    """
    try:
        data = _ask(settings, _path("exchanges", settings.vhost, _api_name(exchange)), timeout)
    except ManagementUnavailable:
        return None
    found = data.get("type") if isinstance(data, dict) else None
    return escape_text(found) if isinstance(found, str) and found else None
