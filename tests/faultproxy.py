"""A fault-injection path for the tests: a TCP proxy on loopback that passes,
delays, throttles or blackholes bytes, in either direction, while every socket
stays open.

It stands between the app and a private node, as a bad network would: a
blackhole holds the bytes (they stop arriving, nothing is closed, no error is
seen) and lets them through, in order, when the path returns, as TCP would
after a partition that heals; a close of one side is passed on only as part of
the byte stream, so a peer behind a blackhole never sees it. It runs its own
event loop in its own thread; :meth:`FaultProxy.close` stops it and joins it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

UP = "up"  # app -> broker
DOWN = "down"  # broker -> app
BOTH = (UP, DOWN)
CHUNK = 16 * 1024
QUEUED_CHUNKS = 64  # per direction and connection: then the reader waits (TCP backpressure)
_EOF = b""


@dataclass
class Link:
    """How one direction of the path treats bytes; changed from any thread
    through :meth:`FaultProxy.set`."""

    delay: float = 0.0  # seconds added to every byte
    rate: float | None = None  # bytes per second, None: as fast as it goes
    blackhole: bool = False  # hold every byte until the path returns


class _Pipe:
    """One direction of one proxied connection: read, stamp, wait, write."""

    def __init__(
        self,
        proxy: FaultProxy,
        direction: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.proxy = proxy
        self.direction = direction
        self.reader = reader
        self.writer = writer
        self.queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUED_CHUNKS)

    async def read(self) -> None:
        try:
            while True:
                link = self.proxy.links[self.direction]
                size = CHUNK if link.rate is None else max(1, min(CHUNK, int(link.rate / 20)))
                data = await self.reader.read(size)
                await self.queue.put((time.monotonic(), data))
                if not data:
                    return
        except (ConnectionError, OSError):
            await self.queue.put((time.monotonic(), _EOF))

    async def write(self) -> None:
        proxy = self.proxy
        try:
            while True:
                stamped, data = await self.queue.get()
                while True:
                    link = proxy.links[self.direction]
                    if proxy.closing:
                        return
                    if link.blackhole:
                        await proxy.changed_event().wait()
                        continue
                    due = stamped + link.delay - time.monotonic()
                    if due <= 0:
                        break
                    # Woken early by a change, so a delay lifted takes effect at once.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(proxy.changed_event().wait(), due)
                if not data:
                    if self.writer.can_write_eof():
                        self.writer.write_eof()
                    return
                self.writer.write(data)
                await self.writer.drain()
                proxy.count(self.direction, len(data))
                if link.rate is not None:
                    await asyncio.sleep(len(data) / link.rate)
        except (ConnectionError, OSError):
            return


class FaultProxy:
    """``127.0.0.1:<port>`` forwards to ``target`` through links it can spoil.

    Use as a context manager, or call :meth:`close`. ``port`` is where the app
    connects; :meth:`url` rewrites a broker URL to go through the proxy.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.links = {UP: Link(), DOWN: Link()}
        self.passed = {UP: 0, DOWN: 0}  # bytes written on, per direction
        self.accepted = 0  # connections accepted
        self.port = 0
        self.closing = False
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or not self.port:
            self.close()
            raise RuntimeError("the fault proxy did not start")

    # Any thread ------------------------------------------------------------------
    def url(self, broker_url: str) -> str:
        """``broker_url`` with its host and port replaced by the proxy's."""
        scheme, rest = broker_url.split("://", 1)
        userinfo, _, after = rest.rpartition("@")
        path = after.split("/", 1)[1] if "/" in after else ""
        return f"{scheme}://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}/{path}"

    def set(
        self,
        directions: tuple[str, ...] = BOTH,
        *,
        delay: float = 0.0,
        rate: float | None = None,
        blackhole: bool = False,
    ) -> None:
        """How the path treats bytes from now on, in ``directions``; waits until
        the proxy's thread has taken it."""
        done = threading.Event()

        def change() -> None:
            for direction in directions:
                self.links[direction] = Link(delay, rate, blackhole)
            self._changed.set()  # wake every writer waiting on the old link
            self._changed = asyncio.Event()
            done.set()

        self._loop.call_soon_threadsafe(change)
        if not done.wait(5):
            raise RuntimeError("the fault proxy did not take the change")

    def clear(self) -> None:
        """Pass every byte again, at once (what was held flows on, in order)."""
        self.set()

    @contextlib.contextmanager
    def blackholed(self, directions: tuple[str, ...] = BOTH) -> Iterator[None]:
        self.set(directions, blackhole=True)
        try:
            yield
        finally:
            self.clear()

    def close(self, timeout: float = 5.0) -> None:
        """Close the listener and every proxied connection; stop and join the thread."""
        if self._thread.is_alive() and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._shutdown)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("the fault proxy's thread did not stop")

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # The proxy's thread ----------------------------------------------------------
    def changed_event(self) -> asyncio.Event:
        return self._changed

    def count(self, direction: str, size: int) -> None:
        self.passed[direction] += size

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
            self._ready.set()
            self._loop.run_forever()
        finally:
            self._ready.set()
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def _shutdown(self) -> None:
        # Every handler ends by itself once its sockets are gone and its
        # writers see ``closing``; none is cancelled from outside (asyncio's
        # stream server would log a cancelled handler as an error).
        self.closing = True
        self._changed.set()
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()

        async def finish() -> None:
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=3)
            self._loop.stop()

        self._loop.create_task(finish())

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.add(client_w)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        server_w: asyncio.StreamWriter | None = None
        pumps: list[asyncio.Task[None]] = []
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
            self._writers.add(server_w)
            up = _Pipe(self, UP, client_r, server_w)
            down = _Pipe(self, DOWN, server_r, client_w)
            pumps = [asyncio.ensure_future(c) for c in (up.read(), down.read())]
            writers = [asyncio.ensure_future(c) for c in (up.write(), down.write())]
            pumps += writers
            # The connection ends when one side's close has been passed on (or
            # its socket failed): AMQP peers close both ways together.
            await asyncio.wait(writers, return_when=asyncio.FIRST_COMPLETED)
        except (ConnectionError, OSError):
            pass
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            for writer in (client_w, server_w):
                if writer is not None:
                    self._writers.discard(writer)
                    writer.close()  # what was written still goes out first
            if task is not None:
                self._tasks.discard(task)
