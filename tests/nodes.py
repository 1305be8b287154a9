"""Private RabbitMQ nodes with an environment of their own, and a real
three-node cluster made of them.

Every node gets its own name (``RABBITMQ_NODENAME``), AMQP and distribution
ports, mnesia and log directories and config file (the machine-wide
rabbitmq.conf may pin the AMQP listener). The nodes of the cluster share the
Erlang cookie of the user running the tests (``$HOME/.erlang.cookie``, which
rabbitmqctl uses too), so they may talk to each other.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers import wait_for
from mirakuru.exceptions import ProcessExitedWithError
from port_for import get_port
from pytest_rabbitmq.factories.executor import RabbitMqExecutor

START_TIMEOUT = 90.0  # a node on a loaded two-core machine takes a while


class ExecutorWithEnv(RabbitMqExecutor):
    """pytest-rabbitmq's executor with extra environment of its own.

    The executor hands ``os.environ`` plus its own variables to rabbitmq-server
    (and rabbitmqctl) each time; these win over both.
    """

    def __init__(self, *args: Any, extra_env: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._extra_env = extra_env

    @property
    def envvars(self) -> dict[str, str]:
        return {**super().envvars, **self._extra_env}


def free_ports(count: int) -> list[int]:
    ports: list[int] = []
    for _ in range(count):
        port = get_port(None, ports)
        assert port
        ports.append(port)
    return ports


@dataclass
class ClusterNode:
    executor: ExecutorWithEnv
    name: str  # the Erlang node name, rabbit-style: fanout-c1-5001@host
    port: int

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def ctl(self, *args: str) -> str:
        return self.executor.rabbitctl_output(*args)

    def stop_app(self) -> None:
        """Stop RabbitMQ on this node (the Erlang VM stays): every client
        connection is closed with 'shutdown' and its exclusive queues die."""
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")
        wait_for(self.accepts, timeout=START_TIMEOUT, what=f"{self.name} accepting AMQP")

    def accepts(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True


@dataclass
class Cluster:
    nodes: list[ClusterNode]

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(node.url for node in self.nodes)

    def running_nodes(self) -> str:
        return self.nodes[0].ctl("cluster_status")


def start_cluster(server: str, ctl: str, base: Path, size: int = 3) -> Iterator[Cluster]:
    """Start ``size`` private nodes, join the others to the first, yield the
    cluster, and stop every node afterwards (a generator for a fixture)."""
    host = socket.gethostname().split(".")[0]
    nodes: list[ClusterNode] = []
    ports = free_ports(2 * size)
    try:
        for i in range(size):
            amqp_port, dist_port = ports[2 * i], ports[2 * i + 1]
            home = base / f"node{i + 1}"
            home.mkdir()
            (home / "plugins").write_text("[].\n")
            conf = home / "rabbitmq.conf"
            conf.write_text("# a cluster test node: listeners come from RABBITMQ_NODE_PORT\n")
            short = f"fanout-c{i + 1}-{amqp_port}"
            executor = ExecutorWithEnv(
                server,
                "127.0.0.1",
                amqp_port,
                dist_port,
                ctl,
                logpath=home / "logs",
                path=home,
                plugin_path=home,
                extra_env={
                    "RABBITMQ_CONFIG_FILE": str(conf),
                    "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                    "RABBITMQ_NODENAME": short,
                },
            )
            nodes.append(ClusterNode(executor, f"{short}@{host}", amqp_port))
        # The first alone (it may have to write the Erlang cookie), then the others together.
        nodes[0].executor.start()
        _start_together([node.executor for node in nodes[1:]])
        for node in nodes[1:]:
            node.ctl("stop_app")
            node.ctl("join_cluster", nodes[0].name)
            node.start_app()
        cluster = Cluster(nodes)
        status = cluster.running_nodes()
        assert all(node.name in status for node in nodes), status
        yield cluster
    finally:
        for node in reversed(nodes):
            with contextlib.suppress(ProcessExitedWithError, Exception):
                node.executor.stop()


def _start_together(executors: list[ExecutorWithEnv]) -> None:
    errors: list[BaseException] = []

    def start(executor: ExecutorWithEnv) -> None:
        try:
            executor.start()
        except BaseException as exc:  # re-raised below, in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(e,), name="node start") for e in executors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(START_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a cluster node did not start in time"
    if errors:
        raise errors[0]
