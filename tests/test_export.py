"""Exporting a pane's messages to JSON Lines, from real deliveries."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from pathlib import Path

import pika
import pytest
from real_deliveries import receive, receive_one

from fanout_tui.locations import data_directory, exports_dir
from fanout_tui.model.delivery import ORIGIN_HEADER, SENT_HEADER, SEQ_HEADER
from fanout_tui.model.export import (
    DEFAULT_BODY_CAP,
    ExportError,
    default_export_path,
    delivery_record,
    export_jsonl,
)

ESC_TITLE = "\x1b]0;pwned\x07"


def read_jsonl(path: Path) -> list[dict[str, object]]:
    text = path.read_text(encoding="ascii")  # the file is plain ASCII
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_a_record_from_a_stamped_message(broker_url: str, exchange: str) -> None:
    sent_us = int(time.time() * 1_000_000) - 2_500  # 2.5 ms before now
    props = pika.BasicProperties(
        content_type="text/plain",
        delivery_mode=1,
        timestamp=1_764_222_000,
        headers={
            SEQ_HEADER: 7,
            SENT_HEADER: sent_us,
            ORIGIN_HEADER: "abc123",
            "raw": b"\x00\xff",
            "nested": {"list": [1, "two", b"\xfe"]},
        },
    )
    delivery = receive_one(broker_url, exchange, "hello", props)
    record = delivery_record(delivery)
    assert record["seq"] == 7
    assert record["origin"] == "abc123"
    assert record["sent_at_epoch"] == sent_us / 1_000_000
    sent_at = dt.datetime.fromisoformat(record["sent_at"])
    assert sent_at.tzinfo is not None and sent_at.utcoffset() == dt.timedelta(0)
    assert round(sent_at.timestamp() * 1_000_000) == sent_us  # microseconds kept
    received = dt.datetime.fromisoformat(record["received_at"])
    assert abs(received.timestamp() - delivery.received_at) < 1e-5
    assert record["received_at_epoch"] == delivery.received_at
    assert record["received_at"].endswith("+00:00")
    assert len(record["received_at"].split(".")[1]) == len("123456+00:00")
    assert 0 < record["latency_ms"] < 60_000
    assert (record["exchange"], record["routing_key"], record["queue"]) == (
        exchange,
        "",
        delivery.queue,
    )
    assert record["redelivered"] is False
    assert record["properties"] == {
        "content_type": "text/plain",
        "delivery_mode": 1,
        "timestamp": 1_764_222_000,
        "headers": {
            SEQ_HEADER: 7,
            SENT_HEADER: sent_us,
            ORIGIN_HEADER: "abc123",
            "raw": {"base64": base64.b64encode(b"\x00\xff").decode()},
            "nested": {"list": [1, "two", {"base64": base64.b64encode(b"\xfe").decode()}]},
        },
    }
    assert (record["size"], record["body"], record["body_encoding"], record["truncated"]) == (
        5,
        "hello",
        "utf-8",
        False,
    )
    json.dumps(record)  # JSON-safe as it is


def test_a_record_from_another_programs_message(broker_url: str, exchange: str) -> None:
    record = delivery_record(receive_one(broker_url, exchange, "info: Hello World!"))
    assert record["seq"] is None and record["origin"] is None
    assert record["sent_at"] is None and record["latency_ms"] is None
    assert record["properties"] == {"headers": {}}


def test_export_writes_json_lines_that_round_trip(broker_url: str, exchange: str) -> None:
    binary = bytes(range(256))
    hostile = f"{ESC_TITLE}[@click=app.quit]x[/]\u202e\n"
    deliveries = receive(
        broker_url,
        exchange,
        [
            (b'{"a": [1, 2]}', pika.BasicProperties(content_type="application/json")),
            (binary, None),
            (hostile, None),
            (b"", None),
        ],
    )
    path = exports_dir() / "R1-test.jsonl"
    assert not path.parent.exists()  # made by the export
    assert export_jsonl([*deliveries, "a pane's marker line"], path) == 4  # type: ignore[list-item]
    records = read_jsonl(path)
    assert [r["size"] for r in records] == [13, 256, len(hostile.encode()), 0]
    assert json.loads(records[0]["body"]) == {"a": [1, 2]}
    assert records[1]["body_encoding"] == "base64"
    assert base64.b64decode(records[1]["body"]) == binary
    assert records[2]["body"] == hostile and records[2]["body_encoding"] == "utf-8"
    assert "\x1b" not in path.read_text(encoding="ascii")  # safe to cat to a terminal
    assert records[3]["body"] == "" and records[3]["truncated"] is False
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no .tmp left behind


def test_the_cap_cuts_and_flags(broker_url: str, exchange: str) -> None:
    text = ("é" * 600).encode()  # 1200 bytes of two-byte characters
    binary = b"\xff" * 1000
    small = b"fits"
    deliveries = receive(broker_url, exchange, [(text, None), (binary, None), (small, None)])
    path = data_directory() / "capped.jsonl"
    assert export_jsonl(deliveries, path, body_cap=101) == 3
    cut_text, cut_binary, whole = read_jsonl(path)
    # A cap inside a character leaves that character out rather than go base64.
    assert cut_text["body"] == "é" * 50 and cut_text["body_encoding"] == "utf-8"
    assert cut_text["truncated"] is True and cut_text["size"] == 1200
    assert base64.b64decode(cut_binary["body"]) == b"\xff" * 101
    assert cut_binary["truncated"] is True and cut_binary["size"] == 1000
    assert whole["body"] == "fits" and whole["truncated"] is False
    assert DEFAULT_BODY_CAP == 1024 * 1024


def test_export_replaces_an_existing_file(broker_url: str, exchange: str, tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text("old\n")
    delivery = receive_one(broker_url, exchange, "new")
    assert export_jsonl([delivery], path) == 1
    assert [r["body"] for r in read_jsonl(path)] == ["new"]
    assert export_jsonl([], path) == 0
    assert path.read_text() == ""


def test_an_unwritable_place_is_one_line_export_error(
    broker_url: str, exchange: str, tmp_path: Path
) -> None:
    delivery = receive_one(broker_url, exchange, "x")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    path = blocker / "exports" / "R1.jsonl"  # works as root too, unlike chmod
    with pytest.raises(ExportError) as caught:
        export_jsonl([delivery], path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"could not write {path}: ")
    assert "Not a directory" in message or "File exists" in message
    assert blocker.read_text() == "not a directory"

    # A directory where the file should go: also refused, nothing left behind.
    target = tmp_path / "dir.jsonl"
    target.mkdir()
    with pytest.raises(ExportError) as caught:
        export_jsonl([delivery], target)
    assert "\n" not in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "dir.jsonl"]


def test_an_unwritable_data_dir(
    broker_url: str, exchange: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "data-is-a-file"
    blocker.write_text("")
    monkeypatch.setenv("FANOUT_TUI_DATA_DIR", str(blocker))
    path = default_export_path("R2", time.time())
    assert path.parent == blocker / "exports"
    with pytest.raises(ExportError, match="could not write"):
        export_jsonl([receive_one(broker_url, exchange, "x")], path)


def test_default_export_path() -> None:
    now = time.mktime((2026, 11, 27, 5, 19, 32, 0, 0, -1))  # local time
    path = default_export_path("R3", now)
    assert path == data_directory() / "exports" / "R3-20261127-051932-000.jsonl"
    assert path.parent == exports_dir()
    assert default_export_path("R 4/../x", now).name == "R_4_.._x-20261127-051932-000.jsonl"
    assert default_export_path("../", now).name == "export-20261127-051932-000.jsonl"
    # Two exports within one second get two files.
    assert default_export_path("R3", now + 0.25).name == "R3-20261127-051932-250.jsonl"


def test_an_absurd_send_stamp_from_another_program_is_written_not_fatal(
    broker_url: str, exchange: str, tmp_path: Path
) -> None:
    stamped = pika.BasicProperties(headers={SENT_HEADER: 10**18})
    delivery = receive_one(broker_url, exchange, "from the far future", stamped)
    path = tmp_path / "far.jsonl"
    assert export_jsonl([delivery], path) == 1
    (record,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert record["sent_at"] == ""
    assert record["body"] == "from the far future"
