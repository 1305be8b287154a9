"""Which whole bodies a pane keeps: the newest, within a budget of bytes.

A pane shows 1,000 lines, and a line needs only a preview of its body; the
detail screen and an export want the whole body. Kept for every line, 64 KiB
bodies would cost 64 MiB a pane, more again in the hand-off from a busy
receiver. So each receiver has one :class:`BodyBudget`: every body longer than
a preview enters the pane as its preview plus a :class:`~.delivery.KeptBody`
holding the whole body, and the budget keeps the whole bodies of the newest
ones only, up to ``limit`` bytes together, wherever their deliveries are (in
the mailbox waiting to be drained, in the pane's lines, or already dropped from
either). When a new body would take the total over the limit, the oldest kept
bodies are released; their lines keep the preview and the body's size.

The budget runs in the receiver's thread, in :meth:`Mailbox.put_delivery
<fanout_tui.model.mailbox.Mailbox.put_delivery>`, so a body the UI has not
drained yet is bounded too. It is the only writer of every ``KeptBody``;
readers take the body in one attribute read (:meth:`Delivery.pinned
<fanout_tui.model.delivery.Delivery.pinned>`), so no lock is needed.
"""

from __future__ import annotations

from collections import deque

from .delivery import Delivery, KeptBody

# Characters of body a pane line shows.
PREVIEW_CHARS = 300
# Bytes of a body kept as its preview: enough for PREVIEW_CHARS characters of
# UTF-8 (at most 4 bytes each) and the sanitizer's look past the end, so a line
# reads the same whether its whole body was kept or not. A body no longer than
# this is its own preview: always kept, and not counted against the budget
# (1,000 lines of them are at most ~1.2 MB).
PREVIEW_BYTES = 4 * (PREVIEW_CHARS + 1)

# Whole bodies kept per pane, newest first. 16 MiB keeps the newest 256 bodies
# of 64 KiB in full, or one body of 10 MiB (the largest the detail screen is
# made to open), while 8 busy panes hold at most 128 MiB of bodies together:
# the dashboard's memory stays bounded however large and fast the bodies come.
PANE_BODY_BUDGET = 16 * 1024 * 1024


class BodyBudget:
    """The whole bodies of one receiver's deliveries, the newest within ``limit`` bytes."""

    def __init__(self, limit: int = PANE_BODY_BUDGET) -> None:
        if limit < 0:
            raise ValueError(f"a body budget is a number of bytes, not {limit}")
        self.limit = limit
        self.kept_bytes = 0  # whole bodies kept, in bytes; never more than limit
        self.released = 0  # bodies not kept, or no longer (each counted once)
        self._kept: deque[KeptBody] = deque()  # oldest first

    @property
    def kept_count(self) -> int:
        return len(self._kept)

    def keep(self, delivery: Delivery) -> Delivery:
        """``delivery`` as its pane will hold it.

        A body no longer than a preview comes back as it is. A longer one comes
        back as its preview with the whole body in ``kept``, counted against the
        budget; the oldest kept bodies are released until the total fits. A body
        larger than the whole budget is not kept at all (only its preview), so
        it does not push out everything else.
        """
        body = delivery.body
        if len(body) <= PREVIEW_BYTES or delivery.kept is not None:
            return delivery
        cell = KeptBody(body)
        held = delivery._replace(body=body[:PREVIEW_BYTES], kept=cell)
        size = cell.size
        if size > self.limit:
            cell.body = None
            self.released += 1
            return held
        kept = self._kept
        kept.append(cell)
        total = self.kept_bytes + size
        while total > self.limit:
            oldest = kept.popleft()
            total -= oldest.size
            oldest.body = None
            self.released += 1
        self.kept_bytes = total
        return held
