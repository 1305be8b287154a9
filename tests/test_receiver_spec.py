"""Receiver specs: the same rules on the command line, in config.toml and in the form.

Parsing touches no network; the command-line cases run the real `fanout-tui`
in a subprocess and expect the one-line usage error before anything starts.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from test_cli import assert_one_line_error, cli_env, config, run_cli  # noqa: F401 (fixtures)

from fanout_tui.model.receiver_spec import ReceiverSpec, SpecError, parse_spec
from fanout_tui.settings import ConfigError, load_settings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("exclusive", ReceiverSpec()),
        ("durable", ReceiverSpec(kind="durable")),
        ("durable:name=audit,type=quorum", ReceiverSpec("durable", "audit", "quorum")),
        ("shared:name=jobs", ReceiverSpec(kind="shared", name="jobs")),
        ("stream:offset=first", ReceiverSpec(kind="stream", offset="first")),
        ("stream:offset=5000", ReceiverSpec(kind="stream", offset=5000)),
        ("stream:offset=10m", ReceiverSpec(kind="stream", offset="10m")),
        (
            "stream:offset=2026-12-01T09:00",
            ReceiverSpec(kind="stream", offset=datetime(2026, 12, 1, 9, 0)),
        ),
        (
            "exclusive:delay=20ms,max-length=1000",
            ReceiverSpec(delay=0.02, max_length=1000, prefetch=1),
        ),
        (
            "exclusive:max-bytes=1_000_000,overflow=reject-publish,ttl=5s",
            ReceiverSpec(max_bytes=1_000_000, overflow="reject-publish", ttl=5.0),
        ),
        ("exclusive:keys=kern.*;*.critical", ReceiverSpec(keys=("kern.*", "*.critical"))),
        (
            "exclusive:match=any,h.format=pdf,h.type=report",
            ReceiverSpec(match="any", headers=(("format", "pdf"), ("type", "report"))),
        ),
        (
            "shared:name=jobs,keep=yes,prefetch=1",
            ReceiverSpec("shared", "jobs", prefetch=1, keep=True),
        ),
    ],
)
def test_a_spec_says_what_was_written(text: str, expected: ReceiverSpec) -> None:
    assert parse_spec(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("stream:offset=yesterday", "offset='yesterday': must be first, last, next"),
        ("shared", "a shared receiver needs name="),
        ("exclusive:max-length=-1", "max-length='-1': must be between 0 and"),
        ("exclusive:colour=red", "unknown key 'colour' for exclusive"),
        ("fanout", "unknown kind 'fanout'"),
        ("stream:ttl=5s", "'ttl' is not for streams"),
        ("stream:ack=auto", "ack=auto is not for streams"),
        ("exclusive:delay=soon", "delay='soon': must be a duration"),
        ("exclusive:delay=20ms,ack=auto", "delay= needs ack=manual"),
        ("durable:type=mirrored", "type='mirrored': must be one of classic, quorum"),
        ("durable:name=amq.x", "reserved for the broker"),
        ("exclusive:prefetch=70000", "prefetch='70000': must be between 0 and 65,535"),
        ("exclusive:ttl", "'ttl' is not key=value"),
        ("exclusive:", "nothing after ':'"),
        ("exclusive:ttl=1s,ttl=2s", "'ttl' is given twice"),
    ],
)
def test_a_bad_spec_is_one_line_naming_the_bad_key_or_value(text: str, words: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    message = str(info.value)
    assert words in message and "\n" not in message
    assert message.startswith(f"receiver {text!r}: ")


def test_receiver_tables_in_config_toml_are_specs_in_order(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[[receivers]]\nkind = "shared"\nname = "jobs"\n\n'
        '[[receivers]]\nkind = "exclusive"\ndelay = "20ms"\nmax-length = 1000\n'
        'keys = ["kern.*", "*.critical"]\n\n'
        '[[receivers]]\nkind = "stream"\noffset = 2026-12-01T09:00:00\n\n'
        '[[receivers]]\nh = { format = "pdf" }\nmatch = "any"\n'
    )
    settings = load_settings(env={}, config_path=path)
    assert settings.receiver_specs == (
        ReceiverSpec(kind="shared", name="jobs"),
        ReceiverSpec(delay=0.02, max_length=1000, prefetch=1, keys=("kern.*", "*.critical")),
        ReceiverSpec(kind="stream", offset=datetime(2026, 12, 1, 9, 0)),
        ReceiverSpec(match="any", headers=(("format", "pdf"),)),
    )
    assert settings.receivers == 4
    # The command line's specs replace the file's.
    flags = load_settings(env={}, config_path=path, receiver_specs=["durable"])
    assert flags.start_specs == (ReceiverSpec(kind="durable"),)


def test_a_bad_receiver_table_names_the_file_and_the_table(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[[receivers]]\nkind = "durable"\n\n[[receivers]]\nkind = "shared"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(env={}, config_path=path)
    assert str(info.value) == (
        f"config file {path}: receiver 2: a shared receiver needs name= (the queue its panes share)"
    )


def test_queue_cap_comes_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("queue_cap = 0\n")
    assert load_settings(env={}, config_path=path).queue_cap == 0
    path.write_text("queue_cap = -5\n")
    with pytest.raises(ConfigError, match="line 1: queue_cap must be between 0"):
        load_settings(env={}, config_path=path)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("stream:offset=yesterday", "offset='yesterday'"),
        ("shared", "needs name="),
        ("exclusive:max-length=-1", "max-length='-1'"),
        ("exclusive:colour=red", "unknown key 'colour'"),
    ],
)
def test_the_dashboard_refuses_a_bad_receiver_in_one_line(
    cli_env: dict[str, str],  # noqa: F811 (the fixture)
    spec: str,
    words: str,
) -> None:
    line = assert_one_line_error(run_cli(cli_env, "--receiver", spec), 2)
    assert words in line
