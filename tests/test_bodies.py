"""What a whole body is and how the detail screen lays it out (no Textual here).

The pure formatting functions take literal bytes; the properties and headers
come from real messages through a real broker.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pika
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from real_deliveries import receive_one

from fanout_tui.model.delivery import SEQ_HEADER
from fanout_tui.present.bodies import (
    ROW_CHARS,
    classify,
    format_body,
    hex_row,
    hex_row_count,
    is_json_content_type,
    json_tokens,
    load_json,
    pretty_json_lines,
    split_long_lines,
    text_lines,
)
from fanout_tui.present.properties import describe_headers, describe_properties

ESC_TITLE = "\x1b]0;pwned\x07"
MARKUP = "[@click=app.quit]x[/]"


def has_raw_controls(text: str) -> bool:
    return any(not (ch.isprintable() or ch == " ") for ch in text)


# classify -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "kind"),
    [
        (b'{"a": 1}', None, "json"),
        (b"  [1, 2, 3]\n", None, "json"),
        (b'{"a": 1}', "application/json", "json"),
        (b"42", "application/json; charset=utf-8", "json"),  # any value when it says JSON
        (b"42", None, "text"),  # without the content type a bare number is text
        (b'"just a string"', None, "text"),
        (b"{not json", "application/json", "text"),  # says JSON, is not: what it is
        (b"{not json", None, "text"),
        (b"info: Hello World!", "text/plain", "text"),
        ("naïve café ✓\n".encode(), None, "text"),
        (b"", None, "text"),
        (b"line one\r\n\tline two\x0c\n", None, "text"),
        (bytes(range(256)), None, "binary"),  # not UTF-8
        (b"\xff\xfe\x00h\x00i", None, "binary"),
        (b"\x00\x01\x02\x03abc", None, "binary"),  # UTF-8, but mostly control characters
        (b'{"a": "\xff"}', "application/json", "binary"),  # JSON-shaped, not UTF-8
    ],
)
def test_classify(body: bytes, content_type: str | None, kind: str) -> None:
    assert classify(body, content_type) == kind


def test_a_few_escape_sequences_in_text_leave_it_text() -> None:
    body = ("plain words " * 20 + ESC_TITLE).encode()
    assert classify(body) == "text"


@pytest.mark.parametrize(
    ("content_type", "is_json"),
    [
        ("application/json", True),
        ("APPLICATION/JSON; charset=utf-8", True),
        ("text/json", True),
        ("application/vnd.api+json", True),
        ("text/plain", False),
        ("application/jsonl", False),
        ("", False),
        (None, False),
    ],
)
def test_json_content_types(content_type: str | None, is_json: bool) -> None:
    assert is_json_content_type(content_type) is is_json


# load_json: json.loads without holding the GIL for long ---------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=60,
)


@settings(max_examples=200, deadline=None)
@given(value=json_values, window=st.sampled_from([2, 5, 16, 64, 65536]))
def test_load_json_gives_what_json_loads_gives(value: object, window: int) -> None:
    for text in (json.dumps(value), json.dumps(value, indent=2, ensure_ascii=False)):
        assert load_json(text, max_window=window) == json.loads(text)


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(
        st.text(alphabet='{}[],:" \n0123456789.eE-+truefalsn\\', max_size=40),
        json_values.map(json.dumps).flatmap(
            lambda s: st.integers(0, len(s)).map(lambda i: s[:i] + s[i + 1 :])
        ),
    ),
    window=st.sampled_from([2, 7, 65536]),
)
def test_load_json_fails_where_json_loads_fails(text: str, window: int) -> None:
    try:
        expected: object = json.loads(text)
    except json.JSONDecodeError as exc:
        with pytest.raises(json.JSONDecodeError) as caught:
            load_json(text, max_window=window)
        assert (caught.value.msg, caught.value.pos) == (exc.msg, exc.pos)
    else:
        assert load_json(text, max_window=window) == expected


def test_absurd_nesting_is_a_recursion_error_as_with_json_loads() -> None:
    text = "[" * 100_000 + "]" * 100_000
    with pytest.raises(RecursionError):
        json.loads(text)
    with pytest.raises(RecursionError):
        load_json(text)
    assert classify(text.encode()) == "text"  # not JSON we can show, so its text


def ten_mib_json() -> bytes:
    items = [
        {"id": i, "name": f"item {i}", "tags": ["a", "b"], "value": i * 1.5, "ok": True}
        for i in range(120_000)
    ]
    return json.dumps({"data": {"items": items}}).encode()


def test_parsing_a_large_body_lets_other_threads_run() -> None:
    """json.loads holds the GIL for the whole parse (~0.3 s for 10 MiB); load_json
    gives it up between pieces, so a UI thread keeps running meanwhile."""
    text = ten_mib_json().decode()
    gaps: list[float] = []
    done = threading.Event()

    def ticker() -> None:
        last = time.perf_counter()
        while not done.wait(0.002):
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    thread = threading.Thread(target=ticker)
    thread.start()
    try:
        value = load_json(text)
    finally:
        done.set()
        thread.join()
    assert value["data"]["items"][-1]["id"] == 119_999
    assert len(gaps) > 20  # the ticker ran throughout
    # The worst gap is a garbage collection pass, not the parse; generous for CI.
    assert sorted(gaps)[len(gaps) // 2] < 0.05


# lines -----------------------------------------------------------------------------


def test_pretty_json_lines_indent_two_and_keep_non_ascii() -> None:
    body = '{"name":"café","list":[1,2.5,true,null],"empty":{}}'.encode()
    assert pretty_json_lines(body) == [
        "{",
        '  "name": "café",',
        '  "list": [',
        "    1,",
        "    2.5,",
        "    true,",
        "    null",
        "  ],",
        '  "empty": {}',
        "}",
    ]


def test_pretty_json_escapes_what_json_leaves_raw() -> None:
    # json.dumps(ensure_ascii=False) escapes only C0 controls: C1, DEL and bidi
    # overrides come out raw, and must be escaped before they reach a terminal.
    body = json.dumps({"t": "a\u009bb\x7fc\u202ed\x1b"}).encode()
    lines = pretty_json_lines(body)
    assert lines[1] == '  "t": "a\\x9bb\\x7fc\\u202ed\\u001b"'
    assert not any(has_raw_controls(line) for line in lines)


def test_pretty_json_lines_refuse_what_is_not_json() -> None:
    with pytest.raises(ValueError):
        pretty_json_lines(b"{nope")
    with pytest.raises(ValueError):
        pretty_json_lines(b'{"a": "\xff"}')


def test_text_lines() -> None:
    body = b"one\r\ntwo\rstill two\n\tthree \xff\x1b[2J\n"
    assert text_lines(body) == ["one", "two\\rstill two", "\\tthree \\xff\\x1b[2J"]
    assert text_lines(b"") == [""]
    assert text_lines(b"no newline") == ["no newline"]
    assert text_lines(b"a\n\n") == ["a", ""]


def test_format_body_parses_once_and_picks_the_view() -> None:
    assert format_body(b'{"a":[1]}') == ("json", ["{", '  "a": [', "    1", "  ]", "}"])
    assert format_body(b"hi\nthere") == ("text", ["hi", "there"])
    assert format_body(bytes(range(256))) == ("binary", None)


def test_long_lines_continue_on_the_next_rows() -> None:
    rows, continued = split_long_lines(["short", "x" * 25, ""], width=10)
    assert rows == ["short", "x" * 10, "x" * 10, "x" * 5, ""]
    assert continued == {2: False, 3: False}
    assert "".join(rows[1:4]) == "x" * 25


def test_long_json_lines_know_whether_they_continue_a_string() -> None:
    line = '  "key": "' + "s" * 15 + '", "n": 1234567890123'
    rows, continued = split_long_lines([line], width=12, json_strings=True)
    assert "".join(rows) == line
    # Rows 1 and 2 start inside the long string; row 3 after it.
    assert continued == {1: True, 2: True, 3: False}
    pieces = [json_tokens(row, continued.get(i, False)) for i, row in enumerate(rows)]
    assert pieces[1] == [("string", rows[1])]
    assert pieces[2][0] == ("string", 's"')


def test_the_default_row_width() -> None:
    rows, continued = split_long_lines(["y" * (ROW_CHARS * 2 + 1)])
    assert [len(r) for r in rows] == [ROW_CHARS, ROW_CHARS, 1]
    assert set(continued) == {1, 2}


@pytest.mark.parametrize(
    ("line", "tokens"),
    [
        (
            '  "name": "x, y: [z]",',
            [
                ("plain", "  "),
                ("key", '"name"'),
                ("punct", ":"),
                ("plain", " "),
                ("string", '"x, y: [z]"'),
                ("punct", ","),
            ],
        ),
        (
            '  "n": -12.5e3, "t": true, "f": false, "z": null',
            [
                ("plain", "  "),
                ("key", '"n"'),
                ("punct", ":"),
                ("plain", " "),
                ("number", "-12.5e3"),
                ("punct", ","),
                ("plain", " "),
                ("key", '"t"'),
                ("punct", ":"),
                ("plain", " "),
                ("literal", "true"),
                ("punct", ","),
                ("plain", " "),
                ("key", '"f"'),
                ("punct", ":"),
                ("plain", " "),
                ("literal", "false"),
                ("punct", ","),
                ("plain", " "),
                ("key", '"z"'),
                ("punct", ":"),
                ("plain", " "),
                ("literal", "null"),
            ],
        ),
        ('    "esc \\" \\\\ \\x1b"', [("plain", "    "), ("string", '"esc \\" \\\\ \\x1b"')]),
        ("  [],", [("plain", "  "), ("punct", "["), ("punct", "]"), ("punct", ",")]),
        (
            MARKUP,
            [
                ("punct", "["),
                ("plain", "@click=app.quit"),
                ("punct", "]"),
                ("plain", "x"),
                ("punct", "["),
                ("plain", "/"),
                ("punct", "]"),
            ],
        ),
    ],
)
def test_json_tokens(line: str, tokens: list[tuple[str, str]]) -> None:
    assert json_tokens(line) == tokens
    assert "".join(text for _, text in json_tokens(line)) == line


@given(line=st.text(max_size=80), in_string=st.booleans())
def test_json_tokens_always_give_the_whole_line_back(line: str, in_string: bool) -> None:
    assert "".join(text for _, text in json_tokens(line, in_string)) == line


# hex ------------------------------------------------------------------------------


def test_hex_rows_look_like_hexdump_c() -> None:
    body = b"Hello, world!\n\x00\x01" + bytes(range(0x7E, 0x84))
    assert hex_row_count(body) == 2
    assert hex_row(body, 0) == (
        "00000000  48 65 6c 6c 6f 2c 20 77  6f 72 6c 64 21 0a 00 01  |Hello, world!...|"
    )
    assert hex_row(body, 1) == (
        "00000010  7e 7f 80 81 82 83                                 |~.....|"
    )
    assert hex_row(body, 2) == "" and hex_row(body, -1) == ""
    assert len(hex_row(body, 1)) == len("00000010  ") + 48 + len("  |~.....|")


def test_hex_rows_of_every_byte() -> None:
    body = bytes(range(256))
    assert hex_row_count(body) == 16
    assert hex_row_count(b"") == 0 and hex_row_count(b"x" * 17) == 2
    row = hex_row(body, 4)  # 0x40..0x4f
    assert row == "00000040  40 41 42 43 44 45 46 47  48 49 4a 4b 4c 4d 4e 4f  |@ABCDEFGHIJKLMNO|"
    for n in range(16):
        assert hex_row(body, n).startswith(f"{n * 16:08x}  ")
        assert not has_raw_controls(hex_row(body, n))


def test_hex_rows_are_computed_on_demand() -> None:
    body = b"\xab" * (10 * 1024 * 1024)
    started = time.perf_counter()
    rows = [hex_row(body, n) for n in range(655_000, 655_360)]
    assert time.perf_counter() - started < 0.5
    assert rows[-1].startswith("009ffff0  ab ab")
    assert hex_row_count(body) == 655_360


# properties and headers, from real messages ---------------------------------------


def test_properties_of_a_real_message(broker_url: str, exchange: str) -> None:
    sent = pika.BasicProperties(
        content_type="application/json",
        content_encoding="identity",
        delivery_mode=2,
        priority=5,
        correlation_id="corr-1",
        reply_to="replies",
        expiration="60000",
        message_id="m-42",
        timestamp=1_764_222_000,
        type="order.created",
        user_id="guest",
        app_id="tests",
        headers={
            SEQ_HEADER: 12,
            "text": "plain",
            "raw": b"\xff\xfe",
            "flag": True,
            "table": {"a": 1, "b": [1, "two"]},
            "list": [1, 2],
        },
    )
    delivery = receive_one(broker_url, exchange, b"{}", sent)
    described = dict(describe_properties(delivery))
    assert described == {
        "content_type": "application/json",
        "content_encoding": "identity",
        "delivery_mode": "2 (persistent)",
        "priority": "5",
        "correlation_id": "corr-1",
        "reply_to": "replies",
        "expiration": "60000 ms",
        "message_id": "m-42",
        "timestamp": "1764222000 (2025-11-27 05:40:00 UTC)",
        "type": "order.created",
        "user_id": "guest",
        "app_id": "tests",
        f"headers.{SEQ_HEADER}": "12",
        "headers.text": "plain",
        "headers.raw": "\\xff\\xfe",  # not UTF-8: came back as bytes, shown escaped
        "headers.flag": "true",
        "headers.table": '{a: 1, b: [1, "two"]}',
        "headers.list": "[1, 2]",
    }
    # Properties first, in AMQP order, then the headers.
    assert [k for k, _ in describe_properties(delivery)][:3] == [
        "content_type",
        "content_encoding",
        "delivery_mode",
    ]


def test_only_the_properties_present_are_listed(broker_url: str, exchange: str) -> None:
    delivery = receive_one(broker_url, exchange, "info: Hello World!")
    assert describe_properties(delivery) == []
    transient = receive_one(
        broker_url, exchange, "x", pika.BasicProperties(content_type="text/plain", delivery_mode=1)
    )
    assert describe_properties(transient) == [
        ("content_type", "text/plain"),
        ("delivery_mode", "1 (transient)"),
    ]


def test_hostile_headers_come_out_escaped_and_one_line(broker_url: str, exchange: str) -> None:
    sent = pika.BasicProperties(
        content_type=ESC_TITLE,
        headers={
            "evil\u202e": ESC_TITLE,
            "markup": MARKUP,
            "nested": {"deep": "a\nb\x9b", "when": dt.datetime(2026, 1, 2, 3, 4, 5)},
            "long": "z" * 5000,
        },
    )
    delivery = receive_one(broker_url, exchange, b"body", sent)
    described = describe_properties(delivery)
    for name, value in described:
        assert not has_raw_controls(name) and not has_raw_controls(value)
        assert "\n" not in value
    values = dict(described)
    assert values["content_type"] == "\\x1b]0;pwned\\x07"
    assert values["headers.evil\\u202e"] == "\\x1b]0;pwned\\x07"
    assert values["headers.markup"] == MARKUP  # shown as it is; the screen never parses it
    assert values["headers.nested"].startswith('{deep: "a\\nb\\x9b", when: 2026-01-02')
    assert values["headers.long"].endswith("in all]")  # long values are cut, with the size
    assert describe_headers({}) == [] and describe_headers(None) == []
