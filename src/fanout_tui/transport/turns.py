"""Receiver threads take turns handing over deliveries.

The GIL lets only one thread run Python at a time anyway; what the turn
changes is how many threads wait for the GIL at once. With many hungry
consumer threads each hand-off is a draw among all of them and the UI thread
waits behind every one; taking turns, it competes with one or two. A receiver
takes the turn at the first delivery of a read and gives it back once that read
is handled (``ReceiverWorker``): never across a wait for the network, so a turn
is held for at most one read of pika's (a bounded number of bytes).
"""

from __future__ import annotations

import threading

TURN = threading.Lock()
