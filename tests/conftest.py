"""Shared fixtures: a real RabbitMQ for every test that speaks AMQP.

A private node started by pytest-rabbitmq when ``rabbitmq-server`` is
installed; otherwise the broker at ``FANOUT_TUI_TEST_URL``; otherwise the run
fails and says how to get one. Never a mock.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pika
import pytest
from faultproxy import FaultProxy
from helpers import unique_exchange, wait_for
from mirakuru.exceptions import ProcessExitedWithError
from nodes import Cluster, ExecutorWithEnv, start_cluster
from port_for import get_port
from pytest_rabbitmq import factories
from pytest_rabbitmq.config import get_config

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
NO_BROKER = (
    "these tests need a real RabbitMQ: install rabbitmq-server (apt-get install rabbitmq-server) "
    "so the tests can start a private node, or set FANOUT_TUI_TEST_URL=amqp://user:pass@host:5672/%2F"
)


def _have_rabbitmq_server() -> bool:
    return Path(RABBITMQ_SERVER).exists() or shutil.which("rabbitmq-server") is not None


@pytest.fixture(scope="session")
def private_node_env(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Environment every private node starts with."""
    # The machine-wide rabbitmq.conf may pin a listener (e.g. 127.0.0.1:5672,
    # taken by the system node); give private nodes a config of their own so the
    # port pytest-rabbitmq picks is the one they listen on.
    conf = tmp_path_factory.mktemp("rabbitmq-conf") / "rabbitmq.conf"
    conf.write_text("# private test node: listeners come from RABBITMQ_NODE_PORT\n")
    os.environ["RABBITMQ_CONFIG_FILE"] = str(conf)
    os.environ["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1"


def node_url(node: Any) -> str:
    return f"amqp://guest:guest@{node.host}:{node.port}/%2F"


@pytest.fixture(scope="session")
def broker_url(request: pytest.FixtureRequest) -> str:
    """URL of a broker only this test session uses."""
    if _have_rabbitmq_server():
        request.getfixturevalue("private_node_env")
        return node_url(request.getfixturevalue("rabbitmq_proc"))
    url = os.environ.get("FANOUT_TUI_TEST_URL")
    if url:
        return url
    pytest.fail(NO_BROKER, pytrace=False)


# Two more private nodes, started only by the fault-injection tests, which stop,
# kill and restart them; the session's main node is never disturbed.
rabbitmq_fault_a = factories.rabbitmq_proc()
rabbitmq_fault_b = factories.rabbitmq_proc()


def _fault_node(request: pytest.FixtureRequest, name: str) -> Any:
    if not _have_rabbitmq_server():
        pytest.skip("fault injection needs private nodes (rabbitmq-server installed)")
    request.getfixturevalue("private_node_env")
    node = request.getfixturevalue(name)
    if not node.running():  # a previous test may have left it stopped or killed
        node.start()
    return node


@pytest.fixture
def fault_node(request: pytest.FixtureRequest) -> Any:
    """A private node of its own that the test may stop, kill and restart."""
    return _fault_node(request, "rabbitmq_fault_a")


@pytest.fixture
def second_fault_node(request: pytest.FixtureRequest) -> Any:
    """Another independent node (not clustered), for fail-over."""
    return _fault_node(request, "rabbitmq_fault_b")


@pytest.fixture
def fault_link(broker_url: str, broker_node: Any) -> Iterator[FaultProxy]:
    """A path to the session's private node that the test may delay, throttle
    and blackhole (tests/faultproxy.py); closed, its thread joined, at the end."""
    parts = urlsplit(broker_url)
    with FaultProxy(parts.hostname or "127.0.0.1", parts.port or 5672) as proxy:
        yield proxy


@pytest.fixture
def exchange() -> str:
    """A fresh exchange name, so tests never see each other's messages."""
    return unique_exchange()


@pytest.fixture
def pika_connection(broker_url: str) -> Iterator[pika.BlockingConnection]:
    """A plain pika connection, for writing tutorial-style programs in tests."""
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    yield connection
    if connection.is_open:
        connection.close()


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep config, history and exports out of the real user's directories."""
    monkeypatch.setenv("FANOUT_TUI_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("FANOUT_TUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("FANOUT_TUI_URL", raising=False)
    monkeypatch.delenv("FANOUT_TUI_EXCHANGE", raising=False)
    return tmp_path


@pytest.fixture
def broker_node(broker_url: str, request: pytest.FixtureRequest) -> Any:
    """The session's private node, for tests that disrupt connections but leave
    the node running. A broker given by FANOUT_TUI_TEST_URL is somebody else's:
    fault injection is skipped there, with this reason, rather than done to it.
    """
    if not _have_rabbitmq_server():
        pytest.skip("fault injection needs a private node (rabbitmq-server installed)")
    return request.getfixturevalue("rabbitmq_proc")


# A node with the management plugin ------------------------------------------------


@dataclass(frozen=True)
class ManagementNode:
    """A private RabbitMQ node with ``rabbitmq_management`` enabled."""

    amqp_url: str  # amqp://guest:guest@127.0.0.1:<port>/%2F
    api_url: str  # http://127.0.0.1:<port>, no credentials
    startup_seconds: float  # from start until the HTTP API answered


def _api_answers(api_url: str) -> bool:
    request = urllib.request.Request(
        f"{api_url}/api/overview",
        headers={"Authorization": "Basic " + base64.b64encode(b"guest:guest").decode()},
    )
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


@pytest.fixture(scope="session")
def management_node(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ManagementNode]:
    """A node of its own with the management HTTP API on a free port.

    Started only by the tests that ask for it (the session's other nodes have no
    management plugin); stopped at the end of the session.
    """
    if not _have_rabbitmq_server():
        pytest.skip("the management API tests need a private node (rabbitmq-server installed)")
    config = get_config(request)
    amqp_port = get_port(None)
    dist_port = get_port(None, [amqp_port])
    http_port = get_port(None, [amqp_port, dist_port])
    assert amqp_port and dist_port and http_port
    base = tmp_path_factory.mktemp("rabbitmq-management")
    (base / "plugins").write_text("[rabbitmq_management].\n")
    # Its own config: the machine-wide rabbitmq.conf may pin the AMQP listener.
    conf = base / "rabbitmq.conf"
    conf.write_text(f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {http_port}\n")
    node = ExecutorWithEnv(
        config.server,
        "127.0.0.1",
        amqp_port,
        dist_port,
        config.ctl,
        logpath=base / "logs",
        path=base,
        plugin_path=base,  # the "plugins" file above
        extra_env={
            "RABBITMQ_CONFIG_FILE": str(conf),
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODENAME": f"rabbitmq-mgmt-{amqp_port}",
        },
    )
    started = time.monotonic()
    node.start()  # returns once AMQP accepts connections
    api_url = f"http://127.0.0.1:{http_port}"
    wait_for(lambda: _api_answers(api_url), timeout=60, interval=0.1)
    yield ManagementNode(
        amqp_url=f"amqp://guest:guest@127.0.0.1:{amqp_port}/%2F",
        api_url=api_url,
        startup_seconds=time.monotonic() - started,
    )
    with contextlib.suppress(ProcessExitedWithError):
        node.stop()


@pytest.fixture
def node_connection(management_node: Any) -> Iterator[pika.BlockingConnection]:
    """A plain pika program's connection to the management node."""
    connection = pika.BlockingConnection(pika.URLParameters(management_node.amqp_url))
    yield connection
    if connection.is_open:
        connection.close()


# A real cluster ------------------------------------------------------------------


@pytest.fixture(scope="session")
def rabbitmq_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """Three private nodes joined into one cluster (``rabbitmqctl join_cluster``),
    started once, by the tests that ask for it, and stopped at the session's end.
    A test that stops a node's app starts it again before it ends."""
    if not _have_rabbitmq_server():
        pytest.skip("the cluster tests need private nodes (rabbitmq-server installed)")
    config = get_config(request)
    yield from start_cluster(config.server, config.ctl, tmp_path_factory.mktemp("cluster"))
