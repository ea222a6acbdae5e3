"""Sends the email outbox (projections/email.py) over SMTP, in the projector process,
never in a request (issue 22).

Each email is built when it is sent, from the ticket as it is then: to the requester's
address, from ATENDE_MAIL_FROM, with the ``[#number]`` token in the subject and threaded
on the customer's conversation (``In-Reply-To`` the customer's latest message,
``References`` every message of the thread). An agent's reply carries the Message-ID
already recorded with it, so the customer's answer threads back to the ticket. Text, plus
a minimal HTML part (the text, escaped). Atende keeps no attachment bytes, so a reply's
attachments are not attached (their names are listed in the text).

The SMTP server's answer decides: 2xx delivered, 4xx deferred (tried again after a wait
that doubles, like a webhook's, until ATENDE_MAIL_RETRY_FOR has passed: then failed),
5xx failed at once, as is a ticket with no address to write to. Each outcome is an
event of the ticket's email record (domain/ticket_email.py) and an attempt row of the
outbox; a crash between sending and recording sends the email again (at least once).
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from functools import partial
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from application.email_records import EmailOutcome
from application.errors import TicketNotFound
from application.system_texts import SystemTexts
from domain.personal import ERASED, Personal
from domain.ticket_email import DEFERRED, DELIVERED, FAILED
from infrastructure.outbound.mime import OutgoingEmail
from infrastructure.outbound.outbox import RetryPolicy, Tried, notifications_at, settle
from infrastructure.outbound.webhook_view import PENDING, SqlWebhookRows
from infrastructure.settings import SmtpServer
from projections.email import CLOSE_NOTICE, EMAIL_DESTINATION, INVITATION, REMINDER, REPLY

log = logging.getLogger("atende.outbound.email")

LOOK_EVERY_SECONDS = 1.0
BATCH = 200  # emails taken, sent and recorded at a time
LANES = 4  # SMTP connections sending side by side, each a share of the batch's tickets
SMTP_TIMEOUT_SECONDS = 30
NOTICES = {
    REMINDER: "pending_reminder",
    CLOSE_NOTICE: "auto_close_notice",
    INVITATION: "survey_invitation",
}

# Saves a batch's outcomes on the tickets' email records (EmailRecords.record_batch).
RecordOutcomes = Callable[[list[EmailOutcome]], None]
# An outbox delivery's outcome (outbox.settle) as the ticket's email record names it.
OUTCOMES = {DELIVERED: DELIVERED, PENDING: DEFERRED, FAILED: FAILED}


class Undeliverable(Exception):
    """The email cannot be written at all (no address): failed, never retried."""


class EmailDispatcher:
    def __init__(
        self,
        tickets: Any,
        view: SqlWebhookRows,
        server: SmtpServer,
        sender: str,
        texts: SystemTexts,
        record_outcomes: RecordOutcomes,
        policy: RetryPolicy,
        clock: Callable[[], datetime] | None = None,
        public_url: str | None = None,  # where survey links point (ATENDE_PUBLIC_URL)
    ):
        self.public_url = (public_url or "").rstrip("/")
        self.tickets = tickets
        self.view = view
        self.server = server
        self.sender = sender
        self.texts = texts
        self.record_outcomes = record_outcomes
        self.policy = policy
        self.clock = clock or (lambda: datetime.now(UTC))
        self._wake = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            self.drain(stop)
            self._wake.wait(LOOK_EVERY_SECONDS)

    def drain(self, stop: threading.Event | None = None) -> None:
        """Send every email due now, in order per ticket: a batch at a time. Each batch's
        emails are written first, in this thread; then its tickets are shared among
        LANES connections that send side by side (threads that only wait on their
        sockets: a thread that also wrote emails would hold the others' answers up for
        the interpreter's switch interval); then its outcomes are recorded together
        (the tickets' email records in one transaction, then the outbox's attempts in
        another)."""
        connections: list[smtplib.SMTP | None] = [None] * LANES
        try:
            with ThreadPoolExecutor(LANES, thread_name_prefix="email-send") as pool:
                while stop is None or not stop.is_set():
                    rows = self.view.due(EMAIL_DESTINATION, self.clock(), BATCH)
                    if not rows:
                        return
                    events = notifications_at(self.tickets.recorder, [r["position"] for r in rows])
                    tickets: dict[str, list[dict[str, Any]]] = {}
                    for row in rows:
                        tickets.setdefault(row["ordering_key"], []).append(row)
                    runs = [self._write(emails, events) for emails in tickets.values()]
                    shares = [runs[lane::LANES] for lane in range(LANES)]
                    sent = pool.map(partial(self._send_share, connections), range(LANES), shares)
                    self._record([email for share in sent for email in share])
        finally:
            for connection in connections:
                if connection is not None:
                    _quit(connection)

    def _write(self, emails: list[dict[str, Any]], events: dict[int, Any]) -> list[Written]:
        """One ticket's emails, written from the ticket read once for them all."""
        ticket = self._ticket(emails[0]["ordering_key"])
        written = []
        for row in emails:
            try:
                email, message_id, owner = self.compose(row, events.get(row["position"]), ticket)
                written.append(Written(row, email, message_id, owner))
            except Undeliverable as refused:
                written.append(Written(row, None, None, None, str(refused)))
            except Exception as error:
                log.exception("email %s could not be written", row["id"])
                written.append(
                    Written(row, None, None, None, f"could not be written: {error!r}"[:500])
                )
        return written

    def _send_share(
        self,
        connections: list[smtplib.SMTP | None],
        lane: int,
        share: list[list[Written]],
    ) -> list[Sent]:
        """Some tickets' emails over one connection (connections[lane], this thread's
        alone), each ticket's in order, stopping at the first not delivered."""
        sent = []
        for emails in share:
            for written in emails:
                email, connections[lane] = self._send_one(written, connections[lane])
                sent.append(email)
                if not email.tried.delivered:
                    break
        return sent

    def _ticket(self, ticket_id: str) -> Any:
        try:
            return self.tickets.read_ticket(UUID(ticket_id))
        except TicketNotFound:  # each of its emails fails saying so (compose reads again)
            return None

    def _send_one(
        self, written: Written, connection: smtplib.SMTP | None
    ) -> tuple[Sent, smtplib.SMTP | None]:
        now = self.clock()
        started = time.monotonic()
        try:
            if written.email is None:
                answer, outcome = written.failure or "could not be written", FAILED
            else:
                connection = connection or self._connect()
                answer = self._transmit(connection, written.email)
                outcome = DELIVERED
        except smtplib.SMTPResponseException as refused:
            answer = f"{refused.smtp_code} {_text(refused.smtp_error)}"
            outcome = DEFERRED if 400 <= refused.smtp_code < 500 else FAILED
            connection = _dropped(connection)
        except smtplib.SMTPRecipientsRefused as refused:
            code, text = next(iter(refused.recipients.values()))
            answer = f"{code} {_text(text)}"
            outcome = DEFERRED if 400 <= code < 500 else FAILED
            connection = _dropped(connection)
        except (smtplib.SMTPException, OSError) as broken:
            answer, outcome = f"no answer: {broken!r}"[:500], DEFERRED
            connection = _dropped(connection)
        except Exception as error:
            # An email smtplib cannot put on the wire (an address outside ASCII, which
            # it refuses to encode) fails alone: the lane and its batch go on.
            log.exception("email %s could not be sent", written.row["id"])
            answer, outcome = f"could not be sent: {error!r}"[:500], FAILED
            connection = _dropped(connection)
        latency = (time.monotonic() - started) * 1000
        # The outbox keeps only the answer's codes: the text may quote the customer's
        # address, which only the ticket's email record holds, sealed with their key.
        delivered = outcome == DELIVERED
        tried = Tried(written.row, now, delivered, outcome == FAILED, _code_of(answer),
                      None if delivered else codes_of(answer), latency)  # fmt: skip
        return Sent(tried, answer, written.message_id, written.owner), connection

    def compose(
        self, row: dict[str, Any], stored: Notification | None, ticket: Any = None
    ) -> tuple[OutgoingEmail, UUID | None, UUID]:
        """The email, the message it carries (a reply's) and the customer it is for;
        ``stored``: the event it is about, as the log holds it; ``ticket``: the ticket as
        just read (read here when not given)."""
        ticket = ticket or self.tickets.get_ticket(UUID(row["ordering_key"]))
        address = ticket.requester.get("email")
        if address is None or str(address) == ERASED:
            raise Undeliverable("the requester has no email address")
        if stored is None:
            raise Undeliverable(f"the log holds no event at position {row['position']}")
        event = self.tickets.mapper.to_domain_event(stored)
        number = self.tickets.number_of(ticket.id)
        message_id = None
        if row["event_type"] == REPLY:
            message_id = event.message_id
            subject = f"Re: {ticket.subject} [#{number}]"
            email_id = event.outbound["email_message_id"]
            text = str(event.body)
            names = [str(a["filename"]) for a in event.attachments or () if a.get("filename")]
            if names:
                text += "\n\n" + "\n".join(f"[{name}]" for name in names)
        else:
            extra = {}
            if row["event_type"] == INVITATION:
                link = self.tickets.surveys.link_for(event.originator_id)
                extra["link"] = self.public_url + link.path
            notice = self.texts.email(
                NOTICES[row["event_type"]], ticket.language, number=number,
                subject=str(ticket.subject), **extra,
            )  # fmt: skip
            subject, email_id, text = notice.subject, f"notice-{row['id']}@atende", notice.body
        email = OutgoingEmail(
            sender=self.sender,
            to=str(address),
            subject=subject,
            message_id=email_id,
            text=text,
            language=self.texts.language_for(ticket.language),
            thread=ticket.external_message_ids,
        )
        return email, message_id, ticket.customer_id

    def _connect(self) -> smtplib.SMTP:
        server = self.server
        if server.ssl:
            context = ssl.create_default_context()
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                server.host, server.port, timeout=SMTP_TIMEOUT_SECONDS, context=context
            )
        else:
            connection = smtplib.SMTP(server.host, server.port, timeout=SMTP_TIMEOUT_SECONDS)
            if server.starttls:
                connection.starttls(context=ssl.create_default_context())
        if server.user:
            connection.login(server.user, server.password or "")
        return connection

    def _transmit(self, connection: smtplib.SMTP, email: OutgoingEmail) -> str:
        """MAIL, RCPT and DATA one by one: DATA's answer (the server's queue id) is what
        the outcome records, and sendmail does not hand it back."""
        connection.ehlo_or_helo_if_needed()
        for command, argument in (("mail", self.sender_address()), ("rcpt", email.to)):
            code, text = getattr(connection, command)(argument)
            if code >= 400:
                connection.rset()
                raise smtplib.SMTPResponseException(code, text)
        code, text = connection.data(email.as_bytes())
        if code >= 400:
            raise smtplib.SMTPResponseException(code, text)
        return f"{code} {_text(text)}"

    def sender_address(self) -> str:
        return parseaddr(self.sender)[1]

    def _record(self, sent: list[Sent]) -> None:
        """A batch's outcomes: on each ticket's email record, then as the outbox's attempts
        (in that order: a crash between them sends the batch again rather than leave an
        outcome unrecorded on the ticket)."""
        settled = [settle(email.tried, self.policy) for email in sent]
        outcomes = [
            EmailOutcome(
                UUID(s.tried.row["ordering_key"]),
                OUTCOMES[s.outcome],
                s.delivery_id,
                email.message_id,
                s.tried.row["event_type"],
                Personal(email.owner, email.answer),
                s.retry_at,
            )
            for email, s in zip(sent, settled, strict=True)
            if email.owner is not None  # None: the ticket could not be read; the outbox says so
        ]
        self.record_outcomes(outcomes)
        self.view.record_batch(settled)
        for s in settled:
            if s.outcome != DELIVERED:
                ticket, state = s.tried.row["ordering_key"], OUTCOMES[s.outcome]
                log.warning("email %s for ticket %s %s: %s", s.delivery_id, ticket, state,
                            s.tried.error)  # fmt: skip


@dataclass(frozen=True)
class Written:
    """One email of the outbox as the dispatcher wrote it, before it is sent: the email
    (None: it could not be written, and ``failure`` says why), the message it carries
    and the customer it is for."""

    row: dict[str, Any]
    email: OutgoingEmail | None
    message_id: UUID | None
    owner: UUID | None
    failure: str | None = None


@dataclass(frozen=True)
class Sent:
    """One email's attempt, with what its ticket's record keeps of it: the server's whole
    answer (sealed there), the message it carried, the customer it was for."""

    tried: Tried
    answer: str
    message_id: UUID | None
    owner: UUID | None


def _quit(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        connection.close()


def _text(raw: bytes | str) -> str:
    return (raw.decode(errors="replace") if isinstance(raw, bytes) else raw).strip()[:500]


def codes_of(answer: str) -> str:
    """An SMTP answer's codes without its text ("550 5.1.1"), which may quote an address;
    other failures ("no answer: ...", "could not be written") are kept whole."""
    words = answer.split()
    if not words or not words[0].isdigit():
        return answer
    codes = [words[0]]
    if len(words) > 1 and all(part.isdigit() for part in words[1].split(".")):
        codes.append(words[1])
    return " ".join(codes)


def _code_of(answer: str) -> int | None:
    head = answer[:3]
    return int(head) if head.isdigit() else None


def _dropped(connection: smtplib.SMTP | None) -> None:
    """After a refusal the conversation may be in any state: start the next afresh."""
    if connection is not None:
        with contextlib.suppress(OSError):
            connection.close()
    return None
