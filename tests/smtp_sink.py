"""A counting SMTP server, for the outbound benchmark and tests that need one to accept: a
real SMTP conversation (greeting, EHLO with PIPELINING, MAIL, RCPT, DATA with dot-stuffed
content, RSET, NOOP, QUIT) that keeps nothing but a count of the emails it accepted.

Why not aiosmtpd (tests/smtp_server.py, which every other test uses): parsing each
command through its session machinery capped it at about 380 emails a second here even
with the content left unparsed, below the rate the outbox has to reach (twice the create
rate, about 1,300 a second), so the benchmark measured the receiver and not Atende. This
one is an asyncio protocol answering line by line; its own ceiling, fed by
``python -m tests.smtp_sink`` (8 smtplib connections in separate processes), is
printed by that command and quoted in the benchmark's docstring.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.e2e.server import free_port

END_OF_DATA = b"\r\n.\r\n"
EHLO = b"250-sink.atende.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n"
ANSWERS = {
    b"HELO": b"250 sink.atende.test\r\n",
    b"MAIL": b"250 2.1.0 Ok\r\n",
    b"RCPT": b"250 2.1.5 Ok\r\n",
    b"RSET": b"250 2.0.0 Ok\r\n",
    b"NOOP": b"250 2.0.0 Ok\r\n",
    b"DATA": b"354 End data with <CR><LF>.<CR><LF>\r\n",
}


class CountingSink:
    """What the sink accepted (``count``); clear ``open`` and DATA's answer waits (a
    backlog builds up in the sender meanwhile), set it and every held answer goes out."""

    def __init__(self) -> None:
        self.count = 0
        self.open = _Gate(self)
        self._held: list[_Session] = []
        self.loop: asyncio.AbstractEventLoop | None = None

    def _release(self) -> None:
        held, self._held = self._held, []
        for session in held:
            session.accepted()


class _Gate:
    """A threading.Event-like switch whose set() releases the held answers in the sink's
    own loop."""

    def __init__(self, sink: CountingSink) -> None:
        self._sink = sink
        self._open = True

    def is_set(self) -> bool:
        return self._open

    def clear(self) -> None:
        self._open = False

    def set(self) -> None:
        self._open = True
        if self._sink.loop is not None:
            self._sink.loop.call_soon_threadsafe(self._sink._release)


class _Session(asyncio.Protocol):
    def __init__(self, sink: CountingSink) -> None:
        self.sink = sink
        self.buffer = b""
        self.in_data = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(b"220 sink.atende.test ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._answer()

    def _answer(self) -> None:
        while self.transport is not None and not self.transport.is_closing():
            if self.in_data:
                # Content ends at CRLF.CRLF; an empty content is the bare ".\r\n".
                if self.buffer.startswith(b".\r\n"):
                    self.buffer = self.buffer[3:]
                else:
                    end = self.buffer.find(END_OF_DATA)
                    if end < 0:
                        return
                    self.buffer = self.buffer[end + len(END_OF_DATA) :]
                self.in_data = False
                if not self.sink.open.is_set():
                    self.transport.pause_reading()
                    self.sink._held.append(self)
                    return
                self._count()
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                return
            line, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.transport.write(EHLO)
            elif verb == b"QUIT":
                self.transport.write(b"221 2.0.0 Bye\r\n")
                self.transport.close()
            elif verb in ANSWERS:
                self.transport.write(ANSWERS[verb])
                self.in_data = verb == b"DATA"
            else:
                self.transport.write(b"500 5.5.2 Error: command not recognized\r\n")

    def _count(self) -> None:
        self.sink.count += 1
        self.transport.write(b"250 2.0.0 Ok: queued as SINK\r\n")

    def accepted(self) -> None:
        """A held DATA answered: counted, and the session reads on."""
        if self.transport is None or self.transport.is_closing():
            return
        self._count()
        self.transport.resume_reading()
        self._answer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


@contextmanager
def counting_smtp_server() -> Iterator[tuple[CountingSink, str]]:
    """The sink and the ATENDE_SMTP_URL that reaches it, served by a thread's own loop."""
    sink = CountingSink()
    port = free_port()
    ready = threading.Event()
    stopped: asyncio.Future | None = None

    def serve() -> None:
        nonlocal stopped
        loop = asyncio.new_event_loop()
        sink.loop = loop
        stopped = loop.create_future()
        server = loop.run_until_complete(
            loop.create_server(lambda: _Session(sink), "127.0.0.1", port)
        )
        ready.set()
        loop.run_until_complete(stopped)
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()

    thread = threading.Thread(target=serve, name="smtp-sink", daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield sink, f"smtp://127.0.0.1:{port}"
    finally:
        sink.loop.call_soon_threadsafe(lambda: stopped.done() or stopped.set_result(None))
        thread.join(10)


def _feed(port: int, emails: int) -> None:
    import smtplib

    body = b"Subject: hi\r\nTo: a@example.test\r\n\r\n" + b"x" * 1500 + b"\r\n"
    with smtplib.SMTP("127.0.0.1", port) as connection:
        for _ in range(emails):
            connection.sendmail("from@example.test", ["a@example.test"], body)


def main() -> None:
    """The sink's own ceiling: 8 processes, each one smtplib connection sending 2,000."""
    import time
    from concurrent.futures import ProcessPoolExecutor

    feeders, each = 8, 2000
    with counting_smtp_server() as (sink, url):
        port = int(url.rsplit(":", 1)[1])
        started = time.monotonic()
        with ProcessPoolExecutor(feeders) as pool:
            list(pool.map(_feed, [port] * feeders, [each] * feeders))
        elapsed = time.monotonic() - started
    print(f"sink accepted {sink.count:,} emails in {elapsed:.2f} s: "
          f"{sink.count / elapsed:,.0f} emails/s")  # fmt: skip


if __name__ == "__main__":
    main()
