"""Email out through the real server (issue 22, items 1-4): an agent's reply on an email
ticket reaches a real SMTP server in the test process, threaded on the customer's
conversation, in the ticket's language, with the ticket's token in the subject; a server
that answers 4xx then 2xx gets it again, one that answers 5xx fails it; each outcome is
an event of the ticket's email record (never moving the ticket's ETag) and shows on the
message in GET /v1/tickets/{id}. Reminders go out in the customer's language."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest

from tests.e2e.api import Api
from tests.e2e.drills import eventually, feed
from tests.e2e.server import BIN, Server, running_server
from tests.smtp_server import Mailbox, smtp_server

MAIL_FROM = "Soporte Atende <soporte@atende.example>"
PUBLIC_URL = "https://ayuda.example.com"


@pytest.fixture(scope="module")
def mailbox_and_server(server: Server, tmp_path_factory) -> Iterator[tuple[Mailbox, Server]]:
    backend = "sqlite" if server.database_url.startswith("sqlite") else "postgres"
    directory = tmp_path_factory.mktemp(f"email-{backend}")
    with smtp_server() as (mailbox, url):
        env = {
            "ATENDE_SMTP_URL": url,
            "ATENDE_MAIL_FROM": MAIL_FROM,
            "ATENDE_MAIL_FIRST_RETRY": "1s",
            "ATENDE_PENDING_REMINDER_AFTER": "2s",
            "ATENDE_FOLLOW_UP_INTERVAL": "1s",
            "ATENDE_PUBLIC_URL": PUBLIC_URL,
        }
        with running_server(backend, directory, workers=1, env=env) as running:
            yield mailbox, running


@pytest.fixture
def mailbox(mailbox_and_server) -> Mailbox:
    mailbox, _ = mailbox_and_server
    mailbox.answers.clear()
    return mailbox


@pytest.fixture(scope="module")
def integrator(mailbox_and_server) -> Api:
    _, running = mailbox_and_server
    return Api(running.base_url, running.create_token("integrator", "mail-crm"))


def _customer_writes(integrator: Api, sender: str, subject: str, text: str) -> tuple[str, str]:
    """A customer's email through intake: the ticket it opened, and its Message-ID."""
    msg = EmailMessage()
    msg["From"] = f"Ana Souza <{sender}>"
    msg["To"] = "soporte@atende.example"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="mail.example.com")
    msg.set_content(text)
    answer = integrator.post("/v1/intake/email", data=bytes(msg),
                             headers={"Content-Type": "message/rfc822"})  # fmt: skip
    assert answer.status_code == 201, answer.text
    return answer.json()["id"], msg["Message-ID"]


def _reply(integrator: Api, ticket_id: str, body: str) -> dict[str, Any]:
    answer = integrator.command(
        ticket_id, "messages", {"body": body, "author_type": "agent", "visibility": "public"}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["messages"][-1]


def _for(mailbox: Mailbox, address: str) -> list[EmailMessage]:
    return [m for m in mailbox.accepted if address in str(m["To"])]


def _delivery(integrator: Api, ticket_id: str, message_id: str) -> dict[str, Any] | None:
    ticket = integrator.get(f"/v1/tickets/{ticket_id}").json()
    (message,) = [m for m in ticket["messages"] if m["id"] == message_id]
    return message.get("delivery")


def test_an_agents_reply_reaches_the_customer_threaded_in_their_language(
    mailbox: Mailbox, integrator: Api
):
    sender = f"ana-{make_msgid()[1:9]}@example.com"
    ticket_id, customer_message = _customer_writes(
        integrator, sender, "Internet se corta", "Mi conexión se corta cada hora desde el lunes."
    )
    reply = _reply(integrator, ticket_id, "Hola Ana, ya reiniciamos su puerto.\nSaludos.")
    etag = integrator.get(f"/v1/tickets/{ticket_id}").headers["ETag"]  # after the reply

    (sent,) = eventually(lambda: _for(mailbox, sender), "the reply at the SMTP server")
    number = integrator.get(f"/v1/tickets/{ticket_id}").json()["number"]
    assert sent["Subject"] == f"Re: Internet se corta [#{number}]"
    assert sent["From"] == MAIL_FROM
    assert sent["Message-ID"] == f"<{reply['outbound']['email_message_id']}>"
    assert sent["In-Reply-To"] == customer_message
    assert customer_message in sent["References"]
    assert sent["Content-Language"] == "es"
    assert "ya reiniciamos su puerto" in sent.get_body(("plain",)).get_content()
    assert "<br>" in sent.get_body(("html",)).get_content()

    delivery = eventually(lambda: _delivery(integrator, ticket_id, reply["id"]), "the outcome")
    assert delivery["state"] == "delivered" and delivery["answer"].startswith("250")
    assert integrator.get(f"/v1/tickets/{ticket_id}").headers["ETag"] == etag
    recorded = [e for e in feed(integrator) if e["aggregate_type"] == "ticket_email"
                and e["ticket_id"] == ticket_id]  # fmt: skip
    assert [e["type"] for e in recorded] == ["created", "delivered"]
    assert recorded[-1]["data"]["message_id"] == reply["id"]


def test_a_server_that_answers_4xx_then_2xx_gets_the_email_again(mailbox: Mailbox, integrator: Api):
    sender = f"bruno-{make_msgid()[1:9]}@example.com"
    ticket_id, _ = _customer_writes(integrator, sender, "Factura", "No me llegó la factura.")
    mailbox.answers.extend(["451 4.3.0 Try again later"])
    reply = _reply(integrator, ticket_id, "Se la reenviamos hoy.")

    eventually(lambda: _for(mailbox, sender), "the email, on its second attempt")
    delivery = eventually(
        lambda: (d := _delivery(integrator, ticket_id, reply["id"])) and d["state"] == "delivered"
        and d,
        "delivered",
    )  # fmt: skip
    assert delivery["attempts"] == 2
    types = [e["type"] for e in feed(integrator)
             if e["aggregate_type"] == "ticket_email" and e["ticket_id"] == ticket_id]  # fmt: skip
    assert types == ["created", "deferred", "delivered"]


def test_a_server_that_answers_5xx_fails_the_email_for_good(mailbox: Mailbox, integrator: Api):
    sender = f"carla-{make_msgid()[1:9]}@example.com"
    ticket_id, _ = _customer_writes(integrator, sender, "Baja", "Quiero dar de baja el plan.")
    mailbox.answers.extend([f"550 5.1.1 <{sender}>: Recipient address rejected"])
    reply = _reply(integrator, ticket_id, "Procesamos su baja.")

    delivery = eventually(
        lambda: _delivery(integrator, ticket_id, reply["id"]), "the failure recorded"
    )
    assert delivery["state"] == "failed" and delivery["answer"].startswith("550 5.1.1")
    assert not _for(mailbox, sender)
    attempts_before = mailbox.attempts
    time.sleep(2.5)  # longer than the first retry's wait: nothing is tried again
    assert mailbox.attempts == attempts_before


def test_a_customer_who_leaves_a_ticket_pending_is_reminded_in_their_language(
    mailbox: Mailbox, integrator: Api
):
    sender = f"joao-{make_msgid()[1:9]}@example.com"
    ticket_id, _ = _customer_writes(
        integrator, sender, "Internet lenta", "Minha internet está muito lenta desde ontem à noite."
    )
    assert integrator.command(ticket_id, "status", {"status": "pending"}).status_code == 200

    (reminder,) = eventually(lambda: _for(mailbox, sender), "the reminder")
    number = integrator.get(f"/v1/tickets/{ticket_id}").json()["number"]
    assert reminder["Subject"] == f"[#{number}] Aguardamos sua resposta"
    assert "Internet lenta" in reminder.get_body(("plain",)).get_content()
    assert reminder["Content-Language"] == "pt"


def test_a_resolution_invites_the_customer_to_a_survey_by_a_link_that_works(
    mailbox: Mailbox, integrator: Api
):
    sender = f"marta-{make_msgid()[1:9]}@example.com"
    ticket_id, _ = _customer_writes(integrator, sender, "Cobro doble", "Me cobraron dos veces.")
    assert (
        integrator.command(ticket_id, "resolve", {"resolution": "Reembolsado"}).status_code == 200
    )

    (invitation,) = eventually(lambda: _for(mailbox, sender), "the invitation")
    text = invitation.get_body(("plain",)).get_content()
    assert invitation["Subject"].endswith("¿Cómo lo hicimos?")
    link = next(word for word in text.split() if word.startswith(PUBLIC_URL))
    path = link.removeprefix(PUBLIC_URL)
    assert path.startswith("/v1/surveys/")
    survey = Api(integrator.base_url, None).get(path)  # what the customer's click reaches
    assert survey.status_code == 200, survey.text


def _report(original: str, recipient: str, action: str = "failed") -> bytes:
    """A delivery status notification as a mail server sends it back (RFC 3464)."""
    status = "5.1.1" if action == "failed" else "4.4.7"
    return (
        "From: MAILER-DAEMON@mx.example.net\r\nTo: soporte@atende.example\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: {make_msgid()}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
        'boundary="DSN"\r\n\r\n--DSN\r\nContent-Type: text/plain\r\n\r\n'
        "This is the mail system.\r\n\r\n--DSN\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} <{recipient}>: no such user\r\n\r\n"
        "--DSN\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: soporte@atende.example\r\nTo: {recipient}\r\nMessage-ID: {original}\r\n"
        "\r\n--DSN--\r\n"
    ).encode()


def _a_reply_delivered(
    mailbox: Mailbox, integrator: Api, name: str, subject: str, text: str, answer: str
) -> tuple[str, str, dict[str, Any], EmailMessage, int]:
    """A customer writes, an agent answers, and the answer reaches the SMTP server with its
    delivery in the log: the customer's address, the ticket, the reply, the email as the
    server took it, and the log's head then. The server holds the email a moment before
    the dispatcher records the outcome; a test that read the head in between would count
    that event as its own."""
    sender = f"{name}-{make_msgid()[1:9]}@example.com"
    ticket_id, _ = _customer_writes(integrator, sender, subject, text)
    reply = _reply(integrator, ticket_id, answer)
    (sent,) = eventually(lambda: _for(mailbox, sender), "the reply")
    eventually(lambda: _delivery(integrator, ticket_id, reply["id"]), "its delivery recorded")
    head = integrator.get("/v1/events", params={"limit": 1}).json()["head"]
    return sender, ticket_id, reply, sent, head


def _events_since(integrator: Api, head: int) -> list[tuple[str, str]]:
    return [(e["aggregate_type"], e["type"]) for e in feed(integrator) if e["position"] > head]


def _post_report(integrator: Api, raw: bytes):
    return integrator.post("/v1/intake/email", data=raw, headers={"Content-Type": "message/rfc822"})


def test_a_bounce_is_recorded_on_the_message_it_names_instead_of_opening_a_ticket(
    mailbox: Mailbox, integrator: Api
):
    sender, ticket_id, reply, sent, head = _a_reply_delivered(
        mailbox, integrator, "dora", "Router", "El router no enciende.", "Le enviamos uno nuevo."
    )

    bounced = _post_report(integrator, _report(sent["Message-ID"], sender))
    assert bounced.status_code == 200, bounced.text
    assert bounced.json()["intake"]["outcome"] == "bounced"
    assert bounced.json()["id"] == ticket_id
    assert _events_since(integrator, head) == [("ticket_email", "bounced")]
    delivery = _delivery(integrator, ticket_id, reply["id"])
    assert delivery["state"] == "bounced" and "5.1.1" in delivery["answer"]


def test_a_delay_warning_is_acknowledged_and_a_report_about_no_email_of_ours_refused(
    mailbox: Mailbox, integrator: Api
):
    sender, _, _, sent, head = _a_reply_delivered(
        mailbox, integrator, "ema", "Lentitud", "Todo anda lento.", "Revisamos su línea."
    )

    delayed = _post_report(integrator, _report(sent["Message-ID"], sender, action="delayed"))
    assert delayed.status_code == 200 and delayed.json()["intake"]["outcome"] == "delay_reported"
    stranger = _post_report(integrator, _report("<someone-else@mail.example.com>", sender))
    assert stranger.status_code == 422 and "message" in stranger.json()["errors"]
    assert _events_since(integrator, head) == []


def test_an_unparseable_smtp_url_stops_the_server_with_a_message(tmp_path):
    for url in ("smtp://", "http://mail.example.com", "smtp://mail.example.com:port"):
        env = {"ATENDE_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}", "ATENDE_SMTP_URL": url,
               "ATENDE_MAIL_FROM": MAIL_FROM, "PATH": "/usr/bin:/bin"}  # fmt: skip
        done = subprocess.run([str(BIN / "atende"), "serve", "--bind", "127.0.0.1:1"], env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert "ATENDE_SMTP_URL" in done.stderr and "Traceback" not in done.stderr


def test_smtp_without_a_sender_address_stops_the_server_with_a_message(tmp_path):
    env = {"ATENDE_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
           "ATENDE_SMTP_URL": "smtp://127.0.0.1:25", "PATH": "/usr/bin:/bin"}  # fmt: skip
    done = subprocess.run([str(BIN / "atende"), "serve", "--bind", "127.0.0.1:1"], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "ATENDE_MAIL_FROM" in done.stderr
