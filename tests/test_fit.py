"""Middle ellipsis: never longer than asked, both ends kept."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fanout_tui.present.fit import middle_ellipsis


@given(st.text(), st.integers(min_value=0, max_value=60))
def test_never_longer_than_the_width_and_unchanged_when_it_fits(text: str, width: int) -> None:
    cut = middle_ellipsis(text, width)
    assert len(cut) <= width
    if len(text) <= width:
        assert cut == text


@given(st.text(alphabet=st.characters(blacklist_characters="…")), st.integers(2, 60))
def test_both_ends_are_kept(text: str, width: int) -> None:
    cut = middle_ellipsis(text, width)
    if cut != text:
        head, tail = cut.split("…")
        assert len(cut) == width
        assert text.startswith(head) and text.endswith(tail)


def test_a_server_named_queue() -> None:
    assert middle_ellipsis("amq.gen-JzTY20BRgKO-HjmUJj0wLg", 15) == "amq.gen…UJj0wLg"
