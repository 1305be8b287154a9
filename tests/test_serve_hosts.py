"""``fanout-tui serve`` on a loopback address answers loopback host names only.

A real server process, real HTTP requests (no browser needed): a foreign
``Host`` (a DNS name rebound to 127.0.0.1) gets 421 Misdirected Request on
every route, and its name is never written into a page; a loopback name gets
the page, whose URLs carry that name. No session starts, so no broker is reached.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from helpers import closed_port, wait_for
from port_for import get_port

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    tmp = tmp_path_factory.mktemp("serve-hosts")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FANOUT_TUI_")}
    env["FANOUT_TUI_CONFIG"] = str(tmp / "absent-config.toml")
    env["FANOUT_TUI_DATA_DIR"] = str(tmp / "data")
    env["PYTHONUNBUFFERED"] = "1"
    number = get_port(None)
    log = tmp / "serve.log"
    argv = [sys.executable, "-m", "fanout_tui", "serve", "--port", str(number)]
    argv += ["--url", f"amqp://guest:guest@127.0.0.1:{closed_port()}/%2F"]
    with log.open("w") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "serving the dashboard at" in log.read_text(), 30, what="the start line")
        yield number
    finally:
        process.terminate()
        process.wait(10)


def get(port: int, path: str, host: str | None) -> tuple[int, str]:
    """GET ``path`` with exactly this ``Host`` header (None: none at all)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=True)
        if host is not None:
            connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


@pytest.mark.parametrize("path", ["/", "/ws", "/static/js/textual.js"])
def test_a_foreign_host_name_is_refused_with_421_on_every_route(port: int, path: str) -> None:
    status, body = get(port, path, f"evil.example:{port}")
    assert status == 421, body
    assert body.startswith("fanout-tui: refused: the host name 'evil.example:")
    assert "ws://evil.example" not in body


def test_a_request_without_a_host_header_is_refused(port: int) -> None:
    # HTTP/1.1 requires Host: aiohttp answers 400 before the check would say 421.
    status, body = get(port, "/", None)
    assert status in (400, 421), body
    assert "ws://" not in body


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "[::1]", "LOCALHOST"])
def test_a_loopback_host_name_gets_the_page_with_its_own_urls(port: int, name: str) -> None:
    status, body = get(port, "/", f"{name}:{port}")
    assert status == 200, body
    assert f"ws://{name}:{port}/ws" in body
    assert get(port, "/static/js/textual.js", f"{name}:{port}")[0] == 200
