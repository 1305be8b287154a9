"""The documentation stays true to what generates it and to its own rules.

docs/performance.md is rendered from the committed benchmark report, so a
figure on the page is always one the benchmark wrote; every figure in its table
has a target. README.md stays a user's document (at most 200 lines, the Quick
start commands CI runs verbatim), and no page carries a dated narrative: git
history keeps that.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import renderer

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
LATEST = ROOT / "benchmarks" / "results" / "latest.json"
PAGES = [README, *sorted(DOCS.glob("*.md"))]

QUICK_START = [
    "```sh\npython3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/fanout-tui\n```",
    '```sh\npython3 -m venv .venv && .venv/bin/pip install -e ".[test]" && .venv/bin/pytest\n```',
]


def _report() -> dict[str, Any]:
    report: dict[str, Any] = json.loads(LATEST.read_text(encoding="utf-8"))
    return report


def _results_table(page: str) -> list[list[str]]:
    """The rows of the Results table, as cells (header and rule left out)."""
    section = page.split("\n## Results\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    assert lines[0].startswith("| figure | measured | target |"), lines[:1]
    # Cells split on unescaped pipes only.
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines[2:]]


def test_performance_page_is_what_the_script_renders_from_latest_json() -> None:
    rendered = renderer().render(_report())
    page = (DOCS / "performance.md").read_text(encoding="utf-8")
    assert page == rendered, "run: python benchmarks/render_performance.py"


def test_every_figure_in_the_results_table_has_its_target() -> None:
    page = (DOCS / "performance.md").read_text(encoding="utf-8")
    table = _results_table(page)
    assert table, "the results table is empty"
    for figure, measured, target, verdict in table:
        assert figure and measured, (figure, measured)
        assert target, f"no target for {figure!r}"
        assert re.search(r"[≤≥]\s*\+?\d", target), f"{figure!r}: target {target!r} has no bound"
        assert verdict in ("met", "**missed**", "not judged"), (figure, verdict)


def test_latest_json_says_what_run_and_machine_it_is() -> None:
    report = _report()
    assert report["schema"] == renderer().SCHEMA
    run = report["run"]
    assert run["kind"] in ("full", "smoke")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", run["date"])
    for key in ("receivers", "messages", "repeat", "scaling", "memory_deliveries", "quick"):
        assert key in run["settings"], key
    machine = report["machine"]
    for key in ("cpu_model", "cores", "memory_gb", "python", "pika", "textual", "rabbitmq"):
        assert machine.get(key), key
    page = (DOCS / "performance.md").read_text(encoding="utf-8")
    assert ("Smoke run" in page) == (run["kind"] == "smoke")
    assert run["date"] not in page, "the run's date belongs in the JSON only"


def test_readme_is_a_short_users_document() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    for block in QUICK_START:
        assert text.count(block) == 1, block
    assert "](docs/screenshot.svg)" in text


# Dates, clock times and session narrative belong in git history, not in the docs.
_DATED = [
    (r"\b(19|20)\d\d-\d\d-\d\d\b", "a date"),
    (r"\b\d{1,2}:\d\d(:\d\d)?\s*(UTC|am|pm)?\b", "a clock time"),
    (r"\b(today|yesterday|tonight|this (session|morning|afternoon|week))\b", "a dated narrative"),
    (r"\bsession \d+\b", "a session"),
]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_no_dated_narrative(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for pattern, what in _DATED:
        found = re.search(pattern, text, re.IGNORECASE)
        assert found is None, f"{path.name}: {what}: {found.group(0)!r}"


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (path.parent / target).exists(), f"{path.name}: broken link {target}"
