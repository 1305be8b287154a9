"""What a browser session's app process is started with: its argv and its environment.

The argv is public (any user of the machine reads it with ``ps``), so it holds
no password: the broker and management URLs go into the environment, which only
the same user (and root) can read. The program is this Python running this
package, by absolute path: no shell and no ``PATH`` look-up decide what runs.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..locations import ENV_DATA_DIR
from ..settings import ENV_MANAGEMENT_URL, ENV_URL, Settings


def session_argv(arguments: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "fanout_tui", *arguments]


def session_environment(
    base: Mapping[str, str], settings: Settings, data_dir: Path
) -> dict[str, str]:
    """``base`` (the server's environment) with the settings' secrets and this
    session's own data directory (its history; nothing of another visitor's)."""
    env = dict(base)
    env[ENV_URL] = " ".join(settings.urls)  # several nodes: separated by spaces
    if settings.management_url is not None:
        env[ENV_MANAGEMENT_URL] = settings.management_url
    else:
        env.pop(ENV_MANAGEMENT_URL, None)  # derived from the URL, as in the server
    env[ENV_DATA_DIR] = str(data_dir)
    return env
