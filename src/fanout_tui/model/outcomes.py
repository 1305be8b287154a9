"""What became of a publish.

:class:`Outcome` is what the publisher reports for each message and what
delivery tracking records. The words for it are in present/outcomes.py, once
for every place that shows an outcome.
"""

from __future__ import annotations

import enum


class Outcome(enum.Enum):
    PUBLISHING = "publishing"  # sent, no confirm yet (tracking only: a result never is)
    ROUTED = "routed"
    UNROUTABLE = "unroutable"
    NACKED = "nacked"
    FAILED = "failed"  # not sent: never written to the broker, or refused by it
    # Written, and the broker blocks the connection (a resource alarm): not yet
    # routed, and routed once the alarm clears. Interim, like PUBLISHING.
    HELD = "held"
    # Written, and the connection failed before the confirm: it may have been routed.
    UNKNOWN = "unknown"
