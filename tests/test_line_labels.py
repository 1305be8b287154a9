"""A pane says what `ext`, `cli#N` and `@N` mean where the first one shows in it,
once, as well as in the help's legend."""

from __future__ import annotations

from helpers import emit_log, running_app, until
from test_app import has_line, type_and_publish

from fanout_tui.model.receiver_spec import parse_spec


async def test_each_unusual_label_is_explained_once_where_it_first_shows(
    broker_url: str,
) -> None:
    specs = (parse_spec("exclusive"), parse_spec("stream:offset=first"))
    async with running_app(broker_url, receivers=2, receiver_specs=specs) as (app, pilot):
        exclusive, stream = app.panes
        exchange = app.dashboard.broker.exchange
        await type_and_publish(pilot, "ours")
        await until(pilot, lambda: len(exclusive.deliveries()) == 1, 10, what="our message")
        assert not has_line(exclusive, "ext:")  # our own line needs no word
        for body in ("theirs 1", "theirs 2"):
            emit_log(broker_url, exchange, body)  # a tutorial program: no stamp
        await until(pilot, lambda: len(stream.deliveries()) == 3, 10, what="all three")
        lines = exclusive.plain_lines()
        said = [i for i, line in enumerate(lines) if "ext: another program's message" in line]
        first_ext = next(i for i, line in enumerate(lines) if "theirs 1" in line)
        assert len(said) == 1 and said[0] < first_ext  # once, just before the first
        stream_lines = stream.plain_lines()
        assert sum("@N: the line's offset in the stream" in line for line in stream_lines) == 1
        assert sum("ext: another program's message" in line for line in stream_lines) == 1
