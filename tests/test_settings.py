"""Settings: flag > environment > config.toml > defaults; clear errors; no password shown."""

from __future__ import annotations

import itertools
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fanout_tui.locations import config_file
from fanout_tui.settings import (
    ENV_EXCHANGE,
    ENV_MANAGEMENT_URL,
    ENV_URL,
    ConfigError,
    Settings,
    load_settings,
)
from fanout_tui.transport.broker import (
    DEFAULT_EXCHANGE,
    DEFAULT_URL,
    BrokerSettings,
    BrokerUrlError,
    mask_url,
    validate_url,
)
from fanout_tui.transport.management import ManagementSettings

FLAG_URL = "amqp://flag:flagpw@flag-host:5672/%2F"
ENV_URL_VALUE = "amqp://env:envpw@env-host:5672/%2F"
CONFIG_URL = "amqp://config:configpw@config-host:5672/%2F"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The path of a config file that does not exist yet."""
    return tmp_path / "settings-test" / "config.toml"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# Precedence ---------------------------------------------------------------------


def test_defaults_when_nothing_is_set(config: Path) -> None:
    settings = load_settings(env={}, config_path=config)
    assert settings.urls == (DEFAULT_URL,) == ("amqp://guest:guest@localhost:5672/%2F",)
    assert settings.exchange == DEFAULT_EXCHANGE == "logs"
    assert settings == Settings()


@pytest.mark.parametrize(
    ("flag", "env", "in_config"), list(itertools.product([False, True], repeat=3))
)
def test_exchange_precedence(config: Path, flag: bool, env: bool, in_config: bool) -> None:
    if in_config:
        write(config, 'exchange = "from-config"\n')
    settings = load_settings(
        exchange="from-flag" if flag else None,
        env={ENV_EXCHANGE: "from-env"} if env else {},
        config_path=config,
    )
    expected = (
        "from-flag" if flag else "from-env" if env else "from-config" if in_config else "logs"
    )
    assert settings.exchange == expected


@pytest.mark.parametrize(
    ("flag", "env", "in_config"), list(itertools.product([False, True], repeat=3))
)
def test_url_precedence(config: Path, flag: bool, env: bool, in_config: bool) -> None:
    if in_config:
        write(config, f'url = "{CONFIG_URL}"\n')
    settings = load_settings(
        urls=[FLAG_URL] if flag else None,
        env={ENV_URL: ENV_URL_VALUE} if env else {},
        config_path=config,
    )
    expected = FLAG_URL if flag else ENV_URL_VALUE if env else CONFIG_URL if in_config else None
    assert settings.urls == ((expected or DEFAULT_URL),)


def test_config_file_sets_every_key(config: Path) -> None:
    write(
        config,
        "\n".join(
            [
                "# a comment",
                'urls = ["amqp://a:pw@node-a:5672/%2F", "amqps://b:pw@node-b:5671/prod"]',
                'exchange = "audit"',
                "heartbeat = 15",
                "receivers = 8",
                "scrollback = 5000",
                'management_url = "https://ops:opspw@mgmt:443/rabbitmq"',
                "",
            ]
        ),
    )
    settings = load_settings(env={}, config_path=config)
    assert settings == Settings(
        urls=("amqp://a:pw@node-a:5672/%2F", "amqps://b:pw@node-b:5671/prod"),
        exchange="audit",
        heartbeat=15,
        receivers=8,
        scrollback=5000,
        management_url="https://ops:opspw@mgmt:443/rabbitmq",
    )
    broker = settings.broker()
    assert broker.urls == settings.urls
    assert broker.exchange == "audit"
    assert broker.heartbeat == 15


FLAG_API = "http://flag-api:15672"
ENV_API = "http://env-api:15672"
CONFIG_API = "http://config-api:15672"


@pytest.mark.parametrize(
    ("flag", "env", "in_config"), list(itertools.product([False, True], repeat=3))
)
def test_management_url_precedence(config: Path, flag: bool, env: bool, in_config: bool) -> None:
    if in_config:
        write(config, f'management_url = "{CONFIG_API}"\n')
    settings = load_settings(
        management_url=FLAG_API if flag else None,
        env={ENV_MANAGEMENT_URL: ENV_API} if env else {},
        config_path=config,
    )
    expected = FLAG_API if flag else ENV_API if env else CONFIG_API if in_config else None
    assert settings.management_url == expected
    assert settings.management().url == (expected or "http://localhost:15672")


def test_the_management_api_defaults_to_the_first_broker(config: Path) -> None:
    assert load_settings(env={}, config_path=config).management() == ManagementSettings(
        url="http://localhost:15672", user="guest", password="guest", vhost="/"
    )
    settings = load_settings(
        urls=["amqps://app:s%3Acret@node-a:5671/prod", "amqps://app:other@node-b:5671/prod"],
        env={ENV_MANAGEMENT_URL: ""},  # empty counts as unset
        config_path=config,
    )
    assert settings.management_url is None
    assert settings.management() == ManagementSettings(
        url="https://node-a:15672", user="app", password="s:cret", vhost="prod"
    )
    # An explicit URL without credentials keeps the broker's.
    explicit = load_settings(
        urls=["amqp://app:apppw@node-a/%2F"], management_url="http://mgmt:8080/", config_path=config
    )
    assert (explicit.management().url, explicit.management().user) == ("http://mgmt:8080", "app")


@pytest.mark.parametrize(
    "url", ["ftp://ops:TopSecret123@mgmt/", "http://ops:TopSecret123@:15672", "mgmt:15672"]
)
@pytest.mark.parametrize("where", ["flag", "env", "config"])
def test_a_bad_management_url_is_a_config_error_without_the_password(
    config: Path, url: str, where: str
) -> None:
    if where == "config":
        write(config, f'management_url = "{url}"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(
            management_url=url if where == "flag" else None,
            env={ENV_MANAGEMENT_URL: url} if where == "env" else {},
            config_path=config,
        )
    message = str(info.value)
    assert message.startswith("malformed management URL ")
    assert "TopSecret123" not in message
    assert "\n" not in message


def test_flags_beat_the_config_for_the_numbers_too(config: Path) -> None:
    write(config, "heartbeat = 15\nreceivers = 8\nscrollback = 5000\n")
    settings = load_settings(heartbeat=0, receivers=0, scrollback=10, env={}, config_path=config)
    assert (settings.heartbeat, settings.receivers, settings.scrollback) == (0, 0, 10)


def test_several_flag_urls_beat_env_and_config(config: Path) -> None:
    write(config, f'url = "{CONFIG_URL}"\n')
    urls = ["amqp://u:p@one/%2F", "amqp://u:p@two/%2F"]
    settings = load_settings(urls=urls, env={ENV_URL: ENV_URL_VALUE}, config_path=config)
    assert settings.urls == tuple(urls)


def test_the_default_config_path_comes_from_fanout_tui_config(
    isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(isolated_dirs / "config.toml", 'exchange = "via-env-path"\n')
    assert config_file() == path
    assert load_settings(env={}).exchange == "via-env-path"
    # Without explicit env, the process environment counts.
    monkeypatch.setenv(ENV_EXCHANGE, "from-process-env")
    assert load_settings().exchange == "from-process-env"


def test_a_missing_config_file_is_not_an_error(tmp_path: Path) -> None:
    assert load_settings(env={}, config_path=tmp_path / "nope" / "config.toml") == Settings()


# Bad config ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('url = "amqp://localhost/"\nexchange = = "bad"\n', 2),
        ('exchange = "unterminated\n', 1),
        ("# fine\n# fine\nreceivers = 3\n[broken\n", 4),
        ("exchange: logs\n", 1),
    ],
)
def test_malformed_toml_names_the_file_and_the_line(config: Path, text: str, line: int) -> None:
    write(config, text)
    with pytest.raises(ConfigError) as info:
        load_settings(env={}, config_path=config)
    message = str(info.value)
    assert str(config) in message
    assert f"line {line}" in message
    assert "\n" not in message


def test_unknown_key_is_named_with_the_known_ones(config: Path) -> None:
    write(config, 'colour = "red"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(env={}, config_path=config)
    message = str(info.value)
    assert str(config) in message
    assert "'colour'" in message
    for known in (
        "url",
        "urls",
        "exchange",
        "heartbeat",
        "receivers",
        "scrollback",
        "management_url",
    ):
        assert known in message


def test_a_table_is_an_unknown_key(config: Path) -> None:
    write(config, '[broker]\nurl = "amqp://localhost/"\n')
    with pytest.raises(ConfigError, match="unknown setting 'broker'"):
        load_settings(env={}, config_path=config)


@pytest.mark.parametrize(
    ("text", "key", "what"),
    [
        ('heartbeat = "30"\n', "heartbeat", "whole number"),
        ("heartbeat = 1.5\n", "heartbeat", "whole number"),
        ("receivers = true\n", "receivers", "whole number"),
        ("scrollback = [1]\n", "scrollback", "whole number"),
        ("exchange = 7\n", "exchange", "a string"),
        ('url = ["amqp://localhost/"]\n', "url", "a string"),
        ('urls = "amqp://localhost/"\n', "urls", "a list of strings"),
        ("urls = [1, 2]\n", "urls", "a list of strings"),
        ("management_url = 15672\n", "management_url", "a string"),
    ],
)
def test_wrong_type_names_the_key_and_what_it_must_be(
    config: Path, text: str, key: str, what: str
) -> None:
    write(config, text)
    with pytest.raises(ConfigError) as info:
        load_settings(env={}, config_path=config)
    message = str(info.value)
    assert str(config) in message
    assert f"'{key}'" in message
    assert what in message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("receivers = 65\n", "receivers must be between 0 and 64"),
        ("receivers = -1\n", "receivers must be between 0 and 64"),
        ("scrollback = 9\n", "scrollback must be between 10"),
        ("heartbeat = 3601\n", "heartbeat must be between 0 and 3600"),
        (f'exchange = "{"x" * 256}"\n', "longer than 255 bytes"),
    ],
)
def test_values_out_of_range(config: Path, text: str, words: str) -> None:
    write(config, text)
    with pytest.raises(ConfigError, match=words):
        load_settings(env={}, config_path=config)


def test_unreadable_config_names_the_file(config: Path) -> None:
    config.parent.mkdir(parents=True)
    config.write_bytes(b'exchange = "\xff"\n')
    with pytest.raises(ConfigError, match="cannot read config file") as info:
        load_settings(env={}, config_path=config)
    assert str(config) in str(info.value)


def test_a_directory_in_place_of_the_config_file(config: Path) -> None:
    config.mkdir(parents=True)
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(env={}, config_path=config)


def test_a_bad_url_in_the_config_fails_when_used_without_its_password(config: Path) -> None:
    write(config, 'url = "http://admin:TopSecret123@rabbit:5672/"\n')
    settings = load_settings(env={}, config_path=config)
    with pytest.raises(BrokerUrlError) as info:
        settings.broker()
    assert "TopSecret123" not in str(info.value)
    assert "http://admin:***@rabbit:5672/" in str(info.value)


# mask_url -----------------------------------------------------------------------

USERS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12)
# Characters allowed raw in a URL's userinfo (RFC 3986: unreserved, sub-delims, ":").
RAW_PASSWORDS = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:", max_size=24
).map(lambda s: "Pw" + s)
# Any text at all, percent-encoded.
ENCODED_PASSWORDS = st.text(max_size=16).map(lambda s: "Pw" + quote(s, safe=""))


@given(user=USERS, password=st.one_of(RAW_PASSWORDS, ENCODED_PASSWORDS))
@example(user="guest", password="Pw%40%3A%2F%23%3F")
def test_mask_url_never_keeps_the_password(user: str, password: str) -> None:
    url = f"amqp://{user}:{password}@rabbit.example:5672/%2F"
    masked = mask_url(url)
    assert masked == f"amqp://{user}:***@rabbit.example:5672/%2F"
    assert password not in masked
    # The URL itself is still what pika uses, password included.
    params = BrokerSettings(urls=(url,)).parameters(url)
    assert params.credentials.password == unquote(password)
    assert params.credentials.username == user


@given(password=RAW_PASSWORDS)
def test_validate_url_errors_never_show_the_password(password: str) -> None:
    for bad in (
        f"http://guest:{password}@rabbit:5672/",
        f"amqp://guest:{password}@:5672/%2F",
        f"amqp://guest:{password}@rabbit:99999/%2F",
        f"amqp://guest:{password}@rabbit:port/%2F",
        f"amqp://guest:{password}@rabbit:0/%2F",
        f"amqp://guest:{password}@rabbit/%2F?heartbeat=soon",
        f"amqp://guest:{password}@[::1/%2F",
    ):
        with pytest.raises(BrokerUrlError) as info:
            validate_url(bad)
        assert password not in str(info.value), bad
        assert "guest:***@" in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "amqp://guest:guest@localhost:5672/%2F",
        "amqp://localhost",
        "amqps://user:pw@rabbit.example:5671/prod",
        "AMQP://guest:guest@LOCALHOST/",
        "amqp://u:p@[::1]:5672/%2F",
        "amqp://u:p@rabbit/%2F?heartbeat=10&connection_attempts=3",
    ],
)
def test_validate_url_accepts_good_urls(url: str) -> None:
    validate_url(url)
    BrokerSettings(urls=(url,)).parameters(url)


def test_a_user_without_a_password_is_accepted() -> None:
    url = "amqp://user@localhost/"
    validate_url(url)
    assert BrokerSettings(urls=(url,)).parameters(url).credentials.username == "user"


def test_mask_url_leaves_a_url_without_password_alone() -> None:
    assert mask_url("amqp://localhost:5672/%2F") == "amqp://localhost:5672/%2F"
    assert mask_url("amqp://guest@localhost/") == "amqp://guest@localhost/"
    assert mask_url("amqp://guest:@localhost/") == "amqp://guest:***@localhost/"
    assert mask_url("amqp://u:p@ss@host/") == "amqp://u:***@host/"  # raw '@' in the password
    assert mask_url("amqp://u:pw@[::1]:5672/x") == "amqp://u:***@[::1]:5672/x"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://guest:guest@localhost:5672/", "amqp:// or amqps://"),
        ("https://localhost/", "amqp:// or amqps://"),
        ("localhost:5672", "amqp:// or amqps://"),
        ("not a url", "amqp:// or amqps://"),
        ("amqp://", "no host name"),
        ("amqp:///%2F", "no host name"),
        ("amqp://guest:guest@/%2F", "no host name"),
        ("amqp://guest:guest@localhost:99999/", "Port out of range"),
        ("amqp://guest:guest@localhost:abc/", "Port could not be cast"),
        ("amqp://guest:guest@localhost:0/", "port 0"),
        ("amqp://guest:guest@localhost/%2F?heartbeat=x", "heartbeat"),
    ],
)
def test_validate_url_rejects(url: str, words: str) -> None:
    with pytest.raises(BrokerUrlError) as info:
        validate_url(url)
    message = str(info.value)
    assert message.startswith("malformed broker URL ")
    assert words in message
    assert "\n" not in message


def test_no_url_at_all() -> None:
    with pytest.raises(BrokerUrlError, match="no broker URL"):
        BrokerSettings(urls=())


@pytest.mark.parametrize("password", ["se/cret99", "se#cret99", "se?cret99"])
def test_a_raw_slash_hash_or_question_mark_in_the_password_is_masked_too(password: str) -> None:
    url = f"amqp://guest:{password}@localhost:5672/%2F"
    assert password not in mask_url(url)
    with pytest.raises(BrokerUrlError) as info:
        validate_url(url)
    assert password not in str(info.value)


def test_the_default_heartbeat_suits_a_watching_tool(config: Path) -> None:
    # RabbitMQ's guidance is 5 to 20 s; the broker's own default of 60 s would
    # leave a dead path looking connected for minutes.
    settings = load_settings(env={}, config_path=config)
    assert 5 <= settings.heartbeat <= 20
    assert settings.broker().parameters(settings.urls[0]).heartbeat == settings.heartbeat


def test_spread_comes_from_the_flag_or_the_config(config: Path) -> None:
    assert load_settings(env={}, config_path=config).spread is False
    write(config, "spread = true\n")
    assert load_settings(env={}, config_path=config).spread is True
    assert load_settings(spread=False, env={}, config_path=config).spread is False
    write(config, 'spread = "yes"\n')
    with pytest.raises(ConfigError, match="line 1: 'spread' must be true or false"):
        load_settings(env={}, config_path=config)


def test_spread_rotates_the_url_list_to_start_at_node_i() -> None:
    urls = tuple(f"amqp://u:pw@node-{n}:5672/%2F" for n in "abc")
    broker = BrokerSettings(urls=urls, exchange="logs", heartbeat=7)
    assert broker.spread(0) == broker
    assert broker.spread(1).urls == (urls[1], urls[2], urls[0])
    assert broker.spread(5).urls == (urls[2], urls[0], urls[1])  # round the list
    assert (broker.spread(1).exchange, broker.spread(1).heartbeat) == ("logs", 7)
