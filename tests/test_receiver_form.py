"""The Add-receiver and Edit-bindings forms: values in, a spec out, and the
spec's own one-line reason for a bad value (nothing added, nothing re-bound)."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import running_app, until
from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, Select, Static

from fanout_tui.model.receiver_spec import (
    KINDS,
    ReceiverSpec,
    SpecError,
    keys_for,
    parse_spec,
    spec_from_mapping,
)
from fanout_tui.model.states import WorkerState
from fanout_tui.ui.screens.receiver_form import (
    BindingsFormScreen,
    ReceiverFormScreen,
    parse_pairs,
)

pytestmark = pytest.mark.timeout(60)
_UNSET = object()


class FormHost(App[None]):
    """Nothing but the form, to read what it is dismissed with."""

    def __init__(self, form: Screen[Any]) -> None:
        super().__init__()
        self.form = form
        self.result: object = _UNSET

    def on_mount(self) -> None:
        self.push_screen(self.form, self._done)

    def _done(self, value: object) -> None:
        self.result = value


def form_title(screen: Screen[Any]) -> str:
    """The form's title, "" until it is composed."""
    titles = screen.query(".form-title")
    return str(titles.first(Static).render()) if titles else ""


def error_line(screen: Screen[Any]) -> str:
    return str(screen.query_one(".form-error", Static).render())


async def type_into(pilot: Pilot[Any], screen: Screen[Any], selector: str, text: str) -> None:
    box = screen.query_one(selector, Input)
    box.focus()
    box.value = ""
    await pilot.pause()
    await pilot.press(*text)


async def choose_kind(pilot: Pilot[Any], form: ReceiverFormScreen, kind: str) -> None:
    form.query_one("#rf-kind", Select).value = kind
    await pilot.pause()


def test_the_form_offers_exactly_the_keys_the_parser_takes() -> None:
    """One list (keys_for): each offered key parses for its kind, each other key is refused."""
    samples = {
        "name": "q1",
        "type": "quorum",
        "offset": "first",
        "ack": "manual",
        "prefetch": "5",
        "delay": "20ms",
        "max-length": "10",
        "max-bytes": "1000",
        "overflow": "drop-head",
        "ttl": "5s",
        "keep": "yes",
        "keys": "a.*",
        "match": "any",
    }
    for kind in KINDS:
        offered = keys_for(kind)
        for key, value in samples.items():
            values = {"name": "s", key: value} if kind == "shared" else {key: value}
            if key in offered:
                spec_from_mapping(kind, values, source="t", text="")
            else:
                with pytest.raises(SpecError):
                    spec_from_mapping(kind, values, source="t", text="")
    assert "max-length" not in keys_for("stream") and "offset" in keys_for("stream")
    assert "name" not in keys_for("exclusive")


def test_header_pairs() -> None:
    assert parse_pairs("") == {}
    assert parse_pairs(" x-kind = report , team=ops,") == {"x-kind": "report", "team": "ops"}
    with pytest.raises(SpecError, match="NAME=VALUE"):
        parse_pairs("novalue")


async def test_fields_follow_the_kind() -> None:
    form = ReceiverFormScreen()
    async with FormHost(form).run_test(size=(100, 40)) as pilot:
        for kind in KINDS:
            await choose_kind(pilot, form, kind)
            shown = {key for key in form.ALL_KEYS if form.query_one(f"#row-{key}").display}
            assert shown == set(keys_for(kind)), kind
            assert form.query_one("#rf-spec", Input).value == kind


async def test_a_shared_receiver_from_the_fields() -> None:
    form = ReceiverFormScreen()
    host = FormHost(form)
    async with host.run_test(size=(100, 40)) as pilot:
        await choose_kind(pilot, form, "shared")
        await type_into(pilot, form, "#rf-name", "jobs")
        await type_into(pilot, form, "#rf-max-length", "1000")
        await type_into(pilot, form, "#rf-headers", "x-kind=a, b=2")
        await pilot.pause()
        text = form.query_one("#rf-spec", Input).value
        assert text == "shared:name=jobs,max-length=1000,h.x-kind=a,h.b=2"
        await pilot.press("enter")
        await until(pilot, lambda: host.result is not _UNSET)
    spec = host.result
    assert isinstance(spec, ReceiverSpec)
    assert (spec.kind, spec.name, spec.max_length) == ("shared", "jobs", 1000)
    assert spec.headers == (("b", "2"), ("x-kind", "a"))
    assert spec == parse_spec(text)  # the same rules as --receiver


async def test_a_pasted_spec_is_taken_as_the_command_line_takes_it() -> None:
    form = ReceiverFormScreen()
    host = FormHost(form)
    async with host.run_test(size=(100, 40)) as pilot:
        await type_into(pilot, form, "#rf-spec", "stream:offset=first,prefetch=50")
        await pilot.press("enter")
        await until(pilot, lambda: host.result is not _UNSET)
    assert host.result == parse_spec("stream:offset=first,prefetch=50")


@pytest.mark.parametrize(
    ("field", "text", "reason"),
    [
        ("#rf-max-length", "-1", "max-length='-1': must be between 0"),
        ("#rf-delay", "soon", "delay='soon': must be a duration"),
        ("#rf-headers", "novalue", "write header pairs as NAME=VALUE"),
        ("#rf-spec", "stream:offset=yesterday", "offset='yesterday': must be first, last"),
        ("#rf-spec", "shared", "a shared receiver needs name="),
        ("#rf-spec", "exclusive:colour=red", "unknown key 'colour'"),
    ],
)
async def test_a_bad_value_shows_one_line_and_adds_nothing(
    field: str, text: str, reason: str
) -> None:
    form = ReceiverFormScreen()
    host = FormHost(form)
    async with host.run_test(size=(100, 40)) as pilot:
        await type_into(pilot, form, field, text)
        await pilot.press("enter")
        await until(pilot, lambda: error_line(form) != "")
        line = error_line(form)
        assert reason in line and "\n" not in line
        assert host.screen is form and host.result is _UNSET
        await pilot.press("escape")
        await until(pilot, lambda: host.result is None)


async def test_the_bindings_form_starts_from_the_panes_spec() -> None:
    spec = parse_spec("durable:name=audit,keys=kern.*;*.critical,match=any,h.a=1")
    form = BindingsFormScreen(spec, "R2", "topic")
    host = FormHost(form)
    async with host.run_test(size=(100, 30)) as pilot:
        assert form.query_one("#bf-keys", Input).value == "kern.*;*.critical"
        assert form.query_one("#bf-match", Select).value == "any"
        assert form.query_one("#bf-headers", Input).value == "a=1"
        await type_into(pilot, form, "#bf-keys", "app.*;#")
        form.query_one("#bf-match", Select).value = "all"
        await type_into(pilot, form, "#bf-headers", "x=2, y=3")
        await pilot.press("enter")
        await until(pilot, lambda: host.result is not _UNSET)
    new = host.result
    assert isinstance(new, ReceiverSpec)
    assert (new.keys, new.match, new.headers) == (("app.*", "#"), "all", (("x", "2"), ("y", "3")))
    assert (new.kind, new.name) == ("durable", "audit")  # only the bindings changed


async def test_blank_keys_mean_the_default_binding() -> None:
    form = BindingsFormScreen(parse_spec("exclusive:keys=a"), "R1", "direct")
    host = FormHost(form)
    async with host.run_test(size=(100, 30)) as pilot:
        await type_into(pilot, form, "#bf-keys", "")
        await pilot.press("enter")
        await until(pilot, lambda: host.result is not _UNSET)
    assert isinstance(host.result, ReceiverSpec) and host.result.keys == ()


@pytest.mark.parametrize(
    ("field", "text", "reason"),
    [
        ("#bf-headers", "novalue", "write header pairs as NAME=VALUE"),
        ("#bf-keys", "k" * 256, "a binding key is at most 255 bytes"),
    ],
)
async def test_a_bad_binding_shows_one_line_and_binds_nothing(
    field: str, text: str, reason: str
) -> None:
    form = BindingsFormScreen(ReceiverSpec(), "R1", "topic")
    host = FormHost(form)
    async with host.run_test(size=(100, 30)) as pilot:
        box = form.query_one(field, Input)
        box.value = text  # typed: 256 key presses add nothing to what is tested
        box.focus()
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, lambda: error_line(form) != "")
        assert reason in error_line(form)
        assert host.screen is form and host.result is _UNSET


# In the app, against a real broker ------------------------------------------------
async def test_ctrl_o_adds_the_receiver_the_form_describes(broker_url: str) -> None:
    async with running_app(broker_url, receivers=1) as (app, pilot):
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, ReceiverFormScreen))
        form = app.screen
        await until(pilot, lambda: bool(form.query("#rf-spec")))  # composed
        await type_into(pilot, form, "#rf-spec", "exclusive:max-length=100,prefetch=20")
        await pilot.press("enter")
        await until(pilot, lambda: len(app.panes) == 2)
        added = app.panes[1].receiver
        assert added.spec == parse_spec("exclusive:max-length=100,prefetch=20")
        await until(pilot, lambda: added.state.state is WorkerState.CONSUMING)


async def test_a_bad_spec_in_the_app_adds_no_pane(broker_url: str) -> None:
    async with running_app(broker_url, receivers=1) as (app, pilot):
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, ReceiverFormScreen))
        form = app.screen
        await until(pilot, lambda: bool(form.query("#rf-spec")))  # composed
        await type_into(pilot, form, "#rf-spec", "exclusive:max-length=-1")
        await pilot.press("enter")
        await until(pilot, lambda: "max-length" in error_line(form))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ReceiverFormScreen))
        assert len(app.panes) == 1 and len(app.dashboard.receivers) == 1


async def test_f2_on_a_pane_opens_its_bindings(broker_url: str) -> None:
    async with running_app(broker_url, receivers=2) as (app, pilot):
        pane = app.panes[1]
        pane.focus()
        await pilot.pause()
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, BindingsFormScreen))
        await until(pilot, lambda: form_title(app.screen) == "Bindings of R2")
        await pilot.press("escape")  # cancelled: nothing re-bound
        await until(pilot, lambda: not isinstance(app.screen, BindingsFormScreen))
        assert pane.receiver.spec == ReceiverSpec()


@pytest.mark.parametrize("kind", KINDS)
async def test_the_form_fits_the_smallest_common_terminal(kind: str) -> None:
    """80x24: the form with every field of a kind fits, its fields scrolling."""
    form = ReceiverFormScreen()
    async with FormHost(form).run_test(size=(80, 24)) as pilot:
        await choose_kind(pilot, form, kind)
        await pilot.pause()
        box = form.query_one(".receiver-form").region
        assert box.y >= 0 and box.bottom <= 24, box
        assert form.query_one(".form-buttons").region.bottom <= 24


async def test_edit_bindings_from_the_input_targets_the_newest_pane(broker_url: str) -> None:
    """The palette's Edit bindings… while the input has focus: the newest pane's."""
    async with running_app(broker_url, receivers=2) as (app, pilot):
        await app.run_action("edit_bindings")
        await until(pilot, lambda: isinstance(app.screen, BindingsFormScreen))
        await until(pilot, lambda: form_title(app.screen) == "Bindings of R2")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, BindingsFormScreen))


@pytest.mark.parametrize(
    ("exchange_type", "offered", "headers"),
    [
        ("fanout", set(), False),
        ("direct", {"keys"}, False),
        ("topic", {"keys"}, False),
        ("headers", {"match"}, True),
        ("", {"keys", "match"}, True),
    ],
)
async def test_only_the_routing_fields_the_exchange_uses_are_offered(
    exchange_type: str, offered: set[str], headers: bool
) -> None:
    form = ReceiverFormScreen(exchange_type)
    async with FormHost(form).run_test(size=(100, 40)) as pilot:
        await choose_kind(pilot, form, "exclusive")
        shown = {key for key in ("keys", "match") if form.query_one(f"#row-{key}").display}
        assert shown == offered
        assert form.query_one("#row-headers").display is headers
