"""Every file-system path the app uses, in one place (platformdirs).

``FANOUT_TUI_CONFIG`` points at another config file (tests use it);
``FANOUT_TUI_DATA_DIR`` at another data directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_config_path, user_data_path

APP_NAME = "fanout-tui"
ENV_DATA_DIR = "FANOUT_TUI_DATA_DIR"


def config_file() -> Path:
    override = os.environ.get("FANOUT_TUI_CONFIG")
    if override:
        return Path(override).expanduser()
    return user_config_path(APP_NAME, appauthor=False) / "config.toml"


def data_directory() -> Path:
    """The user data directory; not created here, so an unwritable one is reported where used."""
    override = os.environ.get(ENV_DATA_DIR)
    if override:
        return Path(override).expanduser()
    return user_data_path(APP_NAME, appauthor=False)


def history_file() -> Path:
    return data_directory() / "history.txt"


def ledger_file() -> Path:
    """The record of the queues the app created and the bindings it made."""
    return data_directory() / "queues.json"


def cli_counter_file() -> Path:
    """The counter ``fanout-tui publish`` numbers its messages from."""
    return data_directory() / "cli-numbers.json"


def exports_dir() -> Path:
    """Where exports go by default; created by the export itself, not here."""
    return data_directory() / "exports"
