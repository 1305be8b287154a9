"""The benchmark runs end to end (tiny counts), one part at a time. Its figures
come from full runs, never from here: this proves every measurement still works,
counts what it should, and that the page renders what it measured."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import renderer

ROOT = Path(__file__).resolve().parent.parent


def run_bench(broker_url: str, tmp_path: Path, *options: str, timeout: float) -> dict[str, Any]:
    out = tmp_path / "bench.json"
    args = [
        sys.executable,
        str(ROOT / "benchmarks" / "fanout_bench.py"),
        "--url",
        broker_url,
        *options,
        "--json",
        str(out),
    ]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    report: dict[str, Any] = json.loads(out.read_text())
    assert report["run"]["kind"] == "smoke"
    return report


def rendered_rows(report: dict[str, Any]) -> dict[str, str]:
    """The page's results table for this report: figure -> measured."""
    return {row.figure: row.measured for row in renderer().rows(report)}


def assert_pair(pair: dict[str, Any], receivers: int, messages: int, pairs: int) -> None:
    assert pair["receivers"] == receivers and pair["messages"] == messages
    assert pair["counts_exact"], pair
    assert pair["raw_per_s"] > 0 and pair["app_per_s"] > 0 and pair["ratio"] > 0
    assert len(pair["ratios_all"]) == pairs


@pytest.mark.timeout(400)
def test_bursts_latency_startup_memory_and_scaling(broker_url: str, tmp_path: Path) -> None:
    report = run_bench(
        broker_url,
        tmp_path,
        "--parts", "bursts,latency,startup,memory,scaling",
        "--receivers", "1,2",
        "--messages", "300",
        "--repeat", "1",
        "--scaling", "1,2",
        "--memory-deliveries", "4000",
        "--large-memory-deliveries", "800",
        "--launch-receivers", "8",
        "--latency-seconds", "1",
        timeout=380,
    )  # fmt: skip
    for n in (1, 2):
        burst = report["bursts"][str(n)]
        assert_pair(burst, n, 300, 1)
        assert burst["loop_lateness_ms"]["n"] > 0
    assert report["steady_20_per_s_latency_ms"]["n"] >= 10
    assert report["memory"]["peak_rss_mb"] > 0 and report["memory"]["counts_exact"]
    assert report["memory"]["deliveries"] == 4000
    large = report["memory_large"]
    assert large["deliveries"] == 800 and large["body_bytes"] == 64 * 1024
    assert large["counts_exact"] and large["peak_rss_mb"] > 0
    assert report["startup"]["ctrl_n_to_consuming_ms"]["n"] == 5
    assert report["launch"]["receivers"] == 8
    assert report["launch"]["launch_to_all_consuming_ms"] > 0
    assert set(report["scaling"]) == {"1", "2"}
    for n, pair in report["scaling"].items():
        assert_pair(pair, int(n), 300, 1)
    assert set(report["run"]["seconds"]) == {"bursts", "latency", "startup", "memory", "scaling"}
    rows = rendered_rows(report)
    assert rows["app / raw deliveries/s, live burst, N = 1"].startswith(
        f"{report['bursts']['1']['app_per_s']:,} / "
    )
    assert rows["peak RSS, 800 deliveries of 64 KiB over 8 panes"].startswith(
        f"{large['peak_rss_mb']} MB"
    )


@pytest.mark.timeout(200)
def test_drains(broker_url: str, tmp_path: Path) -> None:
    report = run_bench(
        broker_url,
        tmp_path,
        "--parts", "drains",
        "--drain-receivers", "1,3",
        "--drain-messages", "500",
        "--drain-repeat", "1",
        timeout=180,
    )  # fmt: skip
    assert set(report["drains"]) == {"1", "3"}
    for n in (1, 3):
        assert_pair(report["drains"][str(n)], n, 500, 1)
    assert report["bursts"] == {}  # only the part asked for ran
    rows = rendered_rows(report)
    drain = report["drains"]["1"]
    assert rows["app / raw deliveries/s, drain, N = 1"].startswith(
        f"{drain['app_per_s']:,} / {drain['raw_per_s']:,} = "
    )
    assert rows["app / raw deliveries/s, drain, N = 8"] == "not measured in this run"


@pytest.mark.timeout(200)
def test_body_sizes(broker_url: str, tmp_path: Path) -> None:
    report = run_bench(
        broker_url,
        tmp_path,
        "--parts", "sizes",
        "--sizes", "1024,65536",
        "--size-messages", "300",
        "--large-messages", "60",
        "--size-repeat", "1",
        timeout=180,
    )  # fmt: skip
    assert set(report["sizes"]) == {"1024", "65536"}
    assert_pair(report["sizes"]["1024"], 8, 300, 1)
    assert_pair(report["sizes"]["65536"], 8, 60, 1)
    assert report["sizes"]["65536"]["body_bytes"] == 65536
    rows = rendered_rows(report)
    assert rows["app / raw deliveries/s, 64 KiB bodies, N = 8"].startswith(
        f"{report['sizes']['65536']['app_per_s']:,} / "
    )


@pytest.mark.timeout(200)
@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_the_app_and_the_tutorial_receivers_in_tmux(broker_url: str, tmp_path: Path) -> None:
    report = run_bench(
        broker_url,
        tmp_path,
        "--parts", "peers",
        "--peer-receivers", "3",
        "--peer-messages", "400",
        "--peer-repeat", "2",
        timeout=180,
    )  # fmt: skip
    peers = report["tmux_peers"]
    assert peers["receivers"] == 3 and peers["messages"] == 400
    assert peers["tutorial_per_s"] > 0 and peers["app_per_s"] > 0 and peers["ratio"] > 0
    assert len(peers["ratios_all"]) == 2
    rows = rendered_rows(report)
    figure = "app in tmux / tutorial receiver processes in tmux, deliveries/s, N = 3"
    assert rows[figure].startswith(f"{peers['app_per_s']:,} / {peers['tutorial_per_s']:,} = ")
