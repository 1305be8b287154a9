"""``fanout-tui serve`` in a real headless Chromium, against a real RabbitMQ.

One server and one browser for most of the module (each browser session starts
an app process with its own receivers); the session-limit and SIGTERM tests
start a small server of their own. The broker's side is read from its
management API (the exchange's bindings: one queue per receiver of each tab).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import pytest
from browser import chromium, click_text, have_browser, new_tab, screen_text, screenshot
from helpers import bind_tutorial_queue, consume, emit_log, unique_exchange, wait_for
from port_for import get_port

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(not have_browser(), reason="needs Debian's chromium and chromium-driver"),
]

PAGE_START = 40.0  # s for a tab's dashboard to show and its receivers to consume (2 shared cores)


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    exchange: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FANOUT_TUI_")}
    env["FANOUT_TUI_CONFIG"] = str(tmp / "absent-config.toml")
    env["FANOUT_TUI_DATA_DIR"] = str(tmp / "server-data")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_server(tmp: Path, node: Any, *extra: str) -> Served:
    port = get_port(None)
    exchange = unique_exchange()
    log = tmp / f"serve-{port}.log"
    argv = [
        sys.executable,
        "-m",
        "fanout_tui",
        "serve",
        "--port",
        str(port),
        "--url",
        node.amqp_url,
        "--management-url",
        node.api_url,
        "--exchange",
        exchange,
        *extra,
    ]
    with log.open("w") as out:
        process = subprocess.Popen(
            argv, env=_env(tmp), stdout=out, stderr=subprocess.STDOUT, text=True
        )
    served = Served(process, f"http://127.0.0.1:{port}", exchange, log)
    wait_for(lambda: "serving the dashboard at" in served.output(), 20, what="the start line")
    return served


def stop_server(served: Served) -> None:
    if served.process.poll() is None:
        served.process.terminate()
        try:
            served.process.wait(10)
        except subprocess.TimeoutExpired:
            served.process.kill()
            served.process.wait(5)


def bound_queues(node: Any, exchange: str) -> list[str]:
    """The queues bound to ``exchange``, as the broker's management API lists them."""
    path = f"/api/exchanges/%2F/{urllib.parse.quote(exchange, safe='')}/bindings/source"
    request = urllib.request.Request(
        node.api_url + path,
        headers={"Authorization": "Basic " + base64.b64encode(b"guest:guest").decode()},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return sorted(b["destination"] for b in json.load(response))
    except urllib.error.HTTPError as exc:
        if exc.code == 404:  # the exchange is not declared (yet)
            return []
        raise


def sessions_of(served: Served) -> list[int]:
    """The server's child processes: one app per browser session."""
    pid = served.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in children.read_text().split()]
    except FileNotFoundError:
        return []


def argv_of(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def data_dir_of(pid: int) -> Path:
    """The session's own data directory (its history), from its environment."""
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    entry = next(e for e in environ if e.startswith(b"FANOUT_TUI_DATA_DIR="))
    return Path(entry.split(b"=", 1)[1].decode())


def open_dashboard(driver: Any, served: Served, receivers: int) -> str:
    """Load the page and wait until its dashboard shows ``receivers`` consuming."""
    driver.get(served.url + "/")
    want = f"{receivers} receiver{'s' if receivers != 1 else ''}, {receivers} consuming"
    wait_for(
        lambda: want in screen_text(driver),
        PAGE_START,
        0.2,
        what=f"the page's dashboard with {want!r}",
    )
    click_text(driver, "Type a message")  # the page's keys go where a person clicked
    return screen_text(driver)


def type_in_page(driver: Any, *keys: str) -> None:
    """Keys to the page's terminal, which has the focus (as after a click in it)."""
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(*keys).perform()


@pytest.fixture(scope="module")
def node(management_node: Any) -> Any:
    return management_node


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serve")


@pytest.fixture(scope="module")
def served(workdir: Path, node: Any) -> Iterator[Served]:
    server = start_server(workdir, node, "--receivers", "2")
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def browser(workdir: Path) -> Iterator[tuple[Any, Path]]:
    downloads = workdir / "downloads"
    downloads.mkdir()
    with chromium(downloads) as driver:
        yield driver, downloads


@pytest.fixture(scope="module")
def page(served: Served, browser: tuple[Any, Path], node: Any) -> Any:
    """The first tab, showing its dashboard; its two queues are on the broker."""
    driver, _ = browser
    open_dashboard(driver, served, 2)
    wait_for(lambda: len(bound_queues(node, served.exchange)) == 2, 15, what="2 queues bound")
    return driver


# The tests -------------------------------------------------------------------------


def test_a_tab_is_a_dashboard_whose_session_holds_no_password_in_argv(
    page: Any, served: Served, node: Any
) -> None:
    queues = bound_queues(node, served.exchange)
    assert len(queues) == 2 and all(q.startswith("amq.gen-") for q in queues), queues
    text = screen_text(page)
    assert "R1" in text and "R2" in text
    assert "In a browser: Up recalls what was typed in this tab only" in text
    (session,) = sessions_of(served)
    argv = argv_of(session)
    # Started by this Python, no shell in between, and no URL (with its password) in argv.
    assert argv[:3] == [sys.executable, "-m", "fanout_tui"], argv
    assert f"--exchange={served.exchange}" in argv
    assert not any("amqp://" in a or "guest:guest" in a for a in argv), argv
    environ = Path(f"/proc/{session}/environ").read_bytes().split(b"\0")
    assert f"FANOUT_TUI_URL={node.amqp_url}".encode() in environ
    # The session's data directory is its own, not the server user's.
    assert "fanout-tui-serve-" in str(data_dir_of(session))
    # The start line says what is exposed.
    output = served.output()
    assert "there is no login: anyone who can reach this port can publish" in output
    assert "guest:guest" not in output


def test_typing_in_the_page_publishes_and_a_pika_message_shows_in_it(
    page: Any, served: Served, node: Any
) -> None:
    from selenium.webdriver.common.keys import Keys

    connection = pika.BlockingConnection(pika.URLParameters(node.amqp_url))
    try:
        channel, queue = bind_tutorial_queue(connection, served.exchange, declare=False)
        type_in_page(page, "typed in the browser", Keys.ENTER)
        ((_, properties, body),) = consume(connection, channel, queue, 1, timeout=20)
    finally:
        connection.close()
    assert body == b"typed in the browser"
    assert properties.headers["x-fanout-seq"] == 1
    # What the visitor typed is kept in the tab's own history, not the server user's.
    (session,) = sessions_of(served)
    history = data_dir_of(session) / "history.txt"
    wait_for(history.exists, 5, what="the session's history file")
    assert json.loads(history.read_text()) == "typed in the browser"
    assert not (served.log.parent / "server-data").exists()
    wait_for(lambda: "→ 2/2 receivers" in screen_text(page), 15, 0.2, what="the result line, 2/2")
    emit_log(node.amqp_url, served.exchange, "info: sent by a plain pika program")
    wait_for(
        lambda: screen_text(page).count("info: sent by a plain pika program") == 2,
        15,
        0.2,
        what="the pika program's message in both panes",
    )
    # The README's picture of the page: FANOUT_TUI_WEB_SCREENSHOT=docs/serve.png
    # (kept small: see docs/serving.md for how it is made).
    if shot := os.environ.get("FANOUT_TUI_WEB_SCREENSHOT"):
        Path(shot).write_bytes(screenshot(page, scale=0.7))


def test_an_export_from_the_page_is_a_browser_download(
    page: Any, browser: tuple[Any, Path], served: Served
) -> None:
    from selenium.webdriver.common.keys import Keys

    _, downloads = browser
    # The footer's palette control, clicked with the mouse (a click in the page
    # is a terminal click; ctrl+p opens it too).
    click_text(page, "palette")
    type_in_page(page, "Export pane")
    wait_for(lambda: "Export pane to JSON Lines" in screen_text(page), 10, 0.2)
    type_in_page(page, Keys.ENTER)

    def downloaded() -> list[Path]:
        return [p for p in downloads.glob("*.jsonl") if p.stat().st_size > 0]

    wait_for(lambda: downloaded(), 20, 0.2, what="a .jsonl file in the download directory")
    (file,) = downloaded()
    assert file.name.startswith("R2-")  # the input has focus: the newest pane
    records = [json.loads(line) for line in file.read_text().splitlines()]
    assert [r["body"] for r in records] == [
        "typed in the browser",
        "info: sent by a plain pika program",
    ]
    wait_for(lambda: "your browser downloads" in screen_text(page), 10, 0.2)
    (session,) = sessions_of(served)
    assert list(data_dir_of(session).rglob("*.jsonl")) == []  # no copy on the server


def test_closing_a_tab_ends_its_session_and_its_queues(
    page: Any, served: Served, node: Any
) -> None:
    first = page.current_window_handle
    new_tab(page)
    try:
        open_dashboard(page, served, 2)
        wait_for(lambda: len(bound_queues(node, served.exchange)) == 4, 15, what="4 queues")
        first_session, second_session = sessions_of(served)
        second_data = data_dir_of(second_session)
        assert second_data != data_dir_of(first_session)
    finally:
        page.close()
        page.switch_to.window(first)
    wait_for(lambda: len(bound_queues(node, served.exchange)) == 2, 10, what="back to 2 queues")
    wait_for(lambda: len(sessions_of(served)) == 1, 10, what="the closed tab's app ended")
    wait_for(lambda: not second_data.exists(), 5, what="the closed tab's data directory gone")


def test_a_bad_option_fails_at_the_terminal_before_anything_is_served(workdir: Path) -> None:
    port = get_port(None)
    for bad in (
        ["--receivers", "abc"],
        ["--receivers", "65"],
        ["--url", "http://guest:s3cret@localhost/"],
        ["--public-url", "ftp://example.org"],
        ["--max-sessions", "0"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "fanout_tui", "serve", "--port", str(port), *bad],
            env=_env(workdir),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 2, (bad, result.stderr)
        assert len(result.stderr.splitlines()) == 1, (bad, result.stderr)
        assert result.stdout == "", bad  # never said it was serving
        assert "s3cret" not in result.stderr and "Traceback" not in result.stderr


def test_max_sessions_refuses_another_tab_and_sigterm_ends_everything(
    workdir: Path, node: Any, browser: tuple[Any, Path]
) -> None:
    driver, _ = browser
    served = start_server(workdir, node, "--receivers", "1", "--max-sessions", "1")
    first = driver.current_window_handle
    try:
        new_tab(driver)
        open_dashboard(driver, served, 1)
        wait_for(lambda: len(bound_queues(node, served.exchange)) == 1, 15, what="1 queue")
        new_tab(driver)
        driver.get(served.url + "/")
        assert "already has 1 browser session open" in driver.page_source
        assert "--max-sessions 1" in driver.page_source
        (session,) = sessions_of(served)

        started = time.monotonic()
        served.process.send_signal(signal.SIGTERM)
        served.process.wait(10)
        took = time.monotonic() - started
    finally:
        stop_server(served)
        for handle in driver.window_handles:
            if handle != first:
                driver.switch_to.window(handle)
                driver.close()
        driver.switch_to.window(first)
    output = served.output()
    assert took < 3.0, f"the server took {took:.1f} s to stop\n{output}"
    assert served.process.returncode == 0, output
    assert "Traceback" not in output and "Error" not in output, output
    assert not Path(f"/proc/{session}").exists()
    wait_for(lambda: bound_queues(node, served.exchange) == [], 5, what="no queue left")


def test_another_sites_page_cannot_open_a_session(served: Served) -> None:
    """A WebSocket has no same-origin rule: the server checks Origin (and, on a
    loopback address, every route refuses the Host a rebound DNS name would
    bring: tests/test_serve_hosts.py)."""
    port = urllib.parse.urlsplit(served.url).port

    def status(headers: dict[str, str]) -> int:
        request = urllib.request.Request(served.url + "/ws", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    assert status({"Origin": "https://evil.example"}) == 403
    rebound = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    assert status(rebound) == 421  # Misdirected Request
    assert status({}) == 403  # no Origin: not a browser's page
    # The server's own origin passes the check (and then wants a WebSocket upgrade).
    assert status({"Origin": served.url}) == 400


def test_a_port_in_use_is_one_line_and_exit_1(served: Served, workdir: Path) -> None:
    port = str(urllib.parse.urlsplit(served.url).port)
    result = subprocess.run(
        [sys.executable, "-m", "fanout_tui", "serve", "--port", port],
        env=_env(workdir),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1, result.stderr
    assert (
        result.stderr == f"fanout-tui: cannot listen on 127.0.0.1:{port}: address already in use\n"
    )
