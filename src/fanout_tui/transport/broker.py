"""Broker settings: URLs, exchange, heartbeat, and the masked form of a URL.

The password must never reach the screen, a log or an error message, so every
place that names a broker uses :func:`mask_url`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import pika

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"
DEFAULT_EXCHANGE = "logs"
EXCHANGE_TYPE = "fanout"  # what a missing exchange is created as, unless asked otherwise
EXCHANGE_TYPES = ("fanout", "direct", "topic", "headers")
# Seconds between heartbeats. A watching tool must notice a silent path soon:
# RabbitMQ's guidance is 5 to 20 s, and a dead path is declared after two
# intervals without a byte, so 10 s means noticed within about 20 s.
DEFAULT_HEARTBEAT = 10
# How long a connection attempt may take before it counts as failed; short so a
# worker notices a stop request soon even while the broker is unreachable.
CONNECT_TIMEOUT = 5.0

_URL_SCHEMES = ("amqp", "amqps")


class BrokerUrlError(ValueError):
    """A broker URL that cannot be used; the message is safe to show."""


# Scheme, then the user information up to the LAST "@": a password with a raw
# "/", "?" or "#" fools urlsplit, and masking too much is always safe.
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)(.*)@(.*)$", re.DOTALL)
_UNSAFE_IN_PASSWORD = "/?#"


def _split_userinfo(url: str) -> tuple[str, str, str] | None:
    match = _USERINFO.match(url)
    return (match.group(1), match.group(2), match.group(3)) if match else None


def mask_url(url: str) -> str:
    """Return ``url`` with its password replaced by ``***``.

    Works on malformed URLs too, because it is used in the messages that
    report them.
    """
    found = _split_userinfo(url)
    if found is None:
        return url
    scheme, userinfo, rest = found
    if ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}{user}:***@{rest}"


def node_of(url: str) -> str:
    """``host:port`` of a (masked or not) URL, to say which node is in use."""
    found = _split_userinfo(url)
    rest = found[2] if found else url.split("://", 1)[-1]
    return rest.split("/", 1)[0].split("?", 1)[0]


def vhost_of(url: str) -> str:
    path = urlsplit(url).path
    return unquote(path[1:].split("/")[0]) if len(path) > 1 else "/"


def raw_userinfo_problem(url: str) -> str:
    """Why ``url``'s user information cannot be parsed ("" if it can).

    A raw '/', '?' or '#' in a password ends the authority early, so a parser
    would quote part of the password as a port or path: checked first, for
    broker and management URLs alike, and the reason never quotes it.
    """
    found = _split_userinfo(url)
    if found is not None and any(ch in found[1] for ch in _UNSAFE_IN_PASSWORD):
        return (
            "the user or password contains a raw '/', '?' or '#'; percent-encode it (%2F, %3F, %23)"
        )
    return ""


def validate_url(url: str) -> None:
    """Raise :class:`BrokerUrlError` with a one-line reason if ``url`` is unusable."""
    shown = mask_url(url)
    problem = raw_userinfo_problem(url)
    if problem:
        raise BrokerUrlError(f"malformed broker URL {shown!r}: {problem}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BrokerUrlError(f"malformed broker URL {shown!r}: {exc}") from None
    if parts.scheme.lower() not in _URL_SCHEMES:
        raise BrokerUrlError(
            f"malformed broker URL {shown!r}: the scheme must be amqp:// or amqps://"
        )
    if not parts.hostname:
        raise BrokerUrlError(f"malformed broker URL {shown!r}: no host name")
    if port == 0:
        raise BrokerUrlError(f"malformed broker URL {shown!r}: port 0")
    try:
        pika.URLParameters(_with_empty_password(url))
    except (ValueError, TypeError) as exc:
        # pika's messages may quote the URL's query values, never the password.
        raise BrokerUrlError(f"malformed broker URL {shown!r}: {exc}") from None


@dataclass(frozen=True)
class BrokerSettings:
    """Where to connect and which exchange to use."""

    urls: tuple[str, ...] = (DEFAULT_URL,)
    exchange: str = DEFAULT_EXCHANGE
    # The type the user asked for (--exchange-type); None: whatever type the
    # exchange has, and a fanout when it has to be created.
    exchange_type: str | None = None
    # Where exchange_type came from, for a conflict's words: the option, or the
    # config file's entry.
    exchange_type_from: str = field(default="--exchange-type", compare=False)
    heartbeat: int = DEFAULT_HEARTBEAT
    connect_timeout: float = CONNECT_TIMEOUT
    # Extra client properties (shown as the connection name in the management UI).
    connection_name: str = field(default="fanout-tui")

    def __post_init__(self) -> None:
        if not self.urls:
            raise BrokerUrlError("no broker URL given")
        for url in self.urls:
            validate_url(url)

    @property
    def masked_urls(self) -> tuple[str, ...]:
        return tuple(mask_url(u) for u in self.urls)

    def spread(self, index: int) -> BrokerSettings:
        """These settings with the URL list rotated to start at node ``index``
        (modulo the number of nodes), for ``--spread``: receiver i starts on
        node i and, when that node is lost, moves on to node i + 1, and so on
        round the list, so one lost node never sends every worker to the same
        first URL."""
        start = index % len(self.urls)
        return replace(self, urls=self.urls[start:] + self.urls[:start])

    def parameters(self, url: str, connection_name: str | None = None) -> pika.URLParameters:
        """pika connection parameters for ``url`` with our timeouts applied."""
        params = pika.URLParameters(_with_empty_password(url))
        params.heartbeat = self.heartbeat
        # A broker that blocks us (memory or disk alarm) must not hang a worker forever.
        params.blocked_connection_timeout = max(float(self.heartbeat), 10.0)
        params.socket_timeout = self.connect_timeout
        # The whole bring-up (TCP, TLS, AMQP handshake): a peer that accepts but
        # never answers is given up on in bounded time.
        params.stack_timeout = self.connect_timeout
        params.connection_attempts = 1
        params.client_properties = {"connection_name": connection_name or self.connection_name}
        return params


def _with_empty_password(url: str) -> str:
    """pika cannot handle ``amqp://user@host``; give it an explicit empty password."""
    parts = urlsplit(url)
    if parts.username is not None and parts.password is None:
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{quote(unquote(parts.username))}:@{host}"))
    return url
