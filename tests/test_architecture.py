"""The layers' contracts hold (import-linter, configured in pyproject.toml), the
CLI's non-dashboard commands never load Textual, and no module outgrows the
house's size limits."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import fanout_tui

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(fanout_tui.__file__).parent


def _lint_imports() -> str:
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert command, "import-linter is a test dependency (pip install -e '.[test]')"
    result = subprocess.run(
        [command, "--config", str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_layer_contracts_are_kept() -> None:
    report = _lint_imports()
    assert "0 broken" in report


def test_every_package_is_in_a_layer() -> None:
    """A new folder under fanout_tui/ must be given a place in the layers."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    modules = {
        f"fanout_tui.{p.stem if p.is_file() else p.name}"
        for p in PACKAGE.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists())
        or (p.suffix == ".py" and p.stem not in ("__init__", "__main__"))
    }
    assert modules == set(layers)


def test_importing_the_cli_and_the_lower_layers_loads_no_textual() -> None:
    modules = sorted(
        "fanout_tui." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts)
        for layer in ("transport", "present", "model", "control")
        for p in (PACKAGE / layer).glob("*.py")
        if p.stem != "__init__"
    )
    program = "\n".join(
        [
            "import importlib, json, sys",
            "import fanout_tui.cli",
            f"for name in {modules!r}:",
            "    importlib.import_module(name)",
            "loaded = sorted(m for m in sys.modules if m.startswith('fanout_tui') or m == 'pika')",
            "textual = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')",
            "print(json.dumps({'loaded': loaded, 'textual': textual}))",
        ]
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    # It really imported what it claims to have imported...
    assert "pika" in report["loaded"]
    assert "fanout_tui.cli" in report["loaded"]
    assert set(modules) <= set(report["loaded"])
    # ...and Textual stayed out.
    assert report["textual"] == []


MAX_MODULE_LINES = 450  # the house rule: split a module by what it does before this
MAX_APP_LINES = 300  # the App routes; what it routes to lives elsewhere


def test_no_module_is_over_450_lines_and_the_app_is_slim() -> None:
    sizes = {
        str(path.relative_to(PACKAGE)): len(path.read_text(encoding="utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES}
    assert too_long == {}, f"split these by what they do: {too_long}"
    assert sizes["ui/app.py"] <= MAX_APP_LINES
