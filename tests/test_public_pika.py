"""pika through its public API only: a scan of the source that fails on its internals.

An underscore attribute, an attribute assigned over a method, or pika's
callback registry can change in any pika release without notice; code that
uses them breaks silently on an upgrade. The scan parses every ``.py`` under
``src/``, ``benchmarks/`` and ``scripts/`` and fails on:

- ``X._name`` (read, written or called) where ``X`` is not ``self``, ``cls`` or
  a module of our own imported in that file;
- ``X.name = ...`` where ``X`` is not ``self``/``cls`` and ``name`` is a method
  of some pika class (``ioloop.poll = ...``): a patch over pika's code;
- ``X.callbacks``: pika's internal registry of frame callbacks (no underscore,
  but not an API: removing or adding entries there rewires pika itself).

A few of our own uses are allowed, each with its reason (``ALLOWED``).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
from functools import cache
from pathlib import Path

import pika
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("src", "benchmarks", "scripts")
OUR_PACKAGE = "fanout_tui"

# Attribute names with a leading underscore that are public API where they are.
PUBLIC_UNDERSCORE_NAMES = {
    # namedtuple's documented methods (urlsplit's result): the underscore only
    # keeps them apart from field names.
    "_replace": "namedtuple API",
    "_asdict": "namedtuple API",
    "_fields": "namedtuple API",
    "_make": "namedtuple API",
}

# (file, expression): why it is allowed. None of these is a pika object.
ALLOWED = {
    ("src/fanout_tui/ui/compat.py", "super()._watch_value"): (
        "a Textual workaround: Textual workarounds live only in ui/compat.py, each checked by "
        "tests/test_compat.py against the installed Textual"
    ),
    ("benchmarks/measure/app.py", "app._display"): (
        "the benchmark counts the screen updates of our own FanoutApp by wrapping Textual's "
        "App._display; a measuring instrument, not the app, and Textual, not pika"
    ),
}

# Attributes of pika objects that are internals despite having no underscore.
INTERNAL_NAMES = {
    "callbacks": "pika's CallbackManager: the registry of frame callbacks pika itself relies on",
}


@cache
def pika_method_names() -> frozenset[str]:
    """Every method name of every class defined in pika (on the installed pika)."""
    names: set[str] = set()
    modules = [pika]
    for info in pkgutil.walk_packages(pika.__path__, "pika."):
        try:
            modules.append(importlib.import_module(info.name))
        except ImportError:  # an adapter for a library not installed (tornado, twisted...)
            continue
    for module in modules:
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if not cls.__module__.startswith("pika"):
                continue
            for name, value in inspect.getmembers(cls):
                if name.startswith("__"):
                    continue
                if inspect.isfunction(value) or inspect.ismethoddescriptor(value):
                    names.add(name)
    return frozenset(names)


def _own_modules(tree: ast.Module) -> set[str]:
    """Names bound in this file to modules of our own package."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            ours = node.level > 0 or (node.module or "").split(".")[0] == OUR_PACKAGE
            if ours:
                names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == OUR_PACKAGE:
                    names.add(alias.asname or alias.name.split(".")[0])
    return names


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def scan(source: str, path: str) -> list[str]:
    """What in ``source`` (the file at ``path``, relative to the repo) uses pika
    beyond its public API, as ``path:line: expression: why``."""
    tree = ast.parse(source, path)
    own = _own_modules(tree)
    methods = pika_method_names()
    found: list[str] = []

    def report(node: ast.Attribute, why: str) -> None:
        expression = ast.unparse(node)
        if (path, expression) not in ALLOWED:
            found.append(f"{path}:{node.lineno}: {expression}: {why}")

    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        owner, name = node.value, node.attr
        if _is_self(owner) or (isinstance(owner, ast.Name) and owner.id in own):
            continue
        if name.startswith("_") and not name.startswith("__"):
            if name not in PUBLIC_UNDERSCORE_NAMES:
                report(node, "a private attribute of another object")
        elif name in INTERNAL_NAMES:
            report(node, INTERNAL_NAMES[name])
        elif isinstance(node.ctx, ast.Store) and name in methods:
            report(node, "assigned over a method of a pika class")
    return found


def scanned_files() -> list[Path]:
    return sorted(p for top in SCANNED for p in (ROOT / top).rglob("*.py"))


def test_the_source_uses_pika_through_its_public_api_only() -> None:
    files = scanned_files()
    assert any(p.name == "publisher.py" for p in files)  # the scan sees the code
    problems = [
        problem
        for path in files
        for problem in scan(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert problems == []


def test_every_allowed_use_is_still_there() -> None:
    """An allowance for code that is gone would let it come back unnoticed."""
    for path, expression in ALLOWED:
        assert expression in (ROOT / path).read_text(encoding="utf-8"), (path, expression)


@pytest.mark.parametrize(
    ("snippet", "caught"),
    [
        ("impl = channel._impl\n", "channel._impl"),
        (
            "connection._impl._terminate_stream(error)\n",
            "connection._impl._terminate_stream",
        ),
        ("ioloop = connection.ioloop\nioloop.poll = poll_then_pass\n", "ioloop.poll"),
        ("self._ioloop.poll = wrapped\n", "self._ioloop.poll"),
        ("impl.callbacks.remove(impl.channel_number, method, handler)\n", "impl.callbacks"),
        ("drop = impl._on_deliver\n", "impl._on_deliver"),
        ("channel.basic_publish = spy\n", "channel.basic_publish"),
    ],
)
def test_the_scan_catches_each_kind_of_internal_use(snippet: str, caught: str) -> None:
    problems = scan(snippet, "snippet.py")
    assert any(f": {caught}: " in problem for problem in problems), problems


def test_the_scan_leaves_our_own_attributes_and_public_pika_alone() -> None:
    snippet = (
        "from . import turns\n"
        "from .worker import Worker\n"
        "class A(Worker):\n"
        "    def run(self):\n"
        "        self._x = 1\n"
        "        self._y.z()\n"
        "        cls._cache = {}\n"
        "        turns._TURN.acquire()\n"
        "        params.heartbeat = 30\n"
        "        params.blocked_connection_timeout = None\n"
        "        mailbox.waker = waker\n"
        "        parts._replace(netloc='x')\n"
        "        channel.basic_publish('x', '', b'')\n"
        "        connection.ioloop.add_callback_threadsafe(f)\n"
    )
    assert scan(snippet, "snippet.py") == []


def test_the_scan_fails_on_the_code_that_used_pika_internals() -> None:
    """The receiver and publisher as they were before moving to the public API."""
    old = {}
    for path in ("src/fanout_tui/transport/direct.py", "src/fanout_tui/transport/publisher.py"):
        try:
            old[path] = subprocess.run(
                ["git", "show", f"fccd556:{path}"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
                timeout=10,
            ).stdout
        except (OSError, subprocess.CalledProcessError):
            pytest.skip("the repository's history is not available here")
    direct = "\n".join(scan(old["src/fanout_tui/transport/direct.py"], "direct.py"))
    for expression in (
        "channel._impl",
        "connection._impl",
        "ioloop.poll",
        "impl.callbacks",
        "impl._on_deliver",
    ):
        assert f": {expression}: " in direct
    publisher = "\n".join(scan(old["src/fanout_tui/transport/publisher.py"], "publisher.py"))
    assert ": connection._impl._terminate_stream: " in publisher
    assert ": self._channel._impl: " in publisher
