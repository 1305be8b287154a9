"""Export a pane's messages to a JSON Lines file, in a thread of its own.

A scrollback of large bodies takes a while to write, so the UI hands the
deliveries to a Textual thread worker and says how it went in a notification.
In a browser (``fanout-tui serve``) the file is the visitor's: it becomes a
download (``App.deliver_text``) and nothing stays on the server's disk.
"""

from __future__ import annotations

import time
from pathlib import Path

from textual.app import App
from textual.notifications import SeverityLevel

from ..model.delivery import Delivery
from ..model.export import ExportError, default_export_path, export_jsonl
from ..present.text import sanitize
from .widgets.receiver_pane import ReceiverPane


def export_in_background(app: App[None], pane: ReceiverPane) -> None:
    # The bodies the pane keeps now, held until written: the pane's budget goes
    # on releasing the oldest for newer ones while the file is written.
    deliveries = [delivery.pinned() for delivery in pane.deliveries()]
    path = default_export_path(f"R{pane.number}", time.time())
    app.run_worker(
        lambda: _export(app, deliveries, path), thread=True, group="export", exit_on_error=False
    )


def _export(app: App[None], deliveries: list[Delivery], path: Path) -> None:
    try:
        count = export_jsonl(deliveries, path)
    except ExportError as exc:
        _notify(app, str(exc), "error")
        return
    except Exception as exc:  # a record that cannot be written: say so, never a traceback
        _notify(app, f"export failed: {type(exc).__name__}: {exc}", "error")
        return
    messages = f"{count:,} message{'s' if count != 1 else ''}"
    if app.is_web:
        app.call_from_thread(_download, app, path, messages)
        return
    _notify(app, f"Exported {messages} to {path}", "information")


def _download(app: App[None], path: Path, messages: str) -> None:
    """Hand the file to the browser, then remove it here: the delivery holds it open."""
    try:
        app.deliver_text(path, save_filename=path.name, mime_type="application/jsonl")
    except OSError as exc:
        app.notify(sanitize(f"export failed: {exc}", 300), severity="error", markup=False)
        return
    finally:
        path.unlink(missing_ok=True)
    text = f"Exported {messages}: your browser downloads {path.name}"
    app.notify(sanitize(text, 300), severity="information", markup=False, timeout=10)


def _notify(app: App[None], text: str, severity: SeverityLevel) -> None:
    # A path or an error can hold anything: shown sanitized, never as markup.
    app.call_from_thread(
        app.notify, sanitize(text, 300), severity=severity, markup=False, timeout=10
    )
