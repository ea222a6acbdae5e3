"""A loopback TCP proxy the drills can cut and restore: a real network fault between the
server and PostgreSQL, without touching the PostgreSQL that other test runs share."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from urllib.parse import urlparse

from tests.e2e.server import free_port

CHUNK = 64 * 1024


def through_port(url: str, port: int) -> str:
    """``url`` (a database's) pointed at a proxy listening on 127.0.0.1:``port``."""
    parsed = urlparse(url)
    user, _, _ = parsed.netloc.rpartition("@")
    return parsed._replace(
        netloc=f"{user}@127.0.0.1:{port}" if user else f"127.0.0.1:{port}"
    ).geturl()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to an upstream address until cut; ``cut`` closes the
    listener and every open connection (new ones are refused), ``restore`` listens again
    on the same port."""

    def __init__(self, upstream_host: str, upstream_port: int):
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._drop_next_commit_answer = False
        self.dropped_commits = 0

    def drop_next_commit_answer(self) -> None:
        """The next COMMIT of a transaction that inserted events reaches PostgreSQL, which
        applies it; then the connection is cut before its answer comes back: the client
        cannot know whether its write happened (a lost acknowledgement)."""
        self._drop_next_commit_answer = True

    def start(self) -> TcpProxy:
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    restore = start

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            cut, self._sockets = self._sockets, set()
        for sock in cut:
            _close(sock)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # the listener was closed by cut()
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=3)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut while connecting
                    _close(client)
                    _close(upstream)
                    return
                self._sockets |= {client, upstream}
            # Set before a dropped COMMIT is forwarded: from then on nothing PostgreSQL
            # answers reaches the client (the answer would otherwise race the cut).
            muted = threading.Event()
            outbound = (client, upstream, True)
            for source, sink, watch in (outbound, (upstream, client, False)):
                threading.Thread(
                    target=self._pump, args=(source, sink, muted, watch), daemon=True
                ).start()

    def _pump(
        self,
        source: socket.socket,
        sink: socket.socket,
        muted: threading.Event,
        watch: bool = False,
    ) -> None:
        inserted = False  # this connection's transaction has inserted events
        try:
            while chunk := source.recv(CHUNK):
                if not watch:
                    if muted.is_set():
                        break
                    sink.sendall(chunk)
                    continue
                inserted = inserted or (b"INSERT INTO" in chunk and b"_events" in chunk)
                if inserted and b"COMMIT" in chunk and self._drop_next_commit_answer:
                    self._drop_next_commit_answer = False
                    self.dropped_commits += 1
                    muted.set()
                    sink.sendall(chunk)
                    time.sleep(0.3)  # PostgreSQL applies the COMMIT meanwhile
                    break  # closes both sockets: the answer never reaches the client
                sink.sendall(chunk)
                if b"COMMIT" in chunk:
                    inserted = False
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                _close(sock)
                with self._lock:
                    self._sockets.discard(sock)


def _close(sock: socket.socket) -> None:
    # shutdown first: it wakes a thread blocked in recv() on the same socket.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
