"""The exit codes every ``fanout-tui`` command ends with, and the one-line failure.

Every failure a user can cause ends in one line on stderr and a non-zero exit,
never a traceback.
"""

from __future__ import annotations

import sys

EXIT_BROKER = 1
EXIT_USAGE = 2
EXIT_UNROUTABLE = 3
EXIT_NACKED = 4
EXIT_UNCONFIRMED = 5  # written, no confirm: held by a blocked broker, or unknown
EXIT_INTERRUPTED = 130


def fail(message: str, code: int) -> int:
    print(f"fanout-tui: {message}", file=sys.stderr)
    return code
