"""One settings object: command-line flag > environment > config.toml > defaults."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .locations import config_file
from .model.body_budget import PANE_BODY_BUDGET
from .transport.broker import DEFAULT_EXCHANGE, DEFAULT_HEARTBEAT, DEFAULT_URL, BrokerSettings
from .transport.management import (
    ManagementSettings,
    ManagementUrlError,
    management_settings,
    validate_management_url,
)
from .transport.topology import exchange_problem

MAX_RECEIVERS = 64
ENV_URL = "FANOUT_TUI_URL"
ENV_EXCHANGE = "FANOUT_TUI_EXCHANGE"
ENV_MANAGEMENT_URL = "FANOUT_TUI_MANAGEMENT_URL"


# Where read_config says each key was set ("config file F, line N: "), kept
# under a key no file can set: read_config refuses every key not in _KEYS.
_WHERE = "\0where"


class ConfigError(ValueError):
    """Settings that cannot be used; the message is one line, safe to show."""


@dataclass(frozen=True)
class Settings:
    urls: tuple[str, ...] = (DEFAULT_URL,)
    exchange: str = DEFAULT_EXCHANGE
    heartbeat: int = DEFAULT_HEARTBEAT
    receivers: int = 3
    scrollback: int = 1000
    # The management HTTP API; None: derived from the first broker URL (port 15672).
    management_url: str | None = None
    # Bytes of whole bodies each pane keeps, newest first (model/body_budget.py);
    # not a config key: tests set it small.
    body_budget: int = PANE_BODY_BUDGET
    # Receivers placed round-robin on the URLs (R1 on the first, R2 on the
    # second, ...) instead of all starting on the first.
    spread: bool = False

    def broker(self) -> BrokerSettings:
        return BrokerSettings(urls=self.urls, exchange=self.exchange, heartbeat=self.heartbeat)

    def management(self) -> ManagementSettings:
        """Where the management API is and how to log in (for the bindings panel)."""
        return management_settings(self.urls[0], self.management_url)


# key -> (accepted types, description for error messages)
_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "url": ((str,), "a string"),
    "urls": ((list,), "a list of strings"),
    "exchange": ((str,), "a string"),
    "heartbeat": ((int,), "a whole number of seconds"),
    "receivers": ((int,), "a whole number"),
    "scrollback": ((int,), "a whole number"),
    "management_url": ((str,), "a string"),
    "spread": ((bool,), "true or false"),
}


MAX_CONFIG_BYTES = 1024 * 1024  # a settings file is a few lines; more is not one


def _read_text(path: Path) -> str | None:
    """The file's text (None when absent), read only from a regular file and
    at most :data:`MAX_CONFIG_BYTES`, so /dev/zero or a FIFO cannot hang the start."""
    try:
        with path.open("rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise ConfigError(f"config file {path} is not a regular file")
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {path} is larger than 1 MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read config file {path}: not UTF-8 ({exc.reason})") from None


def _line_of(text: str, key: str) -> str:
    """`, line N` where ``key`` is set at the top level ("" if not found):
    tomllib gives positions only for syntax errors."""
    pattern = re.compile(rf"^[ \t]*(?:{re.escape(key)}|\"{re.escape(key)}\")[ \t]*=", re.M)
    match = pattern.search(text)
    return f", line {text.count(chr(10), 0, match.start()) + 1}" if match else ""


def read_config(path: Path) -> dict[str, Any]:
    """The config file's settings; an absent file means none.

    Each value is checked for its type here; a value's range is checked in
    :func:`load_settings`, which names this file when the value came from it.
    """
    text = _read_text(path)
    if text is None:
        return {}
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The message ends "(at line L, column C)".
        raise ConfigError(f"config file {path}: {exc}") from None
    for key, value in data.items():
        if key not in _KEYS:
            known = ", ".join(_KEYS)
            raise ConfigError(f"config file {path}: unknown setting {key!r} (known: {known})")
        types, what = _KEYS[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ConfigError(f"config file {path}{_line_of(text, key)}: {key!r} must be {what}")
    if "urls" in data and (not data["urls"] or not all(isinstance(u, str) for u in data["urls"])):
        raise ConfigError(
            f"config file {path}{_line_of(text, 'urls')}: 'urls' must be a list of strings, "
            "not empty"
        )
    data[_WHERE] = {key: f"config file {path}{_line_of(text, key)}: " for key in data}
    return data


def load_settings(
    *,
    urls: list[str] | None = None,
    exchange: str | None = None,
    receivers: int | None = None,
    scrollback: int | None = None,
    heartbeat: int | None = None,
    management_url: str | None = None,
    spread: bool | None = None,
    env: dict[str, str] | None = None,
    config_path: Path | None = None,
    check_management: bool = True,
) -> Settings:
    """Merge flags (the arguments), environment and config file over the defaults.

    ``check_management``: whether the management API's URL is checked too; only
    the dashboard uses it (its bindings panel), so `publish` and `listen` do not
    fail on a URL they never use."""
    env = dict(os.environ) if env is None else env
    config = read_config(config_path or config_file())
    defaults = Settings()

    config_urls = config.get("urls") or ([config["url"]] if "url" in config else None)
    # Several nodes in the variable are separated by spaces (no URL holds a raw
    # space); ``fanout-tui serve`` hands its URLs to each session this way.
    env_urls = env.get(ENV_URL, "").split()
    chosen_urls = urls or env_urls or config_urls or list(defaults.urls)
    chosen = Settings(
        urls=tuple(chosen_urls),
        # An empty variable counts as unset, as it does for the URL.
        exchange=_first(
            exchange, env.get(ENV_EXCHANGE) or None, config.get("exchange"), defaults.exchange
        ),
        heartbeat=_first(heartbeat, config.get("heartbeat"), defaults.heartbeat),
        receivers=_first(receivers, config.get("receivers"), defaults.receivers),
        scrollback=_first(scrollback, config.get("scrollback"), defaults.scrollback),
        management_url=_first_or_none(
            management_url, env.get(ENV_MANAGEMENT_URL) or None, config.get("management_url")
        ),
        spread=_first(spread, config.get("spread"), defaults.spread),
    )
    # A value that came from the config file is reported with the file (and line).
    where: dict[str, str] = config.get(_WHERE, {})
    flags = {"receivers": receivers, "scrollback": scrollback, "heartbeat": heartbeat}

    def source(key: str) -> str:
        return where.get(key, "") if flags.get(key) is None else ""

    if not 0 <= chosen.receivers <= MAX_RECEIVERS:
        raise ConfigError(
            f"{source('receivers')}receivers must be between 0 and {MAX_RECEIVERS}, "
            f"not {chosen.receivers}"
        )
    if not 10 <= chosen.scrollback <= 1_000_000:
        raise ConfigError(
            f"{source('scrollback')}scrollback must be between 10 and 1,000,000, "
            f"not {chosen.scrollback}"
        )
    if not 0 <= chosen.heartbeat <= 3600:
        raise ConfigError(
            f"{source('heartbeat')}heartbeat must be between 0 and 3600 seconds, "
            f"not {chosen.heartbeat}"
        )
    problem = exchange_problem(chosen.exchange)
    if problem:
        raise ConfigError(problem)
    if len(chosen.exchange.encode("utf-8")) > 255:
        raise ConfigError("exchange name is longer than 255 bytes")
    if check_management and chosen.management_url is not None:
        try:
            validate_management_url(chosen.management_url)
        except ManagementUrlError as exc:
            raise ConfigError(str(exc)) from None
    return chosen


def _first(*values: Any) -> Any:
    return next(v for v in values if v is not None)


def _first_or_none(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)
