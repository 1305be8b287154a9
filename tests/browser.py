"""A real headless Chromium (Debian's chromium and chromedriver) driven by selenium.

No browser is downloaded: selenium is pointed at the system's binaries. The page's
terminal (xterm.js inside textual-serve's page) draws on a canvas, so its text is
read from xterm's own buffer: a script the browser runs before the page's own
catches the Terminal object when the page's fit add-on is handed it (it sets
``this._terminal``), and :func:`screen_text` reads the rows from it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
NO_BROWSER = (
    "the browser tests need Debian's chromium and chromium-driver "
    "(apt-get install chromium chromium-driver)"
)

CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "_terminal", {
  configurable: true,
  get() { return undefined; },
  set(value) {
    Object.defineProperty(this, "_terminal", {
      value, writable: true, configurable: true, enumerable: true,
    });
    if (value && value.buffer && !window.__terminal) { window.__terminal = value; }
  },
});
"""

SCREEN_TEXT = """
const term = window.__terminal;
if (!term) { return null; }
const buffer = term.buffer.active;
const rows = [];
for (let y = 0; y < term.rows; y++) {
  const line = buffer.getLine(buffer.viewportY + y);
  rows.push(line ? line.translateToString(true) : "");
}
return rows.join("\\n");
"""


def have_browser() -> bool:
    return Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()


@contextmanager
def chromium(downloads: Path, width: int = 1400, height: int = 900) -> Iterator[Any]:
    """A headless Chromium with its own profile and its downloads in ``downloads``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-"))
    home = profile / "home"
    for name in ("config", "cache", "data"):
        (home / name).mkdir(parents=True)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root has no sandbox for Chromium
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={profile / 'profile'}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
        },
    )
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_DATA_HOME": str(home / "data"),
    }
    service = Service(CHROMEDRIVER, env=env)
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.set_page_load_timeout(20)
        driver.set_script_timeout(10)
        driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": str(downloads), "eventsEnabled": False},
        )
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CATCH_TERMINAL})
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screen_text(driver: Any) -> str:
    """The page terminal's rows as text ("" before the terminal exists)."""
    return str(driver.execute_script(SCREEN_TEXT) or "")


def click_text(driver: Any, text: str) -> None:
    """Click the middle of the first place ``text`` shows in the page's terminal,
    as a person would with the mouse (xterm turns it into a terminal click)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    rows = screen_text(driver).split("\n")
    where = next(((y, row.find(text)) for y, row in enumerate(rows) if text in row), None)
    assert where is not None, f"{text!r} is not on the page's screen:\n" + "\n".join(rows)
    y, x = where
    cols, lines = driver.execute_script("return [window.__terminal.cols, window.__terminal.rows]")
    screen = driver.find_element(By.CSS_SELECTOR, ".xterm-screen")
    size = screen.size
    cell_w, cell_h = size["width"] / cols, size["height"] / lines
    # Offsets from the element's centre (selenium 4's origin for an element).
    dx = (x + len(text) / 2) * cell_w - size["width"] / 2
    dy = (y + 0.5) * cell_h - size["height"] / 2
    ActionChains(driver).move_to_element_with_offset(screen, int(dx), int(dy)).click().perform()


def new_tab(driver: Any) -> None:
    """Open a tab and switch to it; it reads its terminal as the first tab does
    (a script added through CDP belongs to the tab it was added in)."""
    driver.switch_to.new_window("tab")
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CATCH_TERMINAL})


def screenshot(driver: Any, scale: float = 1.0) -> bytes:
    """The page as PNG, scaled (a smaller picture for the README)."""
    import base64

    width, height = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": scale}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "clip": clip})
    return base64.b64decode(shot["data"])
