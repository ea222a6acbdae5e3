"""A real SMTP server in the test process (aiosmtpd): it keeps every email it accepts,
parsed back, and answers DATA with the next line of a script (then 250)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiosmtpd.controller import Controller

from tests.e2e.server import free_port

ACCEPTED = "250 2.0.0 Ok: queued as TEST"


class Mailbox:
    def __init__(self, parse: bool = True) -> None:
        # parse=False keeps each email's bytes unparsed: the benchmark only counts them,
        # and parsing took most of this server's time (its ceiling, 250 emails a second
        # parsed, was below the rate measured).
        self.parse = parse
        self.accepted: list[Any] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.answers: list[str] = []  # DATA's answers, in turn; then ACCEPTED
        self.attempts = 0
        # Cleared, DATA waits until it is set again (a backlog builds up meanwhile).
        self.open = threading.Event()
        self.open.set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self.open.is_set():
            await asyncio.get_running_loop().run_in_executor(None, self.open.wait)
        self.attempts += 1
        answer = self.answers.pop(0) if self.answers else ACCEPTED
        if answer.startswith("250"):
            if self.parse:
                content = email.message_from_bytes(envelope.content, policy=email.policy.default)
            else:
                content = envelope.content
            self.accepted.append(content)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return answer


@contextmanager
def smtp_server(parse: bool = True) -> Iterator[tuple[Mailbox, str]]:
    """The mailbox and the ATENDE_SMTP_URL that reaches it."""
    mailbox = Mailbox(parse)
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()
