"""What ``fanout-tui serve`` hands each browser session, without a browser:
its argv (no password) and environment (the URLs, a data directory of its own)."""

from __future__ import annotations

import sys
from pathlib import Path

from fanout_tui.cli import build_parser, dashboard_arguments
from fanout_tui.settings import load_settings
from fanout_tui.web.session_env import session_argv, session_environment

SECRET = "amqp://alice:s3cret@rabbit:5672/%2F"


def test_a_session_gets_every_dashboard_option_but_the_urls_in_argv() -> None:
    args = build_parser().parse_args(
        [
            "serve",
            "--url",
            SECRET,
            "--management-url",
            "http://alice:s3cret@rabbit:15672",
            "--exchange=-dashed",  # a name that looks like an option: handed on in one piece
            "--receivers",
            "5",
            "--scrollback",
            "50",
            "--port",
            "9000",
        ]
    )
    arguments = dashboard_arguments(args)
    assert arguments == ["--exchange=-dashed", "--receivers=5", "--scrollback=50"]
    argv = session_argv(arguments)
    assert argv[:3] == [sys.executable, "-m", "fanout_tui"]
    assert not any("s3cret" in a for a in argv)
    # What the session parses is what the server was given.
    again = build_parser().parse_args(arguments)
    assert (again.exchange, again.receivers, again.scrollback) == ("-dashed", 5, 50)


def test_options_left_out_stay_out() -> None:
    assert dashboard_arguments(build_parser().parse_args(["serve"])) == []


def test_the_environment_carries_the_urls_and_the_sessions_own_data_dir(tmp_path: Path) -> None:
    settings = load_settings(
        urls=[SECRET, "amqp://alice:s3cret@rabbit2:5672/%2F"],
        management_url="http://alice:s3cret@rabbit:15672",
        env={},
        config_path=tmp_path / "absent.toml",
    )
    env = session_environment({"FANOUT_TUI_DATA_DIR": "/home/x"}, settings, tmp_path / "s1")
    assert env["FANOUT_TUI_DATA_DIR"] == str(tmp_path / "s1")
    assert env["FANOUT_TUI_MANAGEMENT_URL"] == "http://alice:s3cret@rabbit:15672"
    # The session reads back both nodes from the one variable.
    back = load_settings(env=env, config_path=tmp_path / "absent.toml")
    assert back.urls == settings.urls
    assert back.management_url == settings.management_url


def test_a_derived_management_url_is_derived_again_in_the_session(tmp_path: Path) -> None:
    settings = load_settings(urls=[SECRET], env={}, config_path=tmp_path / "absent.toml")
    base = {"FANOUT_TUI_MANAGEMENT_URL": "http://stale:15672"}
    env = session_environment(base, settings, tmp_path / "s1")
    assert "FANOUT_TUI_MANAGEMENT_URL" not in env
