"""`fanout-tui publish` numbers its messages on across runs: `cli#N` in `listen`
and in the dashboard, never `#1` every time nor `ext`."""

# ruff: noqa: F811  (test_cli's fixtures, imported, are parameters here)

from __future__ import annotations

from pathlib import Path

from helpers import running_app, until
from test_app import has_line
from test_cli import Listen, cli_env, config, run_cli  # noqa: F401 (the fixtures)

from fanout_tui.model.cli_numbers import reserve


def test_runs_of_publish_are_numbered_on_and_listen_says_cli(
    cli_env: dict[str, str], broker_url: str, exchange: str
) -> None:
    listen = Listen(cli_env, "--url", broker_url, "--exchange", exchange, "--count", "3")
    try:
        listen.wait_until_listening()
        for body in ("one", "two", "three"):
            done = run_cli(cli_env, "publish", "--url", broker_url, "--exchange", exchange, body)
            assert done.returncode == 0, done.stderr
        code = listen.finish()
    finally:
        listen.close()
    assert code == 0, listen.stderr
    labels = [line.split(" ", 2)[0] for line in listen.stdout.splitlines()]
    bodies = [line.split(" ", 2)[2] for line in listen.stdout.splitlines()]
    assert labels == ["cli#1", "cli#2", "cli#3"] and bodies == ["one", "two", "three"]


async def test_the_dashboard_tells_its_own_clis_messages_from_other_programs(
    cli_env: dict[str, str], broker_url: str
) -> None:
    async with running_app(broker_url, receivers=1) as (app, pilot):
        exchange = app.dashboard.broker.exchange
        args = ("publish", "--url", broker_url, "--exchange", exchange)
        for body in ("first", "second"):
            assert run_cli(cli_env, *args, body).returncode == 0
        pane = app.panes[0]
        await until(pilot, lambda: len(pane.deliveries()) == 2, 10, what="both CLI messages")
        assert has_line(pane, "cli#1", "first") and has_line(pane, "cli#2", "second")
        assert not has_line(pane, "ext")


def test_the_counter_is_shared_and_an_unusable_one_numbers_from_1(tmp_path: Path) -> None:
    path = tmp_path / "numbers.json"
    assert reserve(path, 3) == 1
    assert reserve(path, 1) == 4  # a run after a run of three
    path.write_text("not json")
    assert reserve(path, 2) == 1  # damaged: starts again
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert reserve(blocked / "numbers.json", 5) == 1  # cannot be made: numbered from 1
