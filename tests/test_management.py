"""The management HTTP API client: settings from a broker URL, and the bindings of
an exchange read from a real node with the management plugin (never a mock)."""

from __future__ import annotations

import base64
import json
import socket
import threading
import urllib.request
import uuid
from typing import Any
from urllib.parse import quote

import pika
import pytest
from helpers import bind_tutorial_queue, closed_port
from hypothesis import given
from hypothesis import strategies as st

from fanout_tui.transport.management import (
    DEFAULT_MANAGEMENT_PORT,
    ExchangeBinding,
    ManagementSettings,
    ManagementUnavailable,
    ManagementUrlError,
    broker_version,
    list_bindings,
    management_settings,
    management_url_for,
)

SECRET = "Hush-Mgmt-Pw-42"

# Settings from URLs -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("amqp_url", "api_url"),
    [
        ("amqp://guest:guest@localhost:5672/%2F", "http://localhost:15672"),
        ("amqps://user:pw@rabbit.example:5671/prod", "https://rabbit.example:15672"),
        ("AMQP://u:p@Rabbit/", "http://rabbit:15672"),
        ("amqp://localhost", "http://localhost:15672"),
        ("amqp://u:p@[::1]:5672/%2F", "http://[::1]:15672"),
        ("amqp://u:p@10.0.0.7:5673/x?heartbeat=10", "http://10.0.0.7:15672"),
    ],
)
def test_management_url_for(amqp_url: str, api_url: str) -> None:
    assert management_url_for(amqp_url) == api_url
    assert DEFAULT_MANAGEMENT_PORT == 15672


def test_settings_take_the_broker_urls_credentials_and_vhost() -> None:
    settings = management_settings("amqps://admin:p%40ss%2Fw%3Ard%23@rabbit:5671/prod%2Fa")
    assert settings == ManagementSettings(
        url="https://rabbit:15672", user="admin", password="p@ss/w:rd#", vhost="prod/a"
    )
    assert management_settings("amqp://localhost:5672/%2F") == ManagementSettings(
        url="http://localhost:15672", user="guest", password="guest", vhost="/"
    )
    assert management_settings("amqp://bob@localhost/").password == ""
    # A raw "@" in the password (masked as such elsewhere too) still counts as password.
    assert management_settings("amqp://u:p@ss@host/%2F").password == "p@ss"


def test_an_explicit_url_with_its_own_credentials() -> None:
    settings = management_settings(
        "amqp://app:apppw@rabbit:5672/prod",
        "https://ops:ops%21pw@mgmt.example:8443/rabbitmq/?ignored=1",
    )
    assert settings == ManagementSettings(
        url="https://mgmt.example:8443/rabbitmq", user="ops", password="ops!pw", vhost="prod"
    )


def test_an_explicit_url_without_credentials_uses_the_brokers() -> None:
    settings = management_settings("amqp://app:a%20pw@rabbit/%2F", "http://127.0.0.1:8080")
    assert (settings.url, settings.user, settings.password) == (
        "http://127.0.0.1:8080",
        "app",
        "a pw",
    )


def test_the_password_is_never_shown() -> None:
    settings = management_settings(f"amqp://guest:{SECRET}@rabbit/%2F")
    assert SECRET not in repr(settings)
    assert settings.shown_url == "http://guest@rabbit:15672"
    assert SECRET not in settings.shown_url
    explicit = management_settings("amqp://rabbit/", f"http://ops:{SECRET}@mgmt:15672/")
    assert SECRET not in repr(explicit) + explicit.shown_url + explicit.url


@given(password=st.text(max_size=20).map(lambda s: "Pw~" + s))
def test_any_percent_encoded_password_comes_back(password: str) -> None:
    encoded = quote(password, safe="")
    settings = management_settings(f"amqp://u:{encoded}@rabbit/%2F")
    assert settings.password == password
    assert encoded not in settings.shown_url + repr(settings)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (f"ftp://u:{SECRET}@mgmt/", "http:// or https://"),
        (f"amqp://u:{SECRET}@mgmt:15672/", "http:// or https://"),
        ("mgmt:15672", "http:// or https://"),
        (f"http://u:{SECRET}@:15672/", "no host name"),
        (f"http://u:{SECRET}@mgmt:99999/", "Port out of range"),
        (f"http://u:{SECRET}@mgmt:port/", "Port could not be cast"),
        (f"http://u:{SECRET}@mgmt:0/", "port 0"),
    ],
)
def test_a_bad_management_url_is_one_line_without_the_password(url: str, words: str) -> None:
    with pytest.raises(ManagementUrlError) as info:
        management_settings("amqp://localhost/", url)
    message = str(info.value)
    assert message.startswith("malformed management URL ")
    assert words in message
    assert SECRET not in message
    assert "\n" not in message


def test_a_bad_broker_url_cannot_give_a_management_url() -> None:
    with pytest.raises(ManagementUrlError) as info:
        management_url_for(f"http://u:{SECRET}@rabbit/")
    assert SECRET not in str(info.value)


# Against a node with the management plugin -----------------------------------------


def test_lists_a_queue_bound_by_another_pika_program(
    management_node: Any, node_connection: pika.BlockingConnection, exchange: str
) -> None:
    settings = management_settings(management_node.amqp_url, management_node.api_url)
    _, first = bind_tutorial_queue(node_connection, exchange)
    _, second = bind_tutorial_queue(node_connection, exchange)
    channel = node_connection.channel()
    channel.queue_bind(queue=second, exchange=exchange, routing_key="")
    found = list_bindings(settings, exchange)
    assert sorted(found, key=lambda b: (b.destination, b.routing_key)) == sorted(
        [
            # pika binds with the queue's name when no routing key is given.
            ExchangeBinding(exchange, first, "queue", first),
            ExchangeBinding(exchange, second, "queue", second),
            ExchangeBinding(exchange, second, "queue", ""),
        ],
        key=lambda b: (b.destination, b.routing_key),
    )


def test_an_exchange_with_no_bindings_and_exchange_to_exchange_bindings(
    management_node: Any, node_connection: pika.BlockingConnection, exchange: str
) -> None:
    settings = management_settings(management_node.amqp_url, management_node.api_url)
    channel = node_connection.channel()
    channel.exchange_declare(exchange=exchange, exchange_type="fanout")
    assert list_bindings(settings, exchange) == []
    channel.exchange_declare(exchange=f"{exchange}-dest", exchange_type="fanout")
    channel.exchange_bind(destination=f"{exchange}-dest", source=exchange, routing_key="k")
    assert list_bindings(settings, exchange) == [
        ExchangeBinding(exchange, f"{exchange}-dest", "exchange", "k")
    ]
    channel.exchange_delete(f"{exchange}-dest")
    channel.exchange_delete(exchange)


def test_a_missing_exchange_or_vhost_is_named(management_node: Any, exchange: str) -> None:
    settings = management_settings(management_node.amqp_url, management_node.api_url)
    with pytest.raises(ManagementUnavailable) as info:
        list_bindings(settings, exchange)
    assert str(info.value) == f"HTTP 404: no exchange '{exchange}' in vhost '/'"
    other = management_settings(
        management_node.amqp_url.replace("/%2F", "/no-such-vhost"), management_node.api_url
    )
    with pytest.raises(ManagementUnavailable) as info:
        list_bindings(other, exchange)
    assert str(info.value) == "HTTP 404: no vhost 'no-such-vhost'"


def test_wrong_password_is_a_one_line_401(management_node: Any, exchange: str) -> None:
    url = management_node.amqp_url.replace("guest:guest@", f"guest:{SECRET}@")
    settings = management_settings(url, management_node.api_url)
    with pytest.raises(ManagementUnavailable) as info:
        list_bindings(settings, "amq.fanout")
    message = str(info.value)
    assert message.startswith("HTTP 401: login refused for user 'guest'")
    assert "\n" not in message
    assert SECRET not in message + info.value.url
    assert info.value.url == management_node.api_url.replace("http://", "http://guest@")


def test_a_path_that_is_not_the_api(management_node: Any) -> None:
    settings = management_settings(management_node.amqp_url, management_node.api_url + "/nope")
    # RabbitMQ's web server answers 400 for a path it does not know.
    with pytest.raises(ManagementUnavailable, match=r"^HTTP 40[04]"):
        list_bindings(settings, "amq.fanout")


# Without an API ------------------------------------------------------------------------


def one_line_failure(settings: ManagementSettings, timeout: float = 2.0) -> str:
    with pytest.raises(ManagementUnavailable) as info:
        list_bindings(settings, "logs", timeout=timeout)
    message = str(info.value)
    assert message
    assert "\n" not in message
    assert "Traceback" not in message
    return message


def test_a_closed_port_is_connection_refused() -> None:
    port = closed_port()
    settings = management_settings(
        f"amqp://guest:{SECRET}@127.0.0.1/%2F", f"http://127.0.0.1:{port}"
    )
    message = one_line_failure(settings)
    assert message.startswith("connection refused")
    assert SECRET not in message


def test_a_silent_server_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        settings = management_settings("amqp://localhost/", f"http://127.0.0.1:{port}")
        assert one_line_failure(settings, timeout=0.3) == "no answer within 0.3 s"


class _OneAnswer:
    """A local TCP server that answers each connection with fixed bytes."""

    def __init__(self, answer: bytes) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.05)  # so the loop sees close() soon
        self.port = self.sock.getsockname()[1]
        self.answer = answer
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                conn.recv(65536)
                conn.sendall(self.answer)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        self.sock.close()


def http_answer(status: str, body: bytes, *headers: str) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers, "", ""]
    return "\r\n".join(head).encode() + body


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (http_answer("200 OK", b"<html>hi</html>", "Content-Type: text/html"), "is not JSON"),
        (http_answer("200 OK", b'{"not": "it"}'), "the answer is not a list of bindings"),
        (http_answer("200 OK", b"[1, 2]"), "the answer is not a list of bindings"),
        (b"AMQP\x00\x00\x09\x01", "did not answer HTTP"),
        (
            http_answer("302 Found", b"", "Location: http://elsewhere.example/"),
            "HTTP 302: the API answered with a redirect",
        ),
        (
            http_answer("500 Oops", b'{"error":"x","reason":"bad\\nthing\\u001b"}'),
            "HTTP 500 Oops: bad thing\\x1b",
        ),
    ],
    ids=["html", "json-object", "list-of-numbers", "amqp-port", "redirect", "error-500"],
)
def test_answers_that_are_not_the_api(answer: bytes, words: str) -> None:
    server = _OneAnswer(answer)
    try:
        settings = management_settings("amqp://localhost/", f"http://127.0.0.1:{server.port}")
        assert words in one_line_failure(settings)
    finally:
        server.close()


def _api_put(management_node: Any, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        management_node.api_url + "/api" + path,
        data=json.dumps(body).encode(),
        method="PUT",
        headers={
            "Authorization": "Basic " + base64.b64encode(b"guest:guest").decode(),
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def test_the_apis_own_reason_is_given_and_the_panel_knows_it_was_reached(
    management_node: Any,
) -> None:
    """A user who may log in to the API but not use the vhost: the API says so
    itself, and that reason is shown, not a guess about passwords or tags."""
    name = f"novhost-{uuid.uuid4().hex[:8]}"
    _api_put(management_node, f"/users/{name}", {"password": SECRET, "tags": "management"})
    url = management_node.amqp_url.replace("guest:guest@", f"{name}:{SECRET}@")
    settings = management_settings(url, management_node.api_url)
    with pytest.raises(ManagementUnavailable) as info:
        list_bindings(settings, "amq.fanout")
    message = str(info.value)
    assert message.startswith(f"HTTP 401: login refused for user '{name}': ")
    assert "virtual host" in message  # the API's words
    assert "wrong password" not in message
    assert info.value.answered
    assert SECRET not in message


def test_an_api_not_reached_is_said_so(management_node: Any) -> None:
    settings = management_settings(management_node.amqp_url, f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(ManagementUnavailable) as info:
        list_bindings(settings, "amq.fanout")
    assert not info.value.answered


# The broker's version ------------------------------------------------------------------


def test_the_brokers_version_comes_from_the_api(management_node: Any) -> None:
    settings = management_settings(management_node.amqp_url, management_node.api_url)
    version = broker_version(settings)
    assert version.split(".")[0].isdigit() and version.count(".") >= 1, version


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (http_answer("200 OK", b'{"management_version": "3.10.8"}'), "names no RabbitMQ version"),
        (http_answer("200 OK", b"[]"), "names no RabbitMQ version"),
        (http_answer("200 OK", b"<html>hi</html>"), "is not JSON"),
    ],
    ids=["no-version", "a-list", "html"],
)
def test_no_version_in_the_answer_is_one_line(answer: bytes, words: str) -> None:
    server = _OneAnswer(answer)
    try:
        settings = management_settings("amqp://localhost/", f"http://127.0.0.1:{server.port}")
        with pytest.raises(ManagementUnavailable) as info:
            broker_version(settings)
        assert words in str(info.value) and "\n" not in str(info.value)
    finally:
        server.close()


def test_a_version_with_control_characters_is_escaped() -> None:
    server = _OneAnswer(http_answer("200 OK", b'{"rabbitmq_version": "3.13\\u001b[31m"}'))
    try:
        settings = management_settings("amqp://localhost/", f"http://127.0.0.1:{server.port}")
        assert broker_version(settings) == "3.13\\x1b[31m"
    finally:
        server.close()
