"""What the palette's forms accept, and the one-line reasons for what they do not."""

from __future__ import annotations

import pytest

from fanout_tui.transport.stamps import MessageProperties
from fanout_tui.ui.screens.forms import (
    FormError,
    parse_content_type,
    parse_count,
    parse_headers,
    parse_rate,
    summarize_publish_properties,
)


def test_counts_and_rates() -> None:
    assert parse_count("10,000") == 10_000
    assert parse_count(" 1_000_000 ") == 1_000_000
    for bad in ("0", "1000001", "ten", ""):
        with pytest.raises(FormError):
            parse_count(bad)
    assert parse_rate("") is None
    assert parse_rate("2.5") == 2.5
    for bad in ("0", "-3", "fast", "inf", "nan"):
        with pytest.raises(FormError):
            parse_rate(bad)


def test_a_rate_out_of_range_is_refused_with_the_range() -> None:
    assert parse_rate("1,000,000") == 1_000_000
    assert parse_rate("0.01") == 0.01
    # Too slow is out of range too: 1e-300 a second would send the second copy
    # after 1e300 s, and the bar would wait for it.
    for bad in ("1e308", "1000001", "1e7", "1e-300", "5e-324", "0.001"):
        with pytest.raises(FormError, match=r"at least 0\.01 and at most 1,000,000 a second"):
            parse_rate(bad)


def test_a_comma_that_does_not_group_thousands_is_ambiguous() -> None:
    assert parse_rate("1,500") == 1500
    assert parse_rate("1,500.5") == 1500.5
    assert parse_count("12,345,678"[:6]) == 12_345
    # An underscore groups as a comma does, and only where a comma may.
    assert parse_rate("1_500") == 1500
    for bad in ("1,5", "15,00", ",500", "1,5000", "1,,500", "1_5", "15_00", "1_5.5"):
        with pytest.raises(FormError, match="ambiguous"):
            parse_rate(bad)
        with pytest.raises(FormError, match="ambiguous"):
            parse_count(bad)


def test_headers_as_pairs_or_json_of_what_amqp_tables_carry() -> None:
    assert parse_headers("") == {}
    assert parse_headers("team=ops, build = 7") == {"team": "ops", "build": "7"}
    assert parse_headers('{"n": 7, "ok": true, "who": "x", "ratio": 0.5}') == {
        "n": 7,
        "ok": True,
        "who": "x",
        "ratio": "0.5",  # pika cannot encode floats: kept as text
    }
    for bad, reason in (
        ("novalue", "key=value"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "key=value"),
        ('["a"]', "key=value"),
        ('{"a": [1]}', "only text, numbers and booleans"),
        ('{"a": null}', "only text, numbers and booleans"),
        ('{"big": 9223372036854775808}', "too large"),
        ("k" * 256 + "=v", "longer than 255 bytes"),
    ):
        with pytest.raises(FormError, match=reason):
            parse_headers(bad)


def test_content_type_and_the_description() -> None:
    assert parse_content_type("  ") is None
    with pytest.raises(FormError, match="255 bytes"):
        parse_content_type("x" * 256)
    props = MessageProperties("application/json", 2, {"a": "\x1b[2J"})
    text = summarize_publish_properties(props)
    assert text.startswith("application/json, persistent, headers a=")
    assert "\x1b" not in text


def test_a_burst_worker_refuses_a_rate_or_key_it_could_not_keep() -> None:
    from fanout_tui.transport.broker import BrokerSettings
    from fanout_tui.transport.burst import BurstWorker

    broker = BrokerSettings(urls=("amqp://guest:guest@127.0.0.1:5672/%2F",), exchange="x")
    for rate in (1e308, 1e-300):
        with pytest.raises(ValueError, match=r"at least 0\.01 and at most 1,000,000 a second"):
            BurstWorker(broker, origin="o", first_seq=1, count=10, text="t", rate=rate)
    with pytest.raises(ValueError, match="routing key is 256 bytes"):
        BurstWorker(broker, origin="o", first_seq=1, count=10, text="t", routing_key="k" * 256)
