"""`fanout-tui publish` and `fanout-tui listen` as a user runs them: a subprocess.

Each interoperates with tutorial-style pika programs in both directions, and
every bad input ends in one line on stderr, the right exit code and no traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pika
import pytest
from conftest import node_url
from helpers import (
    bind_tutorial_queue,
    closed_port,
    consume,
    emit_log,
    queue_exists,
    wait_for,
)

SECRET = "Hush-Pw-123"
TIMEOUT = 30  # no single command should come anywhere near this


@pytest.fixture
def config(isolated_dirs: Path) -> Path:
    """The config file the subprocess reads (absent until a test writes it)."""
    return isolated_dirs / "config.toml"


@pytest.fixture
def cli_env(config: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("FANOUT_TUI_URL", "FANOUT_TUI_EXCHANGE", "FANOUT_TUI_MANAGEMENT_URL")
    }
    env["FANOUT_TUI_CONFIG"] = str(config)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def run_cli(env: dict[str, str], *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fanout_tui", *args],
        env={**env, **extra_env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{password}@{host}"))


def with_vhost(url: str, vhost: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{vhost}"))


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The failure looks like one: the exit code, one stderr line, no traceback."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("fanout-tui: ")
    return lines[0]


class Background:
    """A program running in the background, its output collected line by line."""

    def __init__(self, env: dict[str, str], argv: list[str]) -> None:
        self.proc = subprocess.Popen(
            argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for reader in self._readers:
            reader.join(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    @property
    def stdout(self) -> str:
        return "".join(self.out)

    @property
    def stderr(self) -> str:
        return "".join(self.err)


class Listen(Background):
    """`fanout-tui listen ...` running in the background, its output collected."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        super().__init__(env, [sys.executable, "-m", "fanout_tui", "listen", *args])

    def wait_until_listening(self, timeout: float = 20) -> str:
        """Wait for ' [*] Waiting ...' on stderr; return the queue it names."""

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"listen exited early: {''.join(self.err)}")
            return any(" [*] Waiting" in line for line in self.err)

        wait_for(ready, timeout)
        line = next(line for line in self.err if " [*] Waiting" in line)
        return line.split(" on queue ", 1)[1].split()[0]

    def finish(self, timeout: float = 15) -> int:
        code = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(5)
        return code


# Round trips with tutorial programs ---------------------------------------------


def test_listen_prints_what_a_tutorial_emit_log_publishes(
    cli_env: dict[str, str], broker_url: str, exchange: str
) -> None:
    listen = Listen(cli_env, "--url", broker_url, "--exchange", exchange, "--count", "2")
    try:
        queue = listen.wait_until_listening()
        assert queue.startswith("amq.gen-")
        emit_log(broker_url, exchange, "info: Hello World!")
        emit_log(broker_url, exchange, b"\x1b]0;pwned\x07\x1b[2J\x9b31m[@click=app.quit]q[/]")
        code = listen.finish()
    finally:
        listen.close()

    assert code == 0, listen.stderr
    assert "Traceback" not in listen.stderr
    assert f"bound to exchange '{exchange}'" in listen.stderr
    lines = listen.stdout.splitlines()
    assert len(lines) == 2, lines
    label, clock, body = lines[0].split(" ", 2)
    assert label == "ext"  # not stamped by fanout-tui
    assert dt.datetime.strptime(clock, "%H:%M:%S.%f")
    assert body == "info: Hello World!"
    # The hostile body arrives as visible escapes, nothing a terminal would act on.
    assert lines[1].endswith("\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m[@click=app.quit]q[/]")
    assert "\x1b" not in listen.stdout and "\x07" not in listen.stdout


def test_listen_json_gives_one_object_per_message(
    cli_env: dict[str, str], broker_url: str, exchange: str
) -> None:
    listen = Listen(cli_env, "--url", broker_url, "--exchange", exchange, "--count", "3", "--json")
    try:
        queue = listen.wait_until_listening()
        before = dt.datetime.now(dt.UTC)
        emit_log(
            broker_url,
            exchange,
            "info: Hello World!",
            pika.BasicProperties(
                content_type="text/plain", delivery_mode=1, headers={"source": "emit_log"}
            ),
        )
        emit_log(broker_url, exchange, "\x1b[2J\u202eevil")
        emit_log(broker_url, exchange, b"\xff\x00binary")
        code = listen.finish()
        after = dt.datetime.now(dt.UTC)
    finally:
        listen.close()

    assert code == 0, listen.stderr
    assert "\x1b" not in listen.stdout and "\u202e" not in listen.stdout
    records = [json.loads(line) for line in listen.stdout.splitlines()]
    assert len(records) == 3
    first, hostile, binary = records

    assert first["body"] == "info: Hello World!"
    assert first["properties"]["content_type"] == "text/plain"
    assert first["properties"]["delivery_mode"] == 1
    assert first["properties"]["headers"] == {"source": "emit_log"}
    assert first["queue"] == queue
    assert first["exchange"] == exchange
    assert first["routing_key"] == ""
    received = dt.datetime.fromisoformat(first["received_at"])
    assert before - dt.timedelta(seconds=1) <= received <= after + dt.timedelta(seconds=1)

    assert hostile["body"] == "\x1b[2J\u202eevil"  # exact, once decoded
    assert hostile["properties"]["headers"] == {}
    assert binary["body"] == "/wBiaW5hcnk="
    assert binary["body_encoding"] == "base64"
    assert binary["size"] == 8
    # The export's record (model/export.py), with whole bodies.
    assert set(first) == {
        *("seq", "origin", "sent_at", "sent_at_epoch", "received_at", "received_at_epoch"),
        *("latency_ms", "exchange", "routing_key", "queue", "redelivered", "properties"),
        *("size", "body", "body_encoding", "truncated", "body_kept"),
    }
    assert [r["truncated"] for r in records] == [False, False, False]
    assert [r["body_kept"] for r in records] == [True, True, True]


def test_publish_reaches_a_tutorial_receiver(
    cli_env: dict[str, str], broker_url: str, exchange: str, pika_connection: Any
) -> None:
    channel, queue = bind_tutorial_queue(pika_connection, exchange)
    result = run_cli(
        cli_env, "publish", "--url", broker_url, "--exchange", exchange, "hello", "world"
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.strip() == f" [x] Sent 'hello world' to exchange '{exchange}'".strip()

    # No words: the tutorial's default message.
    result = run_cli(cli_env, "publish", "--url", broker_url, "--exchange", exchange)
    assert result.returncode == 0, result.stderr

    (m1, props, body), (_, _, default) = consume(pika_connection, channel, queue, count=2)
    assert body == b"hello world"
    assert m1.exchange == exchange and m1.routing_key == ""
    assert props.content_type == "text/plain"
    assert props.delivery_mode == 1
    assert props.headers["x-fanout-seq"] == 1
    assert default == b"info: Hello World!"


def test_publish_with_nothing_bound_is_unroutable(
    cli_env: dict[str, str], broker_url: str, exchange: str
) -> None:
    result = run_cli(cli_env, "publish", "--url", broker_url, "--exchange", exchange, "lost")
    line = assert_one_line_error(result, 3)
    assert line == f"fanout-tui: unroutable: no queue is bound to exchange '{exchange}'"
    assert result.stdout == ""


def test_listen_ends_on_sigint_without_a_traceback(
    cli_env: dict[str, str], broker_url: str, exchange: str, pika_connection: Any
) -> None:
    listen = Listen(cli_env, "--url", broker_url, "--exchange", exchange)
    try:
        queue = listen.wait_until_listening()
        assert queue_exists(pika_connection, queue)
        listen.proc.send_signal(signal.SIGINT)
        code = listen.finish()
    finally:
        listen.close()
    assert code == 130
    assert "Traceback" not in listen.stderr
    assert "KeyboardInterrupt" not in listen.stderr
    # It closed its connection: the exclusive queue went with it.
    wait_for(lambda: not queue_exists(pika_connection, queue), 5)


# Bad input ----------------------------------------------------------------------


@pytest.mark.parametrize("command", ["publish", "listen"])
def test_unreachable_broker(cli_env: dict[str, str], exchange: str, command: str) -> None:
    port = closed_port()
    url = f"amqp://guest:{SECRET}@127.0.0.1:{port}/%2F"
    started = time.monotonic()
    result = run_cli(cli_env, command, "--url", url, "--exchange", exchange)
    assert time.monotonic() - started < 15
    line = assert_one_line_error(result, 1)
    assert f"amqp://guest:***@127.0.0.1:{port}/%2F" in line
    assert "docker compose up -d" in line
    assert "connection refused" in line
    assert SECRET not in result.stderr + result.stdout


@pytest.mark.parametrize("command", ["publish", "listen"])
def test_wrong_password(
    cli_env: dict[str, str], broker_url: str, exchange: str, command: str
) -> None:
    url = with_password(broker_url, SECRET)
    result = run_cli(cli_env, command, "--url", url, "--exchange", exchange)
    line = assert_one_line_error(result, 1)
    assert "login refused" in line
    assert "wrong user or password" in line
    assert ":***@" in line
    assert SECRET not in result.stderr + result.stdout


@pytest.mark.parametrize("command", ["publish", "listen"])
def test_unknown_vhost(
    cli_env: dict[str, str], broker_url: str, exchange: str, command: str
) -> None:
    url = with_vhost(broker_url, "no-such-vhost")
    result = run_cli(cli_env, command, "--url", url, "--exchange", exchange)
    line = assert_one_line_error(result, 1)
    assert "vhost 'no-such-vhost'" in line
    assert "does not exist" in line


@pytest.mark.parametrize("command", ["publish", "listen"])
def test_exchange_declared_with_another_type(
    cli_env: dict[str, str], broker_url: str, exchange: str, command: str, pika_connection: Any
) -> None:
    """When a fanout is asked for (without, the exchange is used as it is:
    tests/test_routing_cli.py)."""
    pika_connection.channel().exchange_declare(exchange=exchange, exchange_type="direct")
    result = run_cli(
        cli_env, command, "--url", broker_url, "--exchange", exchange, "--exchange-type", "fanout"
    )
    line = assert_one_line_error(result, 1)
    assert f"exchange '{exchange}'" in line
    assert "'direct'" in line and "'fanout'" in line


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (f"http://guest:{SECRET}@localhost:5672/", "amqp:// or amqps://"),
        (f"amqp://guest:{SECRET}@:5672/%2F", "no host name"),
        (f"amqp://guest:{SECRET}@localhost:99999/%2F", "Port out of range"),
        (f"amqp://guest:{SECRET}@localhost:fast/%2F", "Port could not be cast"),
        ("localhost", "amqp:// or amqps://"),
    ],
)
@pytest.mark.parametrize("command", ["publish", "listen"])
def test_malformed_url(cli_env: dict[str, str], command: str, url: str, words: str) -> None:
    result = run_cli(cli_env, command, "--url", url)
    line = assert_one_line_error(result, 2)
    assert "malformed broker URL" in line
    assert words in line
    assert SECRET not in result.stderr + result.stdout


def test_malformed_url_from_the_environment(cli_env: dict[str, str]) -> None:
    result = run_cli(cli_env, "publish", FANOUT_TUI_URL=f"http://guest:{SECRET}@localhost/")
    line = assert_one_line_error(result, 2)
    assert "http://guest:***@localhost/" in line
    assert SECRET not in result.stderr


@pytest.mark.parametrize(
    ("text", "line_no"),
    [
        ('exchange = "logs"\nurl = = "amqp://localhost/"\n', 2),
        ('exchange = "unterminated\n', 1),
    ],
)
@pytest.mark.parametrize("command", ["publish", "listen"])
def test_malformed_config_file(
    cli_env: dict[str, str], config: Path, command: str, text: str, line_no: int
) -> None:
    config.write_text(text, encoding="utf-8")
    result = run_cli(cli_env, command)
    line = assert_one_line_error(result, 2)
    assert str(config) in line
    assert f"line {line_no}" in line


def test_config_file_with_an_unknown_key(cli_env: dict[str, str], config: Path) -> None:
    config.write_text('exchnage = "typo"\n', encoding="utf-8")
    line = assert_one_line_error(run_cli(cli_env, "listen"), 2)
    assert str(config) in line
    assert "'exchnage'" in line


# Settings end to end ------------------------------------------------------------


def test_settings_precedence_through_the_cli(
    cli_env: dict[str, str], config: Path, broker_url: str, exchange: str, pika_connection: Any
) -> None:
    dead = f"amqp://guest:{SECRET}@127.0.0.1:{closed_port()}/%2F"
    flag_exchange, env_exchange, config_exchange = (f"{exchange}-{s}" for s in ("f", "e", "c"))
    config.write_text(f'url = "{dead}"\nexchange = "{config_exchange}"\n', encoding="utf-8")
    channel, queue = bind_tutorial_queue(pika_connection, flag_exchange)

    # Flags beat the environment, which beats the config file.
    result = run_cli(
        cli_env,
        "publish",
        "--url",
        broker_url,
        "--exchange",
        flag_exchange,
        "by flag",
        FANOUT_TUI_URL=dead,
        FANOUT_TUI_EXCHANGE=env_exchange,
    )
    assert result.returncode == 0, result.stderr
    [(_, _, body)] = consume(pika_connection, channel, queue)
    assert body == b"by flag"

    # Flags given before the subcommand count the same.
    result = run_cli(
        cli_env, "--url", broker_url, "--exchange", flag_exchange, "publish", "early flag"
    )
    assert result.returncode == 0, result.stderr
    [(_, _, body)] = consume(pika_connection, channel, queue)
    assert body == b"early flag"

    # The environment beats the config file: its URL is used and its exchange named.
    result = run_cli(
        cli_env, "publish", "x", FANOUT_TUI_URL=broker_url, FANOUT_TUI_EXCHANGE=env_exchange
    )
    line = assert_one_line_error(result, 3)
    assert f"'{env_exchange}'" in line

    # The config file alone: its URL (unreachable here) and its exchange.
    line = assert_one_line_error(run_cli(cli_env, "publish", "x"), 1)
    assert "amqp://guest:***@127.0.0.1:" in line
    config.write_text(f'url = "{broker_url}"\nexchange = "{config_exchange}"\n', encoding="utf-8")
    line = assert_one_line_error(run_cli(cli_env, "publish", "x"), 3)
    assert f"'{config_exchange}'" in line


def test_a_bad_management_url_is_one_line_without_the_password(
    cli_env: dict[str, str], config: Path
) -> None:
    bad = f"ftp://ops:{SECRET}@mgmt:15672/"
    # The dashboard uses it (its bindings panel), so it checks it at start...
    result = run_cli(cli_env, "--management-url", bad)
    line = assert_one_line_error(result, 2)
    assert "malformed management URL 'ftp://ops:***@mgmt:15672/'" in line
    assert SECRET not in result.stderr
    config.write_text(f'management_url = "{bad}"\n', encoding="utf-8")
    line = assert_one_line_error(run_cli(cli_env), 2)
    assert "malformed management URL" in line
    assert SECRET not in line
    # ...while publish and listen, which never use it, do not fail on it.
    nowhere = f"amqp://guest:guest@127.0.0.1:{closed_port()}/%2F"
    for command in (["publish", "x"], ["listen", "--no-reconnect"]):
        result = run_cli(cli_env, *command, "--url", nowhere, FANOUT_TUI_MANAGEMENT_URL=bad)
        line = assert_one_line_error(result, 1)  # the broker's absence, not the API's URL
        assert "cannot reach" in line and "management" not in line


def test_help_names_the_management_url() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fanout_tui", "--help"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0
    assert "--management-url URL" in result.stdout
    assert "FANOUT_TUI_MANAGEMENT_URL" in result.stdout
    assert "--heartbeat SECONDS" in result.stdout
    assert "--spread" in result.stdout


README = Path(__file__).parent.parent / "README.md"
# An exit code in a list: at the start, or after ", ", ": " or "; " (not "within 10 s").
EXIT_CODE = re.compile(r"(?:^|, |: |; )(\d+)\b(?! s\b)")


def readme_exit_codes(command: str) -> set[str]:
    """The exit codes the README's command table gives ``command``."""
    row = next(
        line for line in README.read_text().splitlines() if line.startswith(f"| `{command}` |")
    )
    codes = set(EXIT_CODE.findall(row.split(" | ")[2]))
    assert "0" in codes, row
    return codes


@pytest.mark.parametrize(
    "command", ["fanout-tui", "fanout-tui publish", "fanout-tui listen", "fanout-tui serve"]
)
def test_help_lists_every_exit_code_the_readme_gives(command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fanout_tui", *command.split()[1:], "--help"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())  # argparse wraps the lines
    listed = text.partition("exit codes")[2]
    assert readme_exit_codes(command) <= set(EXIT_CODE.findall(listed)), text


def test_a_bad_heartbeat_flag_is_a_usage_error(cli_env: dict[str, str]) -> None:
    result = run_cli(cli_env, "--heartbeat", "4000")
    line = assert_one_line_error(result, 2)
    assert "heartbeat must be between 0 and 3600" in line


@pytest.mark.parametrize("password", ["Hush/Pw-123", "Hush#Pw-123"])
def test_a_password_with_a_raw_slash_or_hash_is_not_printed(
    cli_env: dict[str, str], password: str
) -> None:
    result = run_cli(cli_env, "publish", "--url", f"amqp://guest:{password}@localhost:5672/%2F")
    assert_one_line_error(result, 2)
    assert password not in result.stderr


# Users with only some permissions (a private node's own users) ---------------------


@pytest.fixture
def limited_user(broker_node: Any, broker_url: str) -> Iterator[Any]:
    """Make users on the private node with the given permissions; returns their URL.

    Call it as ``limited_user(configure, write, read)`` (regular expressions,
    as rabbitmqctl set_permissions takes them); the users are deleted after.
    """
    made: list[str] = []

    def make(configure: str, write: str, read: str) -> str:
        name = f"limited-{uuid.uuid4().hex[:8]}"
        broker_node.rabbitctl_output("add_user", name, SECRET)
        made.append(name)
        broker_node.rabbitctl_output("set_permissions", "-p", "/", name, configure, write, read)
        parts = urlsplit(broker_url)
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{name}:{SECRET}@{host}"))

    yield make
    for name in made:
        broker_node.rabbitctl_output("delete_user", name)


def test_a_user_who_may_only_write_to_the_exchange_can_publish(
    cli_env: dict[str, str], limited_user: Any, exchange: str, pika_connection: Any
) -> None:
    channel, queue = bind_tutorial_queue(pika_connection, exchange)  # someone else declared it
    url = limited_user("^$", f"^{re.escape(exchange)}$", "^$")
    result = run_cli(cli_env, "publish", "--url", url, "--exchange", exchange, "write only")
    assert result.returncode == 0, result.stderr
    [(_, _, body)] = consume(pika_connection, channel, queue)
    assert body == b"write only"


def test_a_user_who_may_not_write_is_told_which_permission_is_missing(
    cli_env: dict[str, str], limited_user: Any, exchange: str, pika_connection: Any
) -> None:
    bind_tutorial_queue(pika_connection, exchange)
    url = limited_user("^$", "^$", "^$")
    result = run_cli(cli_env, "publish", "--url", url, "--exchange", exchange, "no")
    line = assert_one_line_error(result, 1)
    assert f"lacks the 'write' permission on exchange '{exchange}'" in line
    assert SECRET not in result.stderr


def test_a_user_who_may_not_configure_a_missing_exchange_is_told_so(
    cli_env: dict[str, str], limited_user: Any, exchange: str
) -> None:
    url = limited_user("^$", ".*", ".*")
    line = assert_one_line_error(
        run_cli(cli_env, "publish", "--url", url, "--exchange", exchange), 1
    )
    assert f"lacks the 'configure' permission on exchange '{exchange}'" in line


GEN = r"^amq\.gen-.*"


@pytest.mark.parametrize(
    ("permissions", "words"),
    [
        (("^$", ".*", ".*"), "lacks the 'configure' permission on queue 'amq.gen-"),
        ((GEN, "^$", ".*"), "lacks the 'write' permission on queue 'amq.gen-"),
        ((GEN, GEN, GEN), "lacks the 'read' permission on exchange '{exchange}'"),
        ((GEN, GEN, "^{exchange}$"), "lacks the 'read' permission on queue 'amq.gen-"),
    ],
)
def test_a_listener_is_told_which_permission_its_queue_lacks(
    cli_env: dict[str, str],
    limited_user: Any,
    exchange: str,
    pika_connection: Any,
    permissions: tuple[str, str, str],
    words: str,
) -> None:
    pika_connection.channel().exchange_declare(exchange=exchange, exchange_type="fanout")
    url = limited_user(*(p.format(exchange=exchange) for p in permissions))
    result = run_cli(cli_env, "listen", "--url", url, "--exchange", exchange)
    line = assert_one_line_error(result, 1)
    assert words.format(exchange=exchange) in line


# Exchanges that can never work ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "words"),
    [("", "the default exchange"), ("amq.gen-x", "reserved"), ("amq.logs", "reserved")],
)
@pytest.mark.parametrize("command", [[], ["publish"], ["listen"]])
def test_exchanges_that_can_never_work_are_refused_at_start(
    cli_env: dict[str, str], command: list[str], name: str, words: str
) -> None:
    started = time.monotonic()
    line = assert_one_line_error(run_cli(cli_env, *command, "--exchange", name), 2)
    assert words in line
    assert time.monotonic() - started < 10  # refused at start, never retried


def test_the_built_in_amq_fanout_is_allowed(
    cli_env: dict[str, str], broker_url: str, pika_connection: Any
) -> None:
    channel, queue = bind_tutorial_queue(pika_connection, "amq.fanout", declare=False)
    result = run_cli(cli_env, "publish", "--url", broker_url, "--exchange", "amq.fanout", "hi")
    assert result.returncode == 0, result.stderr
    [(_, _, body)] = consume(pika_connection, channel, queue)
    assert body == b"hi"


# Several URLs, and reconnecting ----------------------------------------------------


def test_publish_tries_each_url_in_turn(
    cli_env: dict[str, str], broker_url: str, exchange: str, pika_connection: Any
) -> None:
    channel, queue = bind_tutorial_queue(pika_connection, exchange)
    dead = f"amqp://guest:{SECRET}@127.0.0.1:{closed_port()}/%2F"
    result = run_cli(
        cli_env, "publish", "--url", dead, "--url", broker_url, "--exchange", exchange, "second"
    )
    assert result.returncode == 0, result.stderr
    [(_, _, body)] = consume(pika_connection, channel, queue)
    assert body == b"second"


def test_listen_tries_each_url_in_turn(
    cli_env: dict[str, str], broker_url: str, exchange: str
) -> None:
    dead = f"amqp://guest:{SECRET}@127.0.0.1:{closed_port()}/%2F"
    listen = Listen(cli_env, "--url", dead, "--url", broker_url, "--exchange", exchange)
    try:
        listen.wait_until_listening()
        emit_log(broker_url, exchange, "via the second URL")
        wait_for(lambda: "via the second URL" in listen.stdout, 10)
    finally:
        listen.close()


def test_listen_reconnects_after_its_connection_is_closed(
    cli_env: dict[str, str], fault_node: Any, exchange: str
) -> None:
    url = node_url(fault_node)
    listen = Listen(cli_env, "--url", url, "--exchange", exchange)
    try:
        first = listen.wait_until_listening()
        fault_node.rabbitctl_output("close_all_connections", "trial")
        wait_for(lambda: sum(" [*] Waiting" in line for line in listen.err) == 2, 20)
        said = [line for line in listen.err if "reconnecting" in line]
        assert len(said) == 1, listen.stderr
        assert listen.proc.poll() is None
        emit_log(url, exchange, "after the outage")
        wait_for(lambda: "after the outage" in listen.stdout, 10)
        assert first not in listen.err[-1]  # a new exclusive queue
    finally:
        listen.close()


def test_listen_no_reconnect_exits_at_the_first_failure(
    cli_env: dict[str, str], fault_node: Any, exchange: str
) -> None:
    listen = Listen(
        cli_env, "--url", node_url(fault_node), "--exchange", exchange, "--no-reconnect"
    )
    try:
        listen.wait_until_listening()
        fault_node.rabbitctl_output("close_all_connections", "trial")
        assert listen.finish() == 1
        lines = [line for line in listen.err if not line.startswith(" [*]")]
        assert len(lines) == 1 and lines[0].startswith("fanout-tui: "), listen.stderr
    finally:
        listen.close()


# The message from standard input --------------------------------------------------


def test_publish_dash_reads_the_message_from_standard_input(
    cli_env: dict[str, str], broker_url: str, exchange: str, pika_connection: Any
) -> None:
    channel, queue = bind_tutorial_queue(pika_connection, exchange)
    args = [sys.executable, "-m", "fanout_tui", "publish", "--url", broker_url]
    run = dict(env=cli_env, capture_output=True, timeout=TIMEOUT)
    result = subprocess.run([*args, "--exchange", exchange, "-"], input=b"one\ntwo\n", **run)
    assert result.returncode == 0, result.stderr
    [(_, _, body)] = consume(pika_connection, channel, queue)
    assert body == b"one\ntwo"  # one final newline stripped, as $(...) does
    result = subprocess.run(
        [*args, "--exchange", exchange, "--lines", "-"], input=b"one\ntwo\n", **run
    )
    assert result.returncode == 0, result.stderr
    assert [b for _, _, b in consume(pika_connection, channel, queue, count=2)] == [b"one", b"two"]
    line = assert_one_line_error(run_cli(cli_env, "publish", "--lines", "words"), 2)
    assert "'-'" in line


def test_publish_dash_strips_one_final_newline_unless_asked_to_keep_it(
    cli_env: dict[str, str], broker_url: str, exchange: str, pika_connection: Any
) -> None:
    """``echo '{"k":"v"}' | fanout-tui publish -`` publishes the JSON, not the
    newline echo adds; --keep-newline publishes standard input as it is."""
    channel, queue = bind_tutorial_queue(pika_connection, exchange)
    args = [sys.executable, "-m", "fanout_tui", "publish", "--url", broker_url, "--exchange"]
    run = dict(env=cli_env, capture_output=True, timeout=TIMEOUT)
    sent = []
    for extra, given in [
        ([], b'{"k":"v"}\n'),
        ([], b"windows\r\n"),
        ([], b"two blank\n\n"),  # only one is the file's end; the blank line is the message's
        ([], b"no newline"),
        (["--keep-newline"], b'{"k":"v"}\n'),
    ]:
        result = subprocess.run([*args, exchange, *extra, "-"], input=given, **run)
        assert result.returncode == 0, result.stderr
        sent.append(given)
    bodies = [b for _, _, b in consume(pika_connection, channel, queue, count=len(sent))]
    assert bodies == [b'{"k":"v"}', b"windows", b"two blank\n", b"no newline", b'{"k":"v"}\n']
    for wrong in (["--keep-newline", "words"], ["--keep-newline", "--lines", "-"]):
        line = assert_one_line_error(run_cli(cli_env, "publish", *wrong), 2)
        assert "--keep-newline" in line
    help_text = " ".join(run_cli(cli_env, "publish", "--help").stdout.split())
    assert "--keep-newline" in help_text and "final newline is stripped" in help_text


def test_an_oversized_content_type_is_one_short_usage_line(cli_env: dict[str, str]) -> None:
    line = assert_one_line_error(run_cli(cli_env, "publish", "--content-type", "c" * 300), 2)
    assert len(line) < 100 and "ccc" not in line


# Hostile input: bytes, devices, values out of range ------------------------------


def test_an_argument_that_is_not_utf8_is_a_usage_error(cli_env: dict[str, str]) -> None:
    result = subprocess.run(
        [os.fsencode(sys.executable), b"-m", b"fanout_tui", b"publish", b"\xff"],
        env=cli_env,
        capture_output=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
    assert lines == ["fanout-tui: argument 2 is not valid UTF-8 text"]


def test_a_config_that_is_not_a_regular_file_is_refused_at_once(cli_env: dict[str, str]) -> None:
    started = time.monotonic()
    line = assert_one_line_error(run_cli(cli_env, "publish", FANOUT_TUI_CONFIG="/dev/zero"), 2)
    assert "/dev/zero is not a regular file" in line
    assert time.monotonic() - started < 10


def test_a_huge_config_file_is_refused(cli_env: dict[str, str], config: Path) -> None:
    config.write_bytes(b"#" * (2 * 1024 * 1024))
    line = assert_one_line_error(run_cli(cli_env, "publish"), 2)
    assert "larger than 1 MiB" in line


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('exchange = "logs"\nreceivers = 999\n', "line 2: receivers must be between 0 and 64"),
        ("\nheartbeat = -1\n", "line 2: heartbeat must be between"),
        ('exchange = "logs"\n\nscrollback = "many"\n', "line 3: 'scrollback' must be"),
    ],
)
def test_config_values_out_of_range_or_of_the_wrong_type_name_file_and_line(
    cli_env: dict[str, str], config: Path, text: str, words: str
) -> None:
    config.write_text(text, encoding="utf-8")
    line = assert_one_line_error(run_cli(cli_env, "publish"), 2)
    assert f"config file {config}, {words}" in line


@pytest.mark.parametrize("password", ["top/secret", "top?secret", "top#secret"])
def test_no_part_of_a_management_password_is_printed(
    cli_env: dict[str, str], config: Path, password: str
) -> None:
    bad = f"https://admin:{password}@host:15671"
    for result in (
        run_cli(cli_env, "--management-url", bad),
        run_cli(cli_env, FANOUT_TUI_MANAGEMENT_URL=bad),
    ):
        line = assert_one_line_error(result, 2)
        assert "percent-encode" in line
        assert "top" not in line and "secret" not in line
