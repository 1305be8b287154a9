"""What the run was measured on: CPU, cores, memory, Python, libraries, broker."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Any

from fanout_tui.transport.management import (
    ManagementUnavailable,
    ManagementUrlError,
    broker_version,
    management_settings,
)

UNKNOWN = "unknown"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return UNKNOWN


def rabbitmq_version(url: str, management_url: str | None) -> str:
    """What the broker's management API says it is; "unknown" when it does not
    answer (pika keeps the AMQP handshake's server properties private)."""
    try:
        return broker_version(management_settings(url, management_url))
    except (ManagementUnavailable, ManagementUrlError, ValueError):
        return UNKNOWN


def machine(url: str, management_url: str | None) -> dict[str, Any]:
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "python": platform.python_version(),
        "pika": _version("pika"),
        "textual": _version("textual"),
        "rabbitmq": rabbitmq_version(url, management_url),
        "platform": platform.platform(),
    }
