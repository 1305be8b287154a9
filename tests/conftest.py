"""Shared fixtures: a real RabbitMQ for every test that speaks AMQP.

A private node started by pytest-rabbitmq when ``rabbitmq-server`` is
installed; otherwise the broker at ``FANOUT_TUI_TEST_URL``; otherwise the run
fails and says how to get one. Never a mock.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest
from pytest_rabbitmq import factories

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
def exchange() -> str:
    """A fresh exchange name, so tests never see each other's messages."""
    return f"test-{uuid.uuid4().hex[:10]}"


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
