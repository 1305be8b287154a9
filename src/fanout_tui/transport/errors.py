"""Turn pika and socket exceptions into one-line reasons a person can act on.

Every message here may reach the screen, so none may contain a password:
callers pass the masked URL.
"""

from __future__ import annotations

import re
import socket
import ssl

import pika.exceptions as pex
from pika.adapters.utils.connection_workflow import AMQPConnectorStackTimeout

START_HINT = "start one with `docker compose up -d`"


class ExchangeTypeConflict(Exception):
    """The exchange exists with a type other than the one wanted.

    ``asked_by`` says where the wanted type came from, so the line can say what
    to change: the option or config entry that asked for it (``--exchange-type``,
    ``exchange_type in config file F``), or "" for the type the exchange had
    when fanout-tui connected (someone has since declared it again as another).
    """

    def __init__(
        self, exchange: str, wanted: str, current: str, asked_by: str = "--exchange-type"
    ) -> None:
        head = f"exchange {exchange!r} already exists as type {current!r}, not {wanted!r}"
        if asked_by:
            text = (
                f"{head} as {asked_by} asks (drop {asked_by} to use it as it is, "
                "or choose another --exchange)"
            )
        else:
            text = f"{head} as when fanout-tui connected (it was declared again as another type)"
        super().__init__(text)
        self.exchange = exchange
        self.wanted = wanted
        self.current = current
        self.asked_by = asked_by


class ExchangeUnusable(Exception):
    """An exchange no type or retry can make work (the default exchange)."""


_CURRENT_TYPE = re.compile(r"inequivalent arg 'type'.*current is '([^']*)'")


def type_conflict_from(
    exc: pex.ChannelClosedByBroker, exchange: str, wanted: str, asked_by: str = "--exchange-type"
) -> ExchangeTypeConflict | None:
    """The conflict a 406 on exchange.declare reports, if it is about the type."""
    match = _CURRENT_TYPE.search(exc.reply_text or "")
    if exc.reply_code == 406 and match:
        return ExchangeTypeConflict(exchange, wanted, match.group(1), asked_by)
    return None


class PathLost(Exception):
    """Nothing arrived on an open connection for longer than two heartbeat intervals."""

    def __init__(self, silence: float, heartbeat: float) -> None:
        super().__init__(
            f"no bytes from the broker for {silence:.1f}s (heartbeat {heartbeat:g}s): "
            "the network path is down"
        )


class AccessRefused(Exception):
    """The broker refused an operation for lack of a permission (403).

    RabbitMQ's reply names the resource but not the permission, which depends
    on the operation: the one the user must be granted is said here.
    """

    def __init__(self, permission: str, kind: str, name: str, user: str, vhost: str) -> None:
        who = f"user {user!r}" if user else "the user"
        super().__init__(
            f"access refused: {who} lacks the {permission!r} permission on {kind} {name!r} "
            f"in vhost {vhost!r} (rabbitmqctl set_permissions)"
        )
        self.permission = permission
        self.kind = kind
        self.name = name


_ACCESS = re.compile(
    r"access to (exchange|queue) '(.*)' in vhost '(.*)' refused for user '(.*)'", re.DOTALL
)

# (operation, resource the broker named) -> the permission that operation needs
# on it (RabbitMQ's access-control table).
_PERMISSIONS = {
    ("exchange.declare", "exchange"): "configure",
    ("queue.declare", "queue"): "configure",
    ("queue.bind", "queue"): "write",
    ("queue.bind", "exchange"): "read",
    ("basic.publish", "exchange"): "write",
    ("basic.consume", "queue"): "read",
}


def refused(exc: pex.ChannelClosedByBroker, operation: str) -> BaseException:
    """``exc`` as :class:`AccessRefused` when it is a 403 for ``operation``
    (an AMQP method name, e.g. ``basic.publish``); otherwise ``exc`` itself."""
    match = _ACCESS.search(exc.reply_text or "")
    if exc.reply_code != 403 or match is None:
        return exc
    kind, name, vhost, user = match.groups()
    permission = _PERMISSIONS.get((operation, kind))
    if permission is None:
        return exc
    return AccessRefused(permission, kind, name, user, vhost)


def _reply_text(text: str) -> str:
    """'ACCESS_REFUSED - Login was refused ...' -> 'Login was refused ...'."""
    return text.split(" - ", 1)[-1].strip()


def socket_reason(exc: BaseException) -> str | None:
    """Why a network connection failed, in a few words (None: not a socket error)."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"host name not found ({exc.strerror or exc})"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        # verify_message says why a certificate was refused ("self-signed certificate").
        detail = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or exc
        return f"TLS failed: {detail}"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return None


def _root_causes(exc: BaseException) -> list[BaseException]:
    """Unwrap pika's connection-workflow wrappers down to the socket errors."""
    found: list[BaseException] = []
    stack: list[BaseException] = [exc]
    while stack:
        item = stack.pop()
        inner = getattr(item, "exception", None)
        many = getattr(item, "exceptions", None)
        if isinstance(inner, BaseException):
            stack.append(inner)
        elif many:
            stack.extend(e for e in many if isinstance(e, BaseException))
        elif isinstance(item, pex.AMQPConnectionError) and item.args:
            nested = [a for a in item.args if isinstance(a, BaseException)]
            if nested:
                stack.extend(nested)
            else:
                found.append(item)
        else:
            found.append(item)
    return found


def describe_error(exc: BaseException, url: str = "", vhost: str = "/") -> str:
    """One line saying what went wrong; ``url`` must already be masked."""
    where = f" at {url}" if url else ""
    if isinstance(exc, ExchangeTypeConflict | ExchangeUnusable | AccessRefused):
        return str(exc)
    if isinstance(exc, PathLost):
        return f"connection lost{where}: {exc}"
    if isinstance(exc, pex.ProbableAuthenticationError | pex.AuthenticationError):
        return (
            f"login refused{where}: wrong user or password "
            "(note: 'guest' may only log in from localhost)"
        )
    if isinstance(exc, pex.ProbableAccessDeniedError):
        return (
            f"access to vhost {vhost!r} refused{where}: "
            "the vhost does not exist or the user may not use it"
        )
    if isinstance(exc, pex.ConnectionClosedByBroker):
        reply = _reply_text(exc.reply_text)
        return f"the broker closed the connection{where}: {reply} ({exc.reply_code})"
    if isinstance(exc, pex.ChannelClosedByBroker):
        return f"the broker refused: {_reply_text(exc.reply_text)} ({exc.reply_code})"
    if isinstance(exc, pex.AMQPHeartbeatTimeout):
        return f"the broker stopped answering heartbeats{where}"
    if isinstance(exc, pex.ConnectionBlockedTimeout):
        return f"the broker blocked the connection too long (memory or disk alarm){where}"
    if isinstance(exc, pex.StreamLostError):
        return f"connection lost{where}"
    if isinstance(exc, pex.IncompatibleProtocolError):
        return f"not an AMQP 0-9-1 broker{where} (wrong port, or TLS expected: try amqps://)"
    # A SelectConnection reports its handshake timeout as an aborted open
    # quoting the connector's reason; a BlockingConnection, as the timeout itself.
    handshake_timeout = isinstance(exc, pex.ConnectionOpenAborted) and "Timeout while" in str(exc)
    for cause in [exc] if handshake_timeout else _root_causes(exc):
        if handshake_timeout or isinstance(cause, AMQPConnectorStackTimeout):
            return (
                f"cannot reach the broker{where}: it accepted the connection but did not "
                f"complete the handshake in time (wrong port, or TLS expected?); {START_HINT}"
            )
        reason = socket_reason(cause)
        if reason:
            return f"cannot reach the broker{where}: {reason}; is RabbitMQ running? ({START_HINT})"
    if isinstance(exc, pex.AMQPConnectionError):
        return f"cannot connect{where}: {type(exc).__name__}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text
