"""An email the SMTP client cannot put on the wire fails alone (infrastructure/outbound/
email_dispatch.py): its lane drops the connection, and the next email goes out on a new
one, against a real SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime

from infrastructure.outbound.email_dispatch import EmailDispatcher, Written
from infrastructure.outbound.mime import OutgoingEmail
from infrastructure.settings import smtp_server
from tests.smtp_sink import counting_smtp_server

SENDER = "Soporte <soporte@atende.example>"


def test_an_address_smtplib_cannot_encode_fails_that_email_and_the_next_is_delivered():
    with counting_smtp_server() as (sink, url):
        dispatcher = EmailDispatcher(
            tickets=None, view=None, server=smtp_server(url), sender=SENDER, texts=None,
            record_outcomes=None, policy=None, clock=lambda: datetime.now(UTC),
        )  # fmt: skip
        row = {"id": "d1", "ordering_key": "t1", "position": 1}
        outcomes = []
        connection = None
        for to in ("josé@exámple.com", "ana@example.com"):
            email = OutgoingEmail(SENDER, to, "Hola", f"{to}@atende", "texto", "es")
            sent, connection = dispatcher._send_one(Written(row, email, None, None), connection)
            outcomes.append((sent.tried.delivered, sent.tried.permanent, sent.answer[:18]))

    assert outcomes == [(False, True, "could not be sent:"), (True, False, "250 2.0.0 Ok: queu")]
    assert sink.count == 1
