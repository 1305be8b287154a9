"""Shortening text to fit a width, keeping both ends readable."""

from __future__ import annotations

ELLIPSIS = "…"


def middle_ellipsis(text: str, width: int) -> str:
    """``text`` cut in the middle to at most ``width`` characters: server-named
    queues and URLs differ at both ends (``amq.gen-JzTY…kO-HjmUJj0wLg``)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    keep = width - 1
    head = (keep + 1) // 2
    return text[:head] + ELLIPSIS + text[len(text) - (keep - head) :]
