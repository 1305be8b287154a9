"""Render docs/performance.md from the benchmark's JSON report.

    python benchmarks/render_performance.py [--input FILE] [--output FILE] [--check]

The input is benchmarks/results/latest.json (what fanout_bench.py writes by
default); the output docs/performance.md. The page is the run, the targets,
one table of results with each figure next to its target, then the method
(benchmarks/performance_method.md, as it is). Nothing in it is typed by hand,
so tests/test_docs.py can check it is exactly what this script renders from
the committed report. ``--check`` exits 1 when the page is stale.

The targets live here, once: the table judges each figure against them, and
only a full run is judged (a smoke run's tiny counts prove the benchmark works,
nothing more).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INPUT = ROOT / "benchmarks" / "results" / "latest.json"
OUTPUT = ROOT / "docs" / "performance.md"
# The page's prose after the results: how it is measured and what bounds what.
METHOD = Path(__file__).resolve().parent / "performance_method.md"
SCHEMA = 1

# What every figure must reach, and how it is judged. The texts are shown as is.
RATIO = 0.90  # app / raw deliveries per second, at each burst N
RATIO_32 = 0.80  # app / raw at N = 32, all receivers consuming
LATENESS_P99_MS = 100.0  # event-loop lateness during a burst, p99
KEY_MAX_MS = 100.0  # key press to screen during a burst, worst
STEADY_P50_MS = 30.0  # publish-to-display at 20 msg/s
STEADY_P99_MS = 100.0
RSS_PEAK_MB = 150.0  # peak RSS over 1,000,000 deliveries on 8 panes...
RSS_GROWTH_MB = 10.0  # ...and flat: at most this much growth over the second half
CTRL_N_MAX_MS = 250.0  # ctrl+n to the new receiver consuming, worst

TARGETS = [
    f"**Throughput**: the app delivers at least {RATIO:.2f} of the raw pika ceiling's "
    "deliveries per second at every N of the burst (N = 1 and N = 8 in a full run), and at "
    f"least {RATIO_32:.2f} at N = 32 with every receiver consuming.",
    f"**Responsiveness during a burst**: the event loop's lateness p99 at most "
    f"{LATENESS_P99_MS:.0f} ms, and no key press takes more than {KEY_MAX_MS:.0f} ms to reach "
    "the screen.",
    f"**Latency**: publish-to-display at 20 msg/s p50 at most {STEADY_P50_MS:.0f} ms, p99 at "
    f"most {STEADY_P99_MS:.0f} ms.",
    f"**Memory**: peak RSS over 1,000,000 deliveries on 8 panes at most {RSS_PEAK_MB:.0f} MB, "
    f"and flat: at most {RSS_GROWTH_MB:.0f} MB more over the second half than at its start.",
    f"**Adding a receiver**: `ctrl+n` to the new receiver consuming at most "
    f"{CTRL_N_MAX_MS:.0f} ms.",
]


@dataclass(frozen=True)
class Row:
    figure: str
    measured: str
    target: str
    met: bool


def _ms(value: Any) -> str:
    return "none" if value is None else f"{value:g} ms"


def _n_sorted(items: dict[str, Any]) -> list[tuple[str, Any]]:
    return sorted(items.items(), key=lambda kv: int(kv[0]))


def _ratio_text(b: dict[str, Any]) -> str:
    text = f"{b['app_per_s']:,} / {b['raw_per_s']:,} = {b['ratio']:.2f}"
    pairs = b.get("ratios_all") or []
    if len(pairs) > 1:
        text += " (pairs " + ", ".join(f"{r:.2f}" for r in pairs) + ")"
    if not b.get("counts_exact", True):
        text += "; **counts not exact**"
    return text


def rows(report: dict[str, Any]) -> list[Row]:
    """Every figure of the report that has a target, judged against it."""
    out: list[Row] = []
    bursts = _n_sorted(report["bursts"])
    for n, b in bursts:
        out.append(
            Row(
                f"app / raw deliveries/s, N = {n}",
                _ratio_text(b),
                f"≥ {RATIO:.2f}",
                b["ratio"] >= RATIO and b.get("counts_exact", True),
            )
        )
    for n, b in bursts:
        lat, key = b["loop_lateness_ms"], b["key_to_screen_ms"]
        out.append(
            Row(
                f"event-loop lateness during burst, N = {n}",
                f"p50 {_ms(lat.get('p50'))}, p99 {_ms(lat.get('p99'))}, "
                f"max {_ms(lat.get('max'))} ({lat.get('n', 0):,} samples)",
                f"p99 ≤ {LATENESS_P99_MS:.0f} ms",
                lat.get("n", 0) > 0 and lat["p99"] <= LATENESS_P99_MS,
            )
        )
        out.append(
            Row(
                f"key press to screen during burst, N = {n}",
                f"p50 {_ms(key.get('p50'))}, max {_ms(key.get('max'))} "
                f"({key.get('n', 0):,} presses)",
                f"max ≤ {KEY_MAX_MS:.0f} ms",
                key.get("n", 0) > 0 and key["max"] <= KEY_MAX_MS,
            )
        )
    steady = report.get("steady_20_per_s_latency_ms")
    if steady is not None:
        out.append(
            Row(
                "publish-to-display at 20 msg/s",
                f"p50 {_ms(steady.get('p50'))}, p99 {_ms(steady.get('p99'))} "
                f"({steady.get('n', 0):,} messages)",
                f"p50 ≤ {STEADY_P50_MS:.0f} ms, p99 ≤ {STEADY_P99_MS:.0f} ms",
                steady.get("n", 0) > 0
                and steady["p50"] <= STEADY_P50_MS
                and steady["p99"] <= STEADY_P99_MS,
            )
        )
    memory = report.get("memory")
    if memory is not None:
        deliveries = report["run"]["settings"]["memory_deliveries"]
        out.append(
            Row(
                f"peak RSS, {deliveries:,} deliveries over 8 panes",
                f"{memory['peak_rss_mb']} MB, +{memory['growth_over_last_half_mb']} MB "
                "over the second half",
                f"≤ {RSS_PEAK_MB:.0f} MB, flat (≤ +{RSS_GROWTH_MB:.0f} MB)",
                memory["peak_rss_mb"] <= RSS_PEAK_MB
                and memory["growth_over_last_half_mb"] <= RSS_GROWTH_MB,
            )
        )
    startup = report.get("startup")
    if startup is not None:
        consuming = startup["ctrl_n_to_consuming_ms"]
        out.append(
            Row(
                "`ctrl+n` to the new receiver consuming",
                f"p50 {_ms(consuming.get('p50'))}, max {_ms(consuming.get('max'))} "
                f"({consuming.get('n', 0)} presses)",
                f"max ≤ {CTRL_N_MAX_MS:.0f} ms",
                consuming.get("n", 0) > 0 and consuming["max"] <= CTRL_N_MAX_MS,
            )
        )
    scaling = report.get("scaling") or {}
    if "32" in scaling:
        s = scaling["32"]
        lat, key = s["loop_lateness_ms"], s["key_to_screen_ms"]
        out.append(
            Row(
                "app / raw deliveries/s, N = 32, all consuming (one pair)",
                f"{_ratio_text(s)}; loop lateness p99 {_ms(lat.get('p99'))}, "
                f"key press max {_ms(key.get('max'))}",
                f"≥ {RATIO_32:.2f}",
                s["ratio"] >= RATIO_32 and s.get("counts_exact", True),
            )
        )
    return out


def untargeted(report: dict[str, Any]) -> list[str]:
    """Figures measured for information, with no target."""
    out: list[str] = []
    startup = report.get("startup")
    if startup is not None:
        shown = startup["ctrl_n_to_screen_ms"]
        out.append(
            f"`ctrl+n` to the new pane on screen: p50 {_ms(shown.get('p50'))}, "
            f"max {_ms(shown.get('max'))}"
        )
        out.append("launch to 8 receivers consuming: " + _ms(startup["launch_to_all_consuming_ms"]))
    scaling = [(n, s) for n, s in _n_sorted(report.get("scaling") or {}) if n != "32"]
    if scaling:
        out.append(
            "scaling, app / raw (one pair each): "
            + ", ".join(f"N = {n} {s['ratio']:.2f}" for n, s in scaling)
        )
    return out


def _run_section(report: dict[str, Any]) -> list[str]:
    run, m = report["run"], report["machine"]
    settings = run["settings"]
    lines = []
    if run["kind"] == "full":
        lines += [
            "These figures come from a **full run** of `benchmarks/fanout_bench.py` (every "
            "setting at its default). Each is judged against its target.",
        ]
    else:
        lines += [
            "> **Smoke run.** These figures come from a run with tiny counts, made to prove "
            "that every measurement works. They say nothing about how fast the dashboard is "
            "and are **not judged** against the targets. A full run "
            "(`python benchmarks/fanout_bench.py` with no options) replaces them.",
        ]
    memory = f", {m['memory_gb']} GB memory" if m.get("memory_gb") else ""
    lines += [
        "",
        f"- Machine: {m['cpu_model']}, {m['cores']} cores{memory}; {m['platform']}.",
        f"- Software: Python {m['python']}, pika {m['pika']}, Textual {m['textual']}, "
        f"RabbitMQ {m['rabbitmq']} on the same machine.",
        f"- Settings: bursts of {settings['messages']:,} messages at N = "
        f"{settings['receivers'].replace(',', ', ')}, {settings['repeat']} raw/app pair(s) per N"
        + (
            f"; publish-to-display over {settings['latency_seconds']:g} s; memory over "
            f"{settings['memory_deliveries']:,} deliveries; scaling at N = "
            f"{settings['scaling'].replace(',', ', ')}."
            if not settings["quick"]
            else "; bursts only (`--quick`)."
        ),
    ]
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(report: dict[str, Any]) -> str:
    if report.get("schema") != SCHEMA:
        raise ValueError(f"report schema {report.get('schema')!r}, this script reads {SCHEMA}")
    full = report["run"]["kind"] == "full"
    judged: Callable[[Row], str] = (
        (lambda r: "met" if r.met else "**missed**") if full else (lambda r: "not judged")
    )
    out = [
        "# Performance",
        "",
        "<!-- Generated from benchmarks/results/latest.json by benchmarks/render_performance.py",
        "     (the prose after the results: benchmarks/performance_method.md). Do not edit. -->",
        "",
        "How fast the dashboard is next to the raw pika ceiling, how responsive it stays",
        "under a burst, and what bounds it. How the benchmark measures is under",
        "[Method](#method).",
        "",
        "## The run",
        "",
        *_run_section(report),
        "",
        "## Targets",
        "",
        *[f"- {t}" for t in TARGETS],
        "",
        "## Results",
        "",
        "| figure | measured | target | |",
        "| --- | --- | --- | --- |",
        *[
            f"| {_cell(r.figure)} | {_cell(r.measured)} | {_cell(r.target)} | {judged(r)} |"
            for r in rows(report)
        ],
        "",
    ]
    extra = untargeted(report)
    if extra:
        out += ["Also measured, with no target:", "", *[f"- {e}" for e in extra], ""]
    out += [METHOD.read_text(encoding="utf-8").rstrip("\n"), ""]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=INPUT)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = parser.parse_args()
    page = render(json.loads(args.input.read_text(encoding="utf-8")))
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != page:
            print(f"{args.output} is stale: run benchmarks/render_performance.py", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(page, encoding="utf-8")
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
