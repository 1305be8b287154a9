"""The AMQP layer never imports Textual (nor the UI), so the CLI and the tests
use it alone and a broker problem can never be a UI problem."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import fanout_tui.amqp

AMQP_DIR = Path(fanout_tui.amqp.__file__).parent
AMQP_FILES = sorted(AMQP_DIR.glob("*.py"))
FORBIDDEN = ("textual", "fanout_tui.ui")


def imported_modules(source: str, package: str) -> set[str]:
    """Every module a source file imports, relative imports resolved against ``package``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            # `from fanout_tui import ui` imports fanout_tui.ui
            found.update(f"{module}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(str(node.args[0].value))
    return found


def forbidden(modules: set[str]) -> set[str]:
    return {m for m in modules for f in FORBIDDEN if m == f or m.startswith(f + ".")}


def test_the_amqp_package_has_modules_to_check() -> None:
    names = {p.name for p in AMQP_FILES}
    assert {"receiver.py", "publisher.py", "display.py", "events.py"} <= names


@pytest.mark.parametrize("path", AMQP_FILES, ids=lambda p: p.name)
def test_no_amqp_module_imports_textual_or_the_ui(path: Path) -> None:
    modules = imported_modules(path.read_text(encoding="utf-8"), "fanout_tui.amqp")
    assert forbidden(modules) == set()


@pytest.mark.parametrize(
    "source",
    [
        "import textual",
        "import textual.app as app",
        "from textual.widgets import Log",
        "from textual import work",
        "from fanout_tui.ui.app import FanoutApp",
        "from fanout_tui import ui",
        "from ..ui import app",
        "from .. import ui",
        "def f():\n    from textual.app import App\n",
        "import importlib\nimportlib.import_module('textual')",
    ],
)
def test_the_checker_catches_every_spelling(source: str) -> None:
    assert forbidden(imported_modules(source, "fanout_tui.amqp")) != set()


def test_the_checker_lets_the_allowed_imports_pass() -> None:
    source = "import pika\nfrom .events import Mailbox\nfrom ..locations import config_file\n"
    assert imported_modules(source, "fanout_tui.amqp") >= {
        "pika",
        "fanout_tui.amqp.events",
        "fanout_tui.locations",
    }
    assert forbidden(imported_modules(source, "fanout_tui.amqp")) == set()


def test_importing_the_cli_and_the_amqp_layer_loads_no_textual() -> None:
    modules = [f"fanout_tui.amqp.{p.stem}" for p in AMQP_FILES if p.stem != "__init__"]
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
