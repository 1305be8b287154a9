"""The README's screenshot: the real dashboard against a real broker, saved as SVG.

    .venv/bin/python scripts/screenshot.py [URL] [--exchange NAME] [--output FILE]

Runs FanoutApp headless (``App.run_test``, 160x48) with no receivers, adds three
with ``ctrl+n`` as a user would, publishes a few messages through the input,
waits until every pane has them on screen, and saves ``docs/screenshot.svg``.
The history file goes to a throw-away data directory, never the user's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
SIZE = (160, 48)
RECEIVERS = 3
MESSAGES = [
    "info: Hello World!",
    '{"level": "warning", "disk": "/var", "free_pct": 7}',
    "error: connection to db-2 refused",
]


async def _until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def take(url: str, exchange: str, output: Path) -> Path:
    # Imported here so FANOUT_TUI_DATA_DIR is set before anything reads it.
    from fanout_tui.model.states import WorkerState
    from fanout_tui.settings import Settings
    from fanout_tui.ui.app import FanoutApp
    from fanout_tui.ui.widgets.publish_input import PublishInput
    from fanout_tui.ui.widgets.receiver_pane import ReceiverPane

    app = FanoutApp(Settings(urls=(url,), exchange=exchange, receivers=0))
    async with app.run_test(size=SIZE) as pilot:

        def panes() -> list[ReceiverPane]:
            return list(app.query(ReceiverPane))

        for _ in range(RECEIVERS):
            await pilot.press("ctrl+n")
        await _until(
            lambda: (
                len(panes()) == RECEIVERS
                and all(p.state.state is WorkerState.CONSUMING for p in panes())
            ),
            f"{RECEIVERS} receivers consuming",
        )
        box = app.query_one(PublishInput)
        box.focus()
        for text in MESSAGES:
            box.value = text
            await pilot.press("enter")
            count = MESSAGES.index(text) + 1
            await _until(
                lambda count=count: all(p.received >= count for p in panes()),
                f"message {count} in every pane",
            )
            await asyncio.sleep(0.2)  # a moment apart, as typed messages are
        # The result line and the panes' latency lines follow within a drain or two.
        await asyncio.sleep(1.5)
        await pilot.pause()
        output.parent.mkdir(parents=True, exist_ok=True)
        saved = app.save_screenshot(filename=output.name, path=str(output.parent))
    return Path(saved)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", default=DEFAULT_URL, help=f"default {DEFAULT_URL}")
    parser.add_argument("--exchange", default="logs", help="default 'logs', as the tutorial")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "screenshot.svg")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fanout-tui-screenshot-") as data:
        os.environ["FANOUT_TUI_DATA_DIR"] = data
        saved = asyncio.run(take(args.url, args.exchange, args.output.resolve()))
    size = saved.stat().st_size
    print(f"{saved} ({size / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
