"""The benchmark runs end to end (tiny counts). Its figures come from full runs,
never from here: this only proves every measurement still works."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(400)
def test_benchmark_smoke(broker_url: str, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    args = [
        sys.executable,
        str(ROOT / "benchmarks" / "fanout_bench.py"),
        "--url", broker_url,
        "--receivers", "1,2",
        "--messages", "300",
        "--repeat", "1",
        "--scaling", "1,2",
        "--memory-deliveries", "4000",
        "--latency-seconds", "1",
        "--json", str(out),
    ]  # fmt: skip
    proc = subprocess.run(args, capture_output=True, text=True, timeout=380, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    for n in ("1", "2"):
        burst = report["bursts"][n]
        assert burst["counts_exact"]
        assert burst["raw_per_s"] > 0 and burst["app_per_s"] > 0
        assert burst["loop_lateness_ms"]["n"] > 0
    assert report["steady_20_per_s_latency_ms"]["n"] >= 10
    assert report["memory"]["peak_rss_mb"] > 0
    assert report["startup"]["ctrl_n_to_consuming_ms"]["n"] == 5
    assert set(report["scaling"]) == {"1", "2"}
    assert "| app / raw deliveries/s, N = 1 |" in proc.stdout
    assert "Traceback" not in proc.stderr
