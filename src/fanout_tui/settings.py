"""One settings object: command-line flag > environment > config.toml > defaults."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .locations import config_file
from .model.body_budget import PANE_BODY_BUDGET
from .model.receiver_spec import ReceiverSpec, SpecError, parse_spec, spec_from_table
from .transport.broker import (
    DEFAULT_EXCHANGE,
    DEFAULT_HEARTBEAT,
    DEFAULT_URL,
    EXCHANGE_TYPES,
    BrokerSettings,
)
from .transport.management import (
    ManagementSettings,
    ManagementUrlError,
    management_settings,
    validate_management_url,
)
from .transport.topology import exchange_problem

MAX_RECEIVERS = 64
# Messages each of the app's own exclusive queues may hold (drop-head beyond):
# a dashboard left open against a busy exchange must not fill the broker's memory.
DEFAULT_QUEUE_CAP = 100_000
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
    # The type asked for (--exchange-type); None: the existing exchange's type,
    # a fanout when it has to be created.
    exchange_type: str | None = None
    # Where exchange_type was set, as a conflict names it.
    exchange_type_from: str = "--exchange-type"
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
    # The panes to start with, in order; none: ``receivers`` exclusive ones.
    receiver_specs: tuple[ReceiverSpec, ...] = ()
    queue_cap: int = DEFAULT_QUEUE_CAP  # 0: no cap

    @property
    def start_specs(self) -> tuple[ReceiverSpec, ...]:
        """The receivers the dashboard starts with."""
        return self.receiver_specs or (ReceiverSpec(),) * self.receivers

    def broker(self) -> BrokerSettings:
        return BrokerSettings(
            urls=self.urls,
            exchange=self.exchange,
            exchange_type=self.exchange_type,
            exchange_type_from=self.exchange_type_from,
            heartbeat=self.heartbeat,
        )

    def management(self) -> ManagementSettings:
        """Where the management API is and how to log in (for the bindings panel)."""
        return management_settings(self.urls[0], self.management_url)


# key -> (accepted types, description for error messages)
_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "url": ((str,), "a string"),
    "urls": ((list,), "a list of strings"),
    "exchange": ((str,), "a string"),
    "exchange_type": ((str,), "a string"),
    "heartbeat": ((int,), "a whole number of seconds"),
    "scrollback": ((int,), "a whole number"),
    "management_url": ((str,), "a string"),
    "spread": ((bool,), "true or false"),
    "queue_cap": ((int,), "a whole number of messages (0 for none)"),
    "receivers": ((int, list), "a whole number, or [[receivers]] tables"),
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
    exchange_type: str | None = None,
    receivers: int | None = None,
    scrollback: int | None = None,
    heartbeat: int | None = None,
    management_url: str | None = None,
    spread: bool | None = None,
    receiver_specs: list[str] | None = None,
    queue_cap: int | None = None,
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
    try:
        specs = tuple(parse_spec(text) for text in receiver_specs or ()) or _config_specs(config)
    except SpecError as exc:
        raise ConfigError(str(exc)) from None
    config_receivers = config.get("receivers")
    chosen = Settings(
        urls=tuple(chosen_urls),
        # An empty variable counts as unset, as it does for the URL.
        exchange=_first(
            exchange, env.get(ENV_EXCHANGE) or None, config.get("exchange"), defaults.exchange
        ),
        exchange_type=_first_or_none(exchange_type, config.get("exchange_type")),
        heartbeat=_first(heartbeat, config.get("heartbeat"), defaults.heartbeat),
        receivers=_first(
            receivers,
            len(specs) if specs else None,
            config_receivers if isinstance(config_receivers, int) else None,
            defaults.receivers,
        ),
        receiver_specs=specs,
        queue_cap=_first(queue_cap, config.get("queue_cap"), defaults.queue_cap),
        scrollback=_first(scrollback, config.get("scrollback"), defaults.scrollback),
        management_url=_first_or_none(
            management_url, env.get(ENV_MANAGEMENT_URL) or None, config.get("management_url")
        ),
        spread=_first(spread, config.get("spread"), defaults.spread),
    )
    # A value that came from the config file is reported with the file (and line).
    where: dict[str, str] = config.get(_WHERE, {})
    flags = {
        "receivers": receivers,
        "scrollback": scrollback,
        "heartbeat": heartbeat,
        "queue_cap": queue_cap,
        "exchange_type": exchange_type,
    }

    def source(key: str) -> str:
        return where.get(key, "") if flags.get(key) is None else ""

    if not 0 <= chosen.receivers <= MAX_RECEIVERS:
        raise ConfigError(
            f"{source('receivers')}receivers must be between 0 and {MAX_RECEIVERS}, "
            f"not {chosen.receivers}"
        )
    if receivers is not None and specs and receivers != len(specs):
        raise ConfigError(
            f"--receivers {receivers} and {len(specs)} receiver specs disagree; "
            "give one or the other"
        )
    if not 0 <= chosen.queue_cap <= 2**31:
        raise ConfigError(
            f"{source('queue_cap')}queue_cap must be between 0 (no cap) and {2**31:,}, "
            f"not {chosen.queue_cap}"
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
    if chosen.exchange_type is not None:
        if chosen.exchange_type not in EXCHANGE_TYPES:
            raise ConfigError(
                f"{source('exchange_type')}exchange type must be one of "
                f"{', '.join(EXCHANGE_TYPES)}, not {chosen.exchange_type!r}"
            )
        if source("exchange_type"):
            # A conflict names the file's entry, which is what to drop.
            asked_by = "exchange_type in " + source("exchange_type").removesuffix(": ")
            chosen = replace(chosen, exchange_type_from=asked_by)
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


def _config_specs(config: dict[str, Any]) -> tuple[ReceiverSpec, ...]:
    """The ``[[receivers]]`` tables of the config file, in order, as specs."""
    tables = config.get("receivers")
    if not isinstance(tables, list):
        return ()
    where = config.get(_WHERE, {}).get("receivers", "config file: ")
    specs = []
    for number, table in enumerate(tables, 1):
        if not isinstance(table, dict):
            raise ConfigError(f"{where}'receivers' must be a number or [[receivers]] tables")
        specs.append(spec_from_table(table, f"{where.rstrip(': ')}: receiver {number}"))
    if len(specs) > MAX_RECEIVERS:
        raise ConfigError(f"{where}at most {MAX_RECEIVERS} [[receivers]] tables")
    return tuple(specs)


def _first(*values: Any) -> Any:
    return next(v for v in values if v is not None)


def _first_or_none(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)
