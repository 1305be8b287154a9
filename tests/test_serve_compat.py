"""The textual-serve internals web/session.py relies on are still there.

``DashboardSession`` overrides ``AppService._open_app_process`` (to start the
app without a shell, with the session's environment) and sets the attributes
the base class reads (``_process``, ``_stdin``); textual-serve has no public
hook for it. If a textual-serve release changes these, this fails first, and
the browser tests (test_serve.py) show what broke.
"""

from __future__ import annotations

import inspect

from textual_serve.app_service import AppService
from textual_serve.server import Server

from fanout_tui.web.session import DashboardSession


def test_start_opens_the_process_through_the_overridden_hook() -> None:
    start = inspect.getsource(AppService.start)
    assert "self._open_app_process(" in start
    assert "_open_app_process" in vars(DashboardSession)


def test_the_base_class_reads_the_attributes_the_hook_sets() -> None:
    source = inspect.getsource(AppService)
    assert "process = self._process" in source  # run() reads it
    assert "assert self._stdin is not None" in source  # the stdin property
    assert "def _build_environment(self, width: int = 80, height: int = 24)" in source


def test_the_server_handlers_overridden_are_public_and_still_there() -> None:
    for name in ("handle_index", "handle_websocket", "handle_download"):
        assert callable(getattr(Server, name))
    params = inspect.signature(Server.__init__).parameters
    assert {"templates_path", "public_url", "title"} <= set(params)
