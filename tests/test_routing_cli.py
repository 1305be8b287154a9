"""Routing beyond fanout on the command line, against a real broker: the
tutorials' direct and topic programs (tests/tutorial/, RabbitMQ tutorials four
and five) and ``fanout-tui publish --routing-key`` / ``listen --key``
interoperate both ways; a headers exchange routes by ``--header``; an existing
exchange is used as the type it has, and a type asked for that differs is one
line naming both.

Every program is a subprocess with a time limit; nothing is waited for with a
sleep: a receiver is ready once it says so, and what it did not get is proved
by a last message that every receiver gets, which arrives after the others.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_cli
from helpers import consume, wait_for
from test_cli import TIMEOUT, Background, Listen, assert_one_line_error, run_cli

# test_cli's fixtures: the config file the subprocess reads, and its environment.
config = test_cli.config
cli_env = test_cli.cli_env

pytestmark = pytest.mark.timeout(120)

TUTORIAL = Path(__file__).resolve().parent / "tutorial"


class Program(Background):
    """A tutorial program running in the background, its output collected."""

    def __init__(self, env: dict[str, str], script: str, *args: str) -> None:
        super().__init__(env, [sys.executable, str(TUTORIAL / script), *args])

    def wait_for_line(self, text: str, timeout: float = 20) -> None:
        def seen() -> bool:
            if self.proc.poll() is not None and not any(text in line for line in self.out):
                raise AssertionError(f"{self.proc.args} exited: {''.join(self.err)}")
            return any(text in line for line in self.out)

        wait_for(seen, timeout)

    @property
    def received(self) -> list[str]:
        """What a receive_logs_*.py printed for each message, `` [x] `` cut off."""
        return [line[5:].rstrip("\n") for line in self.out if line.startswith(" [x] ")]


@pytest.fixture
def tutorial_env(cli_env: dict[str, str], broker_url: str, exchange: str) -> dict[str, str]:
    return {**cli_env, "TUTORIAL_URL": broker_url, "TUTORIAL_EXCHANGE": exchange}


@pytest.fixture
def programs() -> Iterator[list[Program]]:
    """Every program a test starts, each killed and reaped at the end."""
    started: list[Program] = []
    yield started
    for program in started:
        program.close()


def start(programs: list[Program], env: dict[str, str], script: str, *args: str) -> Program:
    program = Program(env, script, *args)
    programs.append(program)
    program.wait_for_line(" [*] Waiting for logs")
    return program


def run_tutorial(env: dict[str, str], script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(TUTORIAL / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def publish(env: dict[str, str], url: str, exchange: str, *args: str) -> Any:
    return run_cli(env, "publish", "--url", url, "--exchange", exchange, *args)


def listen_lines(listen: Listen) -> list[str]:
    """``key:body`` of each line ``listen`` printed (its label and clock cut off)."""
    return [line.split(" ", 2)[2] for line in listen.stdout.splitlines()]


def last_for_all(programs: list[Program], body: str) -> None:
    """Wait until every receiver printed ``body``: what they were not sent
    before it, they never get."""
    for program in programs:
        program.wait_for_line(body)


# Direct: tutorial four's severities --------------------------------------------------


def test_tutorial_direct_receivers_get_what_fanout_tui_publishes_by_severity(
    tutorial_env: dict[str, str], broker_url: str, exchange: str, programs: list[Program]
) -> None:
    problems = start(programs, tutorial_env, "receive_logs_direct.py", "warning", "error")
    everything = start(programs, tutorial_env, "receive_logs_direct.py", "info", "warning", "error")
    for severity, message in [
        ("info", "all is well"),
        ("warning", "disk 90% full"),
        ("error", "Run. Run. Or it will explode."),
    ]:
        result = publish(tutorial_env, broker_url, exchange, "--routing-key", severity, message)
        assert result.returncode == 0, result.stderr
        # emit_log_direct.py's own line.
        assert result.stdout == f" [x] Sent {severity!r}:{message!r}\n"
    last = publish(tutorial_env, broker_url, exchange, "--routing-key", "error", "last")
    assert last.returncode == 0, last.stderr
    last_for_all(programs, "last")
    assert problems.received == [
        "warning:b'disk 90% full'",
        "error:b'Run. Run. Or it will explode.'",
        "error:b'last'",
    ]
    assert everything.received == [
        "info:b'all is well'",
        "warning:b'disk 90% full'",
        "error:b'Run. Run. Or it will explode.'",
        "error:b'last'",
    ]


def test_listen_keys_get_what_tutorial_emit_log_direct_sends(
    tutorial_env: dict[str, str], broker_url: str, exchange: str
) -> None:
    args = ["--url", broker_url, "--exchange", exchange, "--exchange-type", "direct"]
    listen = Listen(tutorial_env, *args, "--key", "warning", "--key", "error", "--count", "2")
    try:
        listen.wait_until_listening()
        assert f"bound to exchange '{exchange}' (direct, keys 'warning', 'error')" in (
            listen.stderr
        )
        run_tutorial(tutorial_env, "emit_log_direct.py", "info", "not for this one")
        run_tutorial(tutorial_env, "emit_log_direct.py", "warning", "disk 90% full")
        sent = run_tutorial(tutorial_env, "emit_log_direct.py", "error", "it exploded")
        assert sent == " [x] Sent 'error':'it exploded'\n"
        assert listen.finish() == 0, listen.stderr
    finally:
        listen.close()
    # The key before the body, as receive_logs_direct.py prints it; ext: not ours.
    assert listen_lines(listen) == ["warning:disk 90% full", "error:it exploded"]
    assert all(line.startswith("ext ") for line in listen.stdout.splitlines())


# Topic: tutorial five's patterns ------------------------------------------------------

TOPIC_KEYS = ["kern", "kern.disk.full", "kern.critical", "kern.info", "app.critical"]
# What each of the tutorial's binding patterns takes of TOPIC_KEYS.
PATTERNS = {
    "kern.*": ["kern.critical", "kern.info"],
    "*.critical": ["kern.critical", "app.critical"],
    "#": TOPIC_KEYS,
    "kern.#": ["kern", "kern.disk.full", "kern.critical", "kern.info"],
}


def test_tutorial_topic_receivers_get_what_fanout_tui_publishes_by_pattern(
    tutorial_env: dict[str, str], broker_url: str, exchange: str, programs: list[Program]
) -> None:
    receivers = {
        pattern: start(programs, tutorial_env, "receive_logs_topic.py", pattern)
        for pattern in PATTERNS
    }
    for key in TOPIC_KEYS:
        result = publish(tutorial_env, broker_url, exchange, "--routing-key", key, f"to {key}")
        assert result.returncode == 0, result.stderr
    # kern.critical matches every pattern: the last message for all.
    result = publish(tutorial_env, broker_url, exchange, "--routing-key", "kern.critical", "last")
    assert result.returncode == 0, result.stderr
    last_for_all(programs, "last")
    for pattern, keys in PATTERNS.items():
        expected = [f"{key}:b'to {key}'" for key in keys] + ["kern.critical:b'last'"]
        assert receivers[pattern].received == expected, pattern


def test_listen_patterns_get_what_tutorial_emit_log_topic_sends(
    tutorial_env: dict[str, str], broker_url: str, exchange: str
) -> None:
    base = ["--url", broker_url, "--exchange", exchange, "--exchange-type", "topic"]
    # The tutorial's several bindings on one queue, and one pattern each.
    listens = {
        ("kern.*", "*.critical"): ["kern.critical", "kern.info", "app.critical"],
        ("#",): TOPIC_KEYS,
        ("kern.#",): ["kern", "kern.disk.full", "kern.critical", "kern.info"],
    }
    running = {}
    try:
        for patterns, keys in listens.items():
            keyargs = [arg for pattern in patterns for arg in ("--key", pattern)]
            listen = Listen(tutorial_env, *base, *keyargs, "--count", str(len(keys)))
            running[patterns] = listen
            listen.wait_until_listening()
        for key in TOPIC_KEYS:
            run_tutorial(tutorial_env, "emit_log_topic.py", key, f"to {key}")
        for listen in running.values():
            assert listen.finish() == 0, listen.stderr
    finally:
        for listen in running.values():
            listen.close()
    for patterns, keys in listens.items():
        # A copy it should not have got would come before the last it should.
        assert listen_lines(running[patterns]) == [f"{key}:to {key}" for key in keys], patterns


# Headers ---------------------------------------------------------------------------


def test_listen_on_a_headers_exchange_matches_any_header(
    cli_env: dict[str, str], broker_url: str, exchange: str
) -> None:
    listen = Listen(
        cli_env,
        *("--url", broker_url, "--exchange", exchange, "--exchange-type", "headers"),
        *("--match", "any", "--header", "format=pdf", "--header", "type=report"),
        *("--count", "2"),
    )
    base = ["--exchange-type", "headers"]
    try:
        listen.wait_until_listening()
        assert "(headers, match any: format=pdf, type=report)" in listen.stderr
        pdf = publish(cli_env, broker_url, exchange, *base, "--header", "format=pdf", "a pdf")
        assert pdf.returncode == 0, pdf.stderr
        log = publish(cli_env, broker_url, exchange, *base, "--header", "type=log", "a log")
        line = assert_one_line_error(log, 3)
        assert line == "fanout-tui: unroutable: no binding matches its headers"
        report = publish(
            cli_env,
            broker_url,
            exchange,
            *base,
            *("--header", "type=report", "--header", "format=zip", "a zipped report"),
        )
        assert report.returncode == 0, report.stderr
        assert listen.finish() == 0, listen.stderr
    finally:
        listen.close()
    # No key before the body: a headers exchange routes by the headers.
    assert listen_lines(listen) == ["a pdf", "a zipped report"]


def test_publish_headers_reach_a_plain_pika_headers_binding(
    cli_env: dict[str, str], broker_url: str, exchange: str, pika_connection: Any
) -> None:
    channel = pika_connection.channel()
    channel.exchange_declare(exchange=exchange, exchange_type="headers")
    queue = channel.queue_declare(queue="", exclusive=True).method.queue
    channel.queue_bind(
        exchange=exchange, queue=queue, arguments={"x-match": "all", "a": "1", "b": "2"}
    )
    # Only both headers match; the app's stamp cannot be overridden by one.
    one = publish(cli_env, broker_url, exchange, "--header", "a=1", "one")
    assert_one_line_error(one, 3)
    both = publish(
        cli_env,
        broker_url,
        exchange,
        *("--header", "a=1", "--header", "b=2", "--header", "x-fanout-seq=99", "both"),
    )
    assert both.returncode == 0, both.stderr
    [(_, properties, body)] = consume(pika_connection, channel, queue)
    assert body == b"both"
    assert (properties.headers["a"], properties.headers["b"]) == ("1", "2")
    assert properties.headers["x-fanout-seq"] == 2  # the app's own number (its second run) wins


# An existing exchange, and a type asked for -------------------------------------------


def test_an_existing_topic_exchange_is_used_as_it_is(
    cli_env: dict[str, str], broker_url: str, exchange: str, pika_connection: Any
) -> None:
    pika_connection.channel().exchange_declare(exchange=exchange, exchange_type="topic")
    listen = Listen(cli_env, "--url", broker_url, "--exchange", exchange, "--count", "1")
    try:
        listen.wait_until_listening()
        # No key given: topic binds '#', everything.
        assert f"bound to exchange '{exchange}' (topic, key '#')" in listen.stderr
        result = publish(cli_env, broker_url, exchange, "--routing-key", "a.b.c", "anything")
        assert result.returncode == 0, result.stderr
        assert listen.finish() == 0, listen.stderr
    finally:
        listen.close()
    assert listen_lines(listen) == ["a.b.c:anything"]
    # Still the topic it was: declaring it as one passes.
    pika_connection.channel().exchange_declare(exchange=exchange, exchange_type="topic")


@pytest.mark.parametrize("command", ["publish", "listen"])
def test_a_type_asked_for_that_differs_is_one_line_naming_both(
    cli_env: dict[str, str], broker_url: str, exchange: str, pika_connection: Any, command: str
) -> None:
    pika_connection.channel().exchange_declare(exchange=exchange, exchange_type="topic")
    args = [command, "--url", broker_url, "--exchange", exchange, "--exchange-type", "fanout"]
    if command == "listen":
        args.append("--no-reconnect")
    line = assert_one_line_error(run_cli(cli_env, *args), 1)
    assert line == (
        f"fanout-tui: exchange '{exchange}' already exists as type 'topic', not 'fanout' as "
        "--exchange-type asks (drop --exchange-type to use it as it is, or choose another "
        "--exchange)"
    )


def test_a_type_from_the_config_file_names_the_file_in_a_conflict(
    cli_env: dict[str, str], config: Path, broker_url: str, exchange: str, pika_connection: Any
) -> None:
    pika_connection.channel().exchange_declare(exchange=exchange, exchange_type="direct")
    config.write_text('# routing\nexchange_type = "topic"\n', encoding="utf-8")
    result = publish(cli_env, broker_url, exchange, "--routing-key", "a", "x")
    line = assert_one_line_error(result, 1)
    assert "already exists as type 'direct', not 'topic'" in line
    assert f"as exchange_type in config file {config}, line 2 asks" in line


def test_a_publish_no_binding_matches_names_its_key_and_exits_3(
    cli_env: dict[str, str], broker_url: str, exchange: str, pika_connection: Any
) -> None:
    channel = pika_connection.channel()
    channel.exchange_declare(exchange=exchange, exchange_type="topic")
    queue = channel.queue_declare(queue="", exclusive=True).method.queue
    channel.queue_bind(exchange=exchange, queue=queue, routing_key="kern.*")
    result = publish(cli_env, broker_url, exchange, "--routing-key", "x.y", "nobody")
    line = assert_one_line_error(result, 3)
    assert line == "fanout-tui: unroutable: no binding matches routing key 'x.y'"
    assert result.stdout == ""


def test_the_built_in_amq_topic_is_used_as_it_is(
    cli_env: dict[str, str], broker_url: str, pika_connection: Any
) -> None:
    channel = pika_connection.channel()
    queue = channel.queue_declare(queue="", exclusive=True).method.queue
    channel.queue_bind(exchange="amq.topic", queue=queue, routing_key=f"{queue}.*")
    result = run_cli(
        cli_env,
        *("publish", "--url", broker_url, "--exchange", "amq.topic"),
        *("--routing-key", f"{queue}.critical", "built in"),
    )
    assert result.returncode == 0, result.stderr
    [(method, _, body)] = consume(pika_connection, channel, queue)
    assert (method.routing_key, body) == (f"{queue}.critical", b"built in")


# Bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["publish", "--header", "no-equals"], "argument --header: not NAME=VALUE: 'no-equals'"),
        (["publish", "--header", "=v"], "not NAME=VALUE: '=v'"),
        (["listen", "--header", "x"], "not NAME=VALUE"),
        (["publish", "--routing-key", "k" * 256], "a routing key is at most 255 bytes"),
        (["--exchange-type", "fanoutx"], "invalid choice: 'fanoutx'"),
        (["listen", "--match", "some"], "invalid choice: 'some'"),
        (["listen", "--header", "x-match=any"], "say how the pairs match with --match"),
    ],
)
def test_bad_routing_options_are_one_line_usage_errors(
    cli_env: dict[str, str], args: list[str], words: str
) -> None:
    result = run_cli(cli_env, *args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert words in result.stderr


def test_a_bad_exchange_type_in_the_config_file_is_one_line(
    cli_env: dict[str, str], config: Path
) -> None:
    config.write_text('exchange_type = "lanes"\n', encoding="utf-8")
    line = assert_one_line_error(run_cli(cli_env, "publish", "x"), 2)
    assert line == (
        f"fanout-tui: config file {config}, line 1: exchange type must be one of "
        "fanout, direct, topic, headers, not 'lanes'"
    )


def test_keys_on_a_fanout_are_said_to_be_ignored_and_its_lines_stay_as_they_were(
    cli_env: dict[str, str], broker_url: str, exchange: str
) -> None:
    listen = Listen(
        cli_env, "--url", broker_url, "--exchange", exchange, "--key", "kern.*", "--count", "1"
    )
    try:
        listen.wait_until_listening()
        assert f"bound to exchange '{exchange}' (fanout, which ignores keys and headers)" in (
            listen.stderr
        )
        result = publish(cli_env, broker_url, exchange, "--routing-key", "app.info", "hello")
        assert result.returncode == 0, result.stderr
        assert result.stdout == " [x] Sent 'app.info':'hello'\n"
        assert listen.finish() == 0, listen.stderr
    finally:
        listen.close()
    # No key before the body on a fanout.
    assert listen_lines(listen) == ["hello"]
