"""A TCP relay to a real broker whose path can be cut without closing anything.

A dead network path (a cable pulled, a NAT entry dropped) leaves both sockets
open while no byte passes: the client sees neither a reset nor an end of file.
:class:`Blackhole` forwards bytes between the client and the broker until
:meth:`Blackhole.cut`, after which it keeps every socket open and throws away
whatever arrives, in both directions, for connections old and new.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading


class Blackhole:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self._cut = threading.Event()
        self._stop = threading.Event()
        self._pairs: dict[socket.socket, socket.socket] = {}
        self._thread = threading.Thread(target=self._run, name="blackhole", daemon=True)

    def __enter__(self) -> Blackhole:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        assert not self._thread.is_alive(), "the blackhole relay did not stop"

    def url(self, user: str = "guest", password: str = "guest") -> str:
        return f"amqp://{user}:{password}@127.0.0.1:{self.port}/%2F"

    def cut(self) -> None:
        """From now on nothing passes, and nothing is closed."""
        self._cut.set()

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        try:
            while not self._stop.is_set():
                for key, _ in selector.select(0.05):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self._listener:
                        self._accept(selector)
                    else:
                        self._relay(selector, sock)
        finally:
            for sock in list(self._pairs):
                sock.close()
            self._listener.close()
            selector.close()

    def _accept(self, selector: selectors.BaseSelector) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        server = socket.create_connection(self._target, timeout=5)
        for sock in (client, server):
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        self._pairs[client], self._pairs[server] = server, client

    def _relay(self, selector: selectors.BaseSelector, sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        peer = self._pairs.get(sock)
        if not data:
            # One side closed: so does the other, unless the path is cut.
            for each in (sock,) if self._cut.is_set() else (sock, peer):
                if each is not None:
                    with contextlib.suppress(Exception):
                        selector.unregister(each)
                    each.close()
                    self._pairs.pop(each, None)
            return
        if self._cut.is_set() or peer is None:
            return  # swallowed: the path is dead
        with contextlib.suppress(OSError):
            peer.setblocking(True)
            peer.sendall(data)
            peer.setblocking(False)
