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
RATIO = 0.90  # app / raw deliveries per second: live bursts, drains, body sizes
RATIO_N = ("1", "8", "32", "64")  # the N the live-burst and drain ratios are judged at
SIZES = ("10", "1024", "65536")  # body bytes at N = 8
PEER_RATIO = 1.0  # app in tmux / tutorial receiver processes in tmux, deliveries per second
RESPONSIVE_N = ("1", "8")  # the N the lateness and key-press figures are judged at
LATENESS_P99_MS = 50.0  # event-loop lateness during a burst, p99
KEY_MAX_MS = 50.0  # key press to screen during a burst, worst
STEADY_P50_MS = 10.0  # publish-to-display at 20 msg/s
STEADY_P99_MS = 50.0
RSS_PEAK_MB = 100.0  # peak RSS over 1,000,000 deliveries on 8 panes...
RSS_GROWTH_MB = 10.0  # ...and flat: at most this much growth over the second half
RSS_LARGE_PEAK_MB = 300.0  # peak RSS over 100,000 deliveries of 64 KiB on 8 panes
LAUNCH_MS = 2000.0  # launch to 64 receivers consuming
LAUNCH_RECEIVERS = 64
CTRL_N_MAX_MS = 250.0  # ctrl+n to the new receiver consuming, worst
NOT_MEASURED = "not measured in this run"

TARGETS = [
    f"**Throughput**: the app delivers at least {RATIO:.2f} of the raw pika ceiling's "
    f"deliveries per second at N = {', '.join(RATIO_N)}, in a live burst and in a drain of "
    f"filled queues, and with bodies of 10 B, 1 KiB and 64 KiB at N = 8.",
    f"**Next to the tutorial**: the app in tmux delivers at least {PEER_RATIO:.1f} times what "
    "8 tutorial receiver processes in tmux do, fed the same burst.",
    f"**Responsiveness during a burst** (N = {' and '.join(RESPONSIVE_N)}): the event loop's "
    f"lateness p99 at most {LATENESS_P99_MS:.0f} ms, and no key press takes more than "
    f"{KEY_MAX_MS:.0f} ms to reach the screen.",
    f"**Latency**: publish-to-display at 20 msg/s p50 at most {STEADY_P50_MS:.0f} ms, p99 at "
    f"most {STEADY_P99_MS:.0f} ms.",
    f"**Memory**: peak RSS over 1,000,000 deliveries on 8 panes at most {RSS_PEAK_MB:.0f} MB, "
    f"and flat: at most {RSS_GROWTH_MB:.0f} MB more over the second half than at its start; "
    f"over 100,000 deliveries of 64 KiB on 8 panes at most {RSS_LARGE_PEAK_MB:.0f} MB.",
    f"**Start-up**: launch to {LAUNCH_RECEIVERS} receivers consuming at most "
    f"{LAUNCH_MS / 1000:g} s; `ctrl+n` to the new receiver consuming at most "
    f"{CTRL_N_MAX_MS:.0f} ms.",
]


@dataclass(frozen=True)
class Row:
    figure: str
    measured: str
    target: str
    met: bool
    # False: the report has no such figure (an older or a partial run).
    present: bool = True


def _absent(figure: str, target: str) -> Row:
    return Row(figure, NOT_MEASURED, target, False, present=False)


def _ms(value: Any) -> str:
    return "none" if value is None else f"{value:g} ms"


def _n_sorted(items: dict[str, Any]) -> list[tuple[str, Any]]:
    return sorted(items.items(), key=lambda kv: int(kv[0]))


def _ratio_text(b: dict[str, Any]) -> str:
    text = f"{b['app_per_s']:,} / {b['raw_per_s']:,} = {b['ratio']:.2f}"
    pairs = b.get("ratios_all") or []
    if len(pairs) > 1:
        text += " (pairs " + ", ".join(f"{r:.2f}" for r in pairs) + ")"
    else:
        text += " (one pair)"
    if not b.get("counts_exact", True):
        text += "; **counts not exact**"
    return text


def _ratio_row(figure: str, b: dict[str, Any] | None, bound: float = RATIO) -> Row:
    target = f"≥ {bound:.2f}"
    if b is None:
        return _absent(figure, target)
    met = b["ratio"] >= bound and b.get("counts_exact", True)
    return Row(figure, _ratio_text(b), target, met)


def _size_name(size: str) -> str:
    n = int(size)
    return f"{n // 1024} KiB" if n >= 1024 and n % 1024 == 0 else f"{n} B"


def _live(report: dict[str, Any], n: str) -> dict[str, Any] | None:
    """The live burst at N: the bursts' own, else (an older report) its scaling pair."""
    bursts, scaling = report.get("bursts") or {}, report.get("scaling") or {}
    return bursts.get(n) or scaling.get(n)


def _size(report: dict[str, Any], size: str) -> dict[str, Any] | None:
    """The N = 8 burst of ``size``-byte bodies; the 10 B one is the N = 8 live burst."""
    sizes = report.get("sizes") or {}
    if size in sizes:
        return dict(sizes[size])
    if size == "10" and "8" in (report.get("bursts") or {}):
        return dict(report["bursts"]["8"])
    return None


def _responsiveness(out: list[Row], n: str, b: dict[str, Any] | None) -> None:
    lat_target = f"p99 ≤ {LATENESS_P99_MS:.0f} ms"
    key_target = f"max ≤ {KEY_MAX_MS:.0f} ms"
    lat_figure = f"event-loop lateness during burst, N = {n}"
    key_figure = f"key press to screen during burst, N = {n}"
    if b is None:
        out += [_absent(lat_figure, lat_target), _absent(key_figure, key_target)]
        return
    lat, key = b["loop_lateness_ms"], b["key_to_screen_ms"]
    out.append(
        Row(
            lat_figure,
            f"p50 {_ms(lat.get('p50'))}, p99 {_ms(lat.get('p99'))}, "
            f"max {_ms(lat.get('max'))} ({lat.get('n', 0):,} samples)",
            lat_target,
            lat.get("n", 0) > 0 and lat["p99"] <= LATENESS_P99_MS,
        )
    )
    out.append(
        Row(
            key_figure,
            f"p50 {_ms(key.get('p50'))}, max {_ms(key.get('max'))} ({key.get('n', 0):,} presses)",
            key_target,
            key.get("n", 0) > 0 and key["max"] <= KEY_MAX_MS,
        )
    )


def _peers_row(report: dict[str, Any]) -> Row:
    figure = "app in tmux / tutorial receiver processes in tmux, deliveries/s, N = 8"
    target = f"≥ {PEER_RATIO:.1f}"
    peers = report.get("tmux_peers")
    if peers is None:
        return _absent(figure, target)
    figure = figure.replace("N = 8", f"N = {peers['receivers']}")
    text = f"{peers['app_per_s']:,} / {peers['tutorial_per_s']:,} = {peers['ratio']:.2f}"
    pairs = peers.get("ratios_all") or []
    if len(pairs) > 1:
        text += " (pairs " + ", ".join(f"{r:.2f}" for r in pairs) + ")"
    return Row(figure, text, target, peers["ratio"] >= PEER_RATIO)


def _memory_rows(report: dict[str, Any]) -> list[Row]:
    out = []
    figure = "peak RSS, 1,000,000 deliveries over 8 panes"
    target = f"≤ {RSS_PEAK_MB:.0f} MB, flat (≤ +{RSS_GROWTH_MB:.0f} MB)"
    memory = report.get("memory")
    if memory is None:
        out.append(_absent(figure, target))
    else:
        deliveries = memory.get("deliveries", report["run"]["settings"]["memory_deliveries"])
        out.append(
            Row(
                f"peak RSS, {deliveries:,} deliveries over 8 panes",
                f"{memory['peak_rss_mb']} MB, +{memory['growth_over_last_half_mb']} MB "
                "over the second half",
                target,
                memory["peak_rss_mb"] <= RSS_PEAK_MB
                and memory["growth_over_last_half_mb"] <= RSS_GROWTH_MB
                and memory.get("counts_exact", True),
            )
        )
    figure = "peak RSS, 100,000 deliveries of 64 KiB over 8 panes"
    target = f"≤ {RSS_LARGE_PEAK_MB:.0f} MB"
    large = report.get("memory_large")
    if large is None:
        out.append(_absent(figure, target))
    else:
        gb = large["deliveries"] * large["body_bytes"] / 1e9
        out.append(
            Row(
                f"peak RSS, {large['deliveries']:,} deliveries of "
                f"{_size_name(str(large['body_bytes']))} over 8 panes",
                f"{large['peak_rss_mb']} MB ({gb:.2g} GB received)"
                + ("" if large.get("counts_exact", True) else "; **counts not exact**"),
                target,
                large["peak_rss_mb"] <= RSS_LARGE_PEAK_MB and large.get("counts_exact", True),
            )
        )
    return out


def _startup_rows(report: dict[str, Any]) -> list[Row]:
    out = []
    figure = f"launch to {LAUNCH_RECEIVERS} receivers consuming"
    target = f"≤ {LAUNCH_MS / 1000:g} s"
    launch = report.get("launch")
    if launch is None:
        out.append(_absent(figure, target))
    else:
        out.append(
            Row(
                f"launch to {launch['receivers']} receivers consuming",
                _ms(launch["launch_to_all_consuming_ms"]),
                target,
                launch["receivers"] >= LAUNCH_RECEIVERS
                and launch["launch_to_all_consuming_ms"] <= LAUNCH_MS,
            )
        )
    figure = "`ctrl+n` to the new receiver consuming"
    target = f"max ≤ {CTRL_N_MAX_MS:.0f} ms"
    startup = report.get("startup")
    if startup is None:
        out.append(_absent(figure, target))
    else:
        consuming = startup["ctrl_n_to_consuming_ms"]
        out.append(
            Row(
                figure,
                f"p50 {_ms(consuming.get('p50'))}, max {_ms(consuming.get('max'))} "
                f"({consuming.get('n', 0)} presses)",
                target,
                consuming.get("n", 0) > 0 and consuming["max"] <= CTRL_N_MAX_MS,
            )
        )
    return out


def rows(report: dict[str, Any]) -> list[Row]:
    """Every figure that has a target, judged against it; a figure the report
    lacks is a row that says so."""
    out: list[Row] = []
    drains = report.get("drains") or {}
    for n in RATIO_N:
        out.append(_ratio_row(f"app / raw deliveries/s, live burst, N = {n}", _live(report, n)))
    for n in RATIO_N:
        out.append(_ratio_row(f"app / raw deliveries/s, drain, N = {n}", drains.get(n)))
    sizes = report.get("sizes") or {}
    for size in SIZES:
        figure = f"app / raw deliveries/s, {_size_name(size)} bodies, N = 8"
        if size not in sizes and size == "10":
            figure += " (the live burst's)"  # its bodies are 10 B
        out.append(_ratio_row(figure, _size(report, size)))
    out.append(_peers_row(report))
    for n in RESPONSIVE_N:
        _responsiveness(out, n, (report.get("bursts") or {}).get(n))
    steady = report.get("steady_20_per_s_latency_ms")
    figure, target = (
        "publish-to-display at 20 msg/s",
        f"p50 ≤ {STEADY_P50_MS:.0f} ms, p99 ≤ {STEADY_P99_MS:.0f} ms",
    )
    if steady is None:
        out.append(_absent(figure, target))
    else:
        out.append(
            Row(
                figure,
                f"p50 {_ms(steady.get('p50'))}, p99 {_ms(steady.get('p99'))} "
                f"({steady.get('n', 0):,} messages)",
                target,
                steady.get("n", 0) > 0
                and steady["p50"] <= STEADY_P50_MS
                and steady["p99"] <= STEADY_P99_MS,
            )
        )
    out += _memory_rows(report)
    out += _startup_rows(report)
    return out


def untargeted(report: dict[str, Any]) -> list[str]:
    """Figures measured for information, with no target."""
    out: list[str] = []
    wide = [(n, b) for n in RATIO_N if n not in RESPONSIVE_N and (b := _live(report, n))]
    for n, b in wide:
        lat, key = b["loop_lateness_ms"], b["key_to_screen_ms"]
        out.append(
            f"during the live burst at N = {n}: event-loop lateness p99 {_ms(lat.get('p99'))}, "
            f"key press to screen max {_ms(key.get('max'))}"
        )
    drains = [(n, d) for n, d in _n_sorted(report.get("drains") or {})]
    if drains:
        out.append(
            "during the drains, event-loop lateness p99: "
            + ", ".join(f"N = {n} {_ms(d['loop_lateness_ms'].get('p99'))}" for n, d in drains)
        )
    startup = report.get("startup")
    if startup is not None:
        shown = startup["ctrl_n_to_screen_ms"]
        out.append(
            f"`ctrl+n` to the new pane on screen: p50 {_ms(shown.get('p50'))}, "
            f"max {_ms(shown.get('max'))}"
        )
        receivers = startup.get("receivers", 8)
        out.append(
            f"launch to {receivers} receivers consuming: "
            + _ms(startup["launch_to_all_consuming_ms"])
        )
    scaling = [(n, s) for n, s in _n_sorted(report.get("scaling") or {}) if n not in RATIO_N]
    if scaling:
        out.append(
            "scaling, app / raw (one pair each): "
            + ", ".join(f"N = {n} {s['ratio']:.2f}" for n, s in scaling)
        )
    return out


def _run_section(report: dict[str, Any]) -> list[str]:
    run, m = report["run"], report["machine"]
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
        *[f"- {line}" for line in _settings_lines(report)],
    ]
    return lines


def _pairs(count: int) -> str:
    return f"{count} pair{'s' if count != 1 else ''}"


def _counts(entries: dict[str, Any], default_messages: int, what: str) -> str:
    """ "N = 1, 8: 20,000 messages, 5 pairs; N = 32: ..." from the report's own entries."""
    groups: dict[tuple[int, int], list[str]] = {}
    for n, entry in _n_sorted(entries):
        key = (entry.get("messages", default_messages), len(entry.get("ratios_all") or [1]))
        groups.setdefault(key, []).append(n)
    return "; ".join(
        f"N = {', '.join(ns)}: {messages:,} {what}, {_pairs(pairs)}"
        for (messages, pairs), ns in groups.items()
    )


def _settings_lines(report: dict[str, Any]) -> list[str]:
    settings = report["run"]["settings"]
    default = report.get("messages", settings.get("messages", 0))
    lines = []
    if report.get("bursts"):
        lines.append("Live bursts: " + _counts(report["bursts"], default, "messages") + ".")
    if report.get("drains"):
        lines.append("Drains: " + _counts(report["drains"], default, "messages per queue") + ".")
    if report.get("sizes"):
        lines.append(
            "Body sizes at N = 8: "
            + "; ".join(
                f"{_size_name(size)}: {s['messages']:,} messages, {_pairs(len(s['ratios_all']))}"
                for size, s in _n_sorted(report["sizes"])
            )
            + "."
        )
    peers = report.get("tmux_peers")
    if peers:
        lines.append(
            f"Tutorial peers in tmux: {peers['receivers']} processes and {peers['receivers']} "
            f"app panes, {peers['messages']:,} messages, {_pairs(len(peers['ratios_all']))}."
        )
    others = []
    if "steady_20_per_s_latency_ms" in report:
        others.append(f"publish-to-display over {settings['latency_seconds']:g} s")
    if "memory" in report:
        deliveries = report["memory"].get("deliveries", settings["memory_deliveries"])
        others.append(f"memory over {deliveries:,} deliveries")
    if "memory_large" in report:
        large = report["memory_large"]
        others.append(f"and over {large['deliveries']:,} of {_size_name(str(large['body_bytes']))}")
    if report.get("scaling"):
        others.append("scaling at N = " + ", ".join(n for n, _ in _n_sorted(report["scaling"])))
    if others:
        lines.append(others[0][0].upper() + "; ".join(others)[1:] + ".")
    if settings.get("quick"):
        lines.append("Live bursts only (`--quick`).")
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(report: dict[str, Any]) -> str:
    if report.get("schema") != SCHEMA:
        raise ValueError(f"report schema {report.get('schema')!r}, this script reads {SCHEMA}")
    full = report["run"]["kind"] == "full"
    judged: Callable[[Row], str] = (
        (lambda r: ("met" if r.met else "**missed**") if r.present else "not judged")
        if full
        else (lambda r: "not judged")
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
