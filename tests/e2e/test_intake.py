"""Multi-channel intake through the real server: raw email and the JSON channels (chat,
social, phone, web) open tickets, continue them, follow up closed ones, and never store
the same message twice.

Tickets from the JSON channels are in Navajo ("nv"), a language no agent here speaks;
emails carry no language and get a detected one. No test brings an agent online.
"""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
import requests

from tests.e2e.api import Api, agent_id
from tests.e2e.problems import ONE_SHOT, MiB, assert_problem, history, nothing_stored

LANGUAGE = "nv"
RFC822 = {"Content-Type": "message/rfc822"}
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def address(prefix: str = "cliente") -> str:
    return f"{unique(prefix)}@example.com"


def email(
    sender: str,
    text: str = "Mi conexión a internet se corta cada hora desde el lunes.",
    subject: str = "Internet se corta",
    **headers: str,
) -> EmailMessage:
    """A plain-text message as a mail client sends it, with a fresh Message-ID."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "soporte@atende.example"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="mail.example.com")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(text)
    return msg


def post_email(api: Api, raw: bytes | EmailMessage, **headers: str):
    data = bytes(raw) if isinstance(raw, EmailMessage) else raw
    return api.post("/v1/intake/email", data=data, headers={**RFC822, **headers})


def received(response, status: int, outcome: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    doc = response.json()
    assert doc["intake"]["outcome"] == outcome, doc["intake"]
    return doc


def message_id_of(msg: EmailMessage) -> str:
    return msg["Message-ID"].strip("<>")


def ticket(api: Api, tid: str) -> dict[str, Any]:
    response = api.get(f"/v1/tickets/{tid}")
    assert response.status_code == 200, response.text
    return response.json()


def opened_by_email(api: Api, sender: str | None = None) -> tuple[dict[str, Any], EmailMessage]:
    msg = email(sender or f"Ana Souza <{address()}>")
    return received(post_email(api, msg), 201, "opened"), msg


def reply_to(msg: EmailMessage, text: str = "Sigue igual, no funciona.", **headers: str):
    return email(
        msg["From"], text, subject=f"Re: {msg['Subject']}", In_Reply_To=msg["Message-ID"], **headers
    )


# Email: opening tickets


def test_a_plain_text_email_opens_an_email_ticket_from_its_sender(api: Api, auditor: Api):
    sender = address("Ana.Souza")
    msg = email(f"Ana Souza <{sender.upper()}>", "Hola,\n\nel módem parpadea en rojo.\n")
    response = post_email(api, msg)

    doc = received(response, 201, "opened")
    assert doc["intake"] == {
        "outcome": "opened",
        "channel": "email",
        "message_id": message_id_of(msg),
    }
    assert response.headers["Location"] == f"/v1/tickets/{doc['id']}"
    assert response.headers["ETag"] == '"1"'
    assert doc["channel"] == "email" and doc["status"] == "new"
    assert doc["requester"]["email"] == sender.lower()
    assert doc["requester"]["name"] == "Ana Souza"
    assert doc["subject"] == "Internet se corta"
    assert doc["description"] == "Hola,\n\nel módem parpadea en rojo."
    assert doc["attachments"] == [] and doc["messages"] == [] and doc["follow_up_of"] is None

    stored = ticket(api, doc["id"])
    assert {k: stored[k] for k in ("requester", "subject", "description", "channel")} == {
        k: doc[k] for k in ("requester", "subject", "description", "channel")
    }
    events = history(auditor, doc["id"])
    assert [e["type"] for e in events] == ["opened"]
    assert events[0]["actor"]["role"] == "integrator"


def test_an_email_without_a_display_name_is_named_after_its_address(api: Api):
    sender = address()
    doc = received(post_email(api, email(sender)), 201, "opened")
    assert doc["requester"]["name"] == sender and doc["requester"]["email"] == sender


def test_an_html_only_email_becomes_readable_text(api: Api):
    msg = EmailMessage()
    msg["From"] = f"Luz <{address()}>"
    msg["Subject"] = "Factura"
    msg["Message-ID"] = make_msgid(domain="mail.example.com")
    msg.add_alternative(
        "<html><head><style>p {color: red}</style></head><body>"
        "<p>Hola <b>equipo</b>,</p><p>Mi factura<br>vino duplicada.</p>"
        '<a href="https://example.com/f/1">ver factura</a><script>track()</script>'
        "</body></html>",
        subtype="html",
    )
    doc = received(post_email(api, msg), 201, "opened")
    expected = (
        "Hola equipo,\n\nMi factura\nvino duplicada.\n\nver factura (https://example.com/f/1)"
    )
    assert doc["description"] == expected
    assert ticket(api, doc["id"])["description"] == expected


def test_a_raw_html_email_in_latin_1_becomes_readable_text(api: Api):
    raw = (
        f"From: =?utf-8?q?Jos=C3=A9?= <{address()}>\r\n"
        "Subject: =?iso-8859-1?q?Cobro_err=F3neo?=\r\n"
        f"Message-ID: <{unique('html')}@mail.example.com>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: text/html; charset="iso-8859-1"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        "<p>Me cobraron dos veces en <i>noviembre</i>.</p><ul><li>Uno</li><li>Dos</li></ul>\r\n"
        "<p>Gracias, Jos=E9</p>\r\n"
    ).encode("ascii")
    doc = received(post_email(api, raw), 201, "opened")
    assert doc["subject"] == "Cobro erróneo"
    assert doc["requester"]["name"] == "José"
    assert doc["description"] == (
        "Me cobraron dos veces en noviembre.\n\n- Uno\n- Dos\n\nGracias, José"
    )


def test_an_email_with_a_pdf_lists_the_attachment_on_the_ticket(api: Api, auditor: Api):
    msg = email(f"Rui <{address()}>", "Adjunto la factura.")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="factura-11.pdf")
    doc = received(post_email(api, msg), 201, "opened")
    expected = [{"filename": "factura-11.pdf", "content_type": "application/pdf", "size": len(PDF)}]
    assert doc["attachments"] == expected
    assert doc["description"] == "Adjunto la factura."
    assert ticket(api, doc["id"])["attachments"] == expected
    assert history(auditor, doc["id"])[0]["data"]["attachments"] == expected


def test_a_raw_multipart_email_lists_every_attachment(api: Api):
    boundary = "==atende-boundary=="
    raw = (
        f"From: Ines <{address()}>\r\n"
        "To: soporte@atende.example\r\n"
        "Subject: Fotos del equipo\r\n"
        f"Message-ID: <{unique('multi')}@mail.example.com>\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Van las fotos del router.\r\n"
        f"--{boundary}\r\n"
        "Content-Type: image/png\r\n"
        'Content-Disposition: attachment; filename="router.png"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        "iVBORw0KGgo=\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/csv\r\n"
        'Content-Disposition: attachment; filename="consumo.csv"\r\n'
        "\r\n"
        "mes,gb\r\nnov,12\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    doc = received(post_email(api, raw), 201, "opened")
    assert doc["description"] == "Van las fotos del router."
    assert doc["attachments"] == [
        {"filename": "router.png", "content_type": "image/png", "size": 8},
        {"filename": "consumo.csv", "content_type": "text/csv", "size": len(b"mes,gb\r\nnov,12")},
    ]


def test_a_forwarded_email_opens_a_ticket_from_the_forwarder(api: Api):
    inner = email(f"Bob <{address('bob')}>", "Oferta especial", subject="Promo")
    forwarder = address("carla")
    outer = email(f"Carla <{forwarder}>", "Mira este correo que me llegó.", subject="Fwd: Promo")
    outer.add_attachment(inner)
    doc = received(post_email(api, outer), 201, "opened")
    assert doc["requester"]["email"] == forwarder and doc["requester"]["name"] == "Carla"
    assert doc["subject"] == "Fwd: Promo"
    assert doc["description"] == "Mira este correo que me llegó."
    [attached] = doc["attachments"]
    assert attached["content_type"] == "message/rfc822" and attached["size"] > 0


# Email: the same message twice, and replies


def test_the_same_email_delivered_twice_is_stored_once(api: Api, auditor: Api):
    msg = email(f"Ana <{address()}>")
    first = received(post_email(api, msg), 201, "opened")
    with nothing_stored(auditor, first["id"]):
        again = post_email(api, msg)
    doc = received(again, 200, "duplicate")
    assert doc["id"] == first["id"] and doc["version"] == first["version"]
    assert "Location" not in again.headers
    assert [e["type"] for e in history(auditor, first["id"])] == ["opened"]


def test_an_email_without_a_message_id_is_deduplicated_by_its_bytes(api: Api, auditor: Api):
    raw = (f"From: Ana <{address()}>\r\nSubject: Sin id\r\n\r\nNo tengo Message-ID.\r\n").encode()
    first = received(post_email(api, raw), 201, "opened")
    assert first["intake"]["message_id"].startswith("sha256:")
    with nothing_stored(auditor, first["id"]):
        doc = received(post_email(api, raw), 200, "duplicate")
    assert doc["id"] == first["id"]


def test_a_reply_in_the_thread_is_added_to_the_ticket(api: Api, auditor: Api):
    first, msg = opened_by_email(api)
    reply = reply_to(msg, "Ya reinicié el módem y sigue igual.")
    doc = received(post_email(api, reply), 200, "appended")

    assert doc["id"] == first["id"]
    stored = ticket(api, first["id"])
    [message] = stored["messages"]
    assert message["body"] == "Ya reinicié el módem y sigue igual."
    assert message["author_type"] == "customer" and message["visibility"] == "public"
    assert message["channel"] == "email" and message["external_id"] == message_id_of(reply)
    assert message["outbound"] is None
    assert [e["type"] for e in history(auditor, first["id"])] == ["opened", "message_added"]

    with nothing_stored(auditor, first["id"]):
        received(post_email(api, reply), 200, "duplicate")


def test_a_reply_referencing_an_agents_email_reply_threads_to_its_ticket(api: Api, api_as):
    first, msg = opened_by_email(api)
    answer = api_as("agent").command(
        first["id"],
        "messages",
        {"body": "¿Probó con otro cable?", "author_type": "agent", "visibility": "public"},
    )
    assert answer.status_code == 200, answer.text
    outbound = answer.json()["messages"][-1]["outbound"]
    assert outbound["channel"] == "email" and outbound["in_reply_to"] == message_id_of(msg)
    ours = outbound["email_message_id"]
    assert ours.startswith(f"ticket-{first['id']}.") and ours.endswith("@atende")

    # The customer's client quotes only our reply (no In-Reply-To to their first message).
    reply = email(
        msg["From"],
        "Sí, con otro cable tampoco.",
        subject=f"Re: {msg['Subject']}",
        References=f"<{unique('older')}@elsewhere.example> <{ours}>",
    )
    doc = received(post_email(api, reply), 200, "appended")
    assert doc["id"] == first["id"]
    assert [m["author_type"] for m in ticket(api, first["id"])["messages"]] == [
        "agent",
        "customer",
    ]


def test_a_raw_reply_folding_our_reply_id_onto_its_own_line_threads_to_its_ticket(
    api: Api, auditor: Api
):
    first, msg = opened_by_email(api)
    answer = api.command(
        first["id"],
        "messages",
        {"body": "Revise el cable", "author_type": "agent", "visibility": "public"},
    )
    ours = answer.json()["messages"][-1]["outbound"]["email_message_id"]
    sender = msg["From"]
    raw = (
        f"From: {sender}\r\n"
        "Subject: Re: Internet se corta\r\n"
        f"Message-ID: <{unique('raw-reply')}@mail.example.com>\r\n"
        f"In-Reply-To:\r\n <{ours}>\r\n"
        f"References: {msg['Message-ID']}\r\n <{ours}>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Revisado, sin cambios.\r\n"
    ).encode()
    doc = received(post_email(api, raw), 200, "appended")
    assert doc["id"] == first["id"]
    assert ticket(api, first["id"])["messages"][-1]["body"] == "Revisado, sin cambios."
    assert [e["type"] for e in history(auditor, first["id"])][-2:] == [
        "message_added",
        "message_added",
    ]


def test_a_forged_reply_id_for_a_message_the_ticket_never_sent_opens_a_new_ticket(api: Api):
    first, msg = opened_by_email(api)
    forged = f"ticket-{first['id']}.{uuid.uuid4()}@atende"
    reply = email(msg["From"], "Hola de nuevo", References=f"<{forged}>")
    doc = received(post_email(api, reply), 201, "opened")
    assert doc["id"] != first["id"]
    assert ticket(api, first["id"])["messages"] == []


def test_a_forged_newest_reference_falls_back_to_an_older_one_that_names_a_ticket(
    api: Api, auditor: Api
):
    decoy, _ = opened_by_email(api)
    first, msg = opened_by_email(api)
    forged = f"ticket-{decoy['id']}.{uuid.uuid4()}@atende"
    # References list the thread oldest first: the forged id is the newest, tried first.
    reply = email(msg["From"], "Sigue igual", References=f"{msg['Message-ID']} <{forged}>")
    decoy_history = history(auditor, decoy["id"])
    doc = received(post_email(api, reply), 200, "appended")
    assert doc["id"] == first["id"]
    assert ticket(api, first["id"])["messages"][-1]["body"] == "Sigue igual"
    assert history(auditor, decoy["id"]) == decoy_history


def test_a_ticket_number_in_the_subject_from_the_same_sender_continues_the_ticket(
    api: Api, auditor: Api
):
    first, msg = opened_by_email(api)
    again = email(
        msg["From"], "Otra consulta sobre lo mismo.", subject=f"[#{first['number']}] Hola"
    )
    doc = received(post_email(api, again), 200, "appended")
    assert doc["id"] == first["id"]
    assert ticket(api, first["id"])["messages"][-1]["body"] == "Otra consulta sobre lo mismo."
    assert [e["type"] for e in history(auditor, first["id"])] == ["opened", "message_added"]


def test_a_ticket_number_from_a_different_sender_opens_a_new_ticket(api: Api, auditor: Api):
    first, _ = opened_by_email(api)
    stranger = address("intruso")
    msg = email(f"Intruso <{stranger}>", "Quiero ver ese ticket.", subject=f"[#{first['number']}]")
    doc = received(post_email(api, msg), 201, "opened")
    assert doc["id"] != first["id"] and doc["requester"]["email"] == stranger
    assert doc["customer_id"] != first["customer_id"]
    assert ticket(api, first["id"])["messages"] == []
    assert [e["type"] for e in history(auditor, first["id"])] == ["opened"]


def test_a_customer_reply_brings_a_pending_ticket_back_to_open(api: Api, auditor: Api):
    first, msg = opened_by_email(api)
    assert api.command(first["id"], "status", {"status": "pending"}).status_code == 200
    doc = received(post_email(api, reply_to(msg)), 200, "appended")
    assert doc["status"] == "open"
    assert ticket(api, first["id"])["status"] == "open"
    assert [e["type"] for e in history(auditor, first["id"])] == [
        "opened",
        "status_changed",
        "status_changed",
        "message_added",
    ]


def test_a_customer_reply_reopens_a_resolved_ticket(api: Api, auditor: Api):
    first, msg = opened_by_email(api)
    assert api.command(first["id"], "resolve", {"resolution": "Cambio de módem"}).status_code == 200
    doc = received(post_email(api, reply_to(msg, "El módem nuevo tampoco anda.")), 200, "appended")
    assert doc["id"] == first["id"] and doc["status"] == "open"
    stored = ticket(api, first["id"])
    assert stored["status"] == "open" and stored["resolution"] is None
    assert [e["type"] for e in history(auditor, first["id"])] == [
        "opened",
        "resolved",
        "reopened",
        "message_added",
    ]


def test_a_reply_to_a_closed_ticket_opens_a_follow_up(api: Api, auditor: Api):
    first, msg = opened_by_email(api)
    tid = first["id"]
    assert api.command(tid, "resolve", {"resolution": "listo"}).status_code == 200
    assert api.command(tid, "close").status_code == 200
    closed_history = history(auditor, tid)

    reply = reply_to(msg, "Volvió a fallar hoy.")
    response = post_email(api, reply)
    doc = received(response, 201, "followed_up")
    assert doc["id"] != tid and doc["follow_up_of"] == tid
    assert response.headers["Location"] == f"/v1/tickets/{doc['id']}"
    assert (
        doc["description"] == "Volvió a fallar hoy." and doc["subject"] == f"Re: {msg['Subject']}"
    )
    assert doc["customer_id"] == first["customer_id"] and doc["status"] == "new"
    assert ticket(api, doc["id"])["follow_up_of"] == tid

    assert ticket(api, tid)["status"] == "closed"
    assert history(auditor, tid) == closed_history

    # The same reply delivered again finds the follow-up, and writes nothing.
    with nothing_stored(auditor, tid, doc["id"]):
        again = received(post_email(api, reply), 200, "duplicate")
    assert again["id"] == doc["id"]


# Email: bad input, nothing stored


def test_bytes_that_are_not_an_email_are_422_naming_message(api: Api, auditor: Api):
    with nothing_stored(auditor):
        assert_problem(post_email(api, b"hello world"), 422, "message")


def test_an_empty_email_is_422_naming_message(api: Api, auditor: Api):
    with nothing_stored(auditor):
        assert_problem(post_email(api, b""), 422, "message")


@pytest.mark.parametrize(
    "from_header",
    [None, "", "Ana Souza", "undisclosed-recipients:;"],
    ids=["absent", "empty", "name-only", "empty-group"],
)
def test_an_email_without_a_sender_address_is_422_naming_from(api: Api, auditor: Api, from_header):
    msg = email("x@example.com")
    del msg["From"]
    if from_header is not None:
        msg["From"] = from_header
    with nothing_stored(auditor):
        assert_problem(post_email(api, msg), 422, "from")


def test_an_email_over_the_size_limit_is_413(api: Api, auditor: Api):
    raw = b"From: a@example.com\r\nSubject: big\r\n\r\n"
    raw += b"x" * (10 * MiB + 1 - len(raw))
    with nothing_stored(auditor):
        response = post_email(api, raw, **ONE_SHOT)
    assert_problem(response, 413)


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "message/partial"])
def test_an_email_sent_with_another_content_type_is_415(api: Api, auditor: Api, content_type):
    msg = email(f"Ana <{address()}>")
    with nothing_stored(auditor):
        response = api.post(
            "/v1/intake/email", data=bytes(msg), headers={"Content-Type": content_type}
        )
    assert_problem(response, 415)


def test_an_email_without_a_content_type_is_415(api: Api, auditor: Api):
    request = api.session.prepare_request(
        requests.Request("POST", api.base_url + "/v1/intake/email", data=bytes(email(address())))
    )
    request.headers.pop("Content-Type", None)
    with nothing_stored(auditor):
        response = api.session.send(request, timeout=30)
    assert_problem(response, 415)


@pytest.mark.parametrize("role", ["agent", "analyst", "auditor"])
def test_only_integrators_and_admins_may_post_intake(api_as, auditor: Api, role):
    client = api_as(role)
    with nothing_stored(auditor):
        assert_problem(post_email(client, email(f"Ana <{address()}>")), 403)
        assert_problem(client.post("/v1/intake/chat", chat_body()), 403)


def test_an_admin_may_post_intake(api_as):
    received(post_email(api_as("admin"), email(f"Ana <{address()}>")), 201, "opened")


def test_intake_without_a_token_is_401(api_as, auditor: Api):
    with nothing_stored(auditor):
        assert_problem(post_email(api_as(None), email(f"Ana <{address()}>")), 401)
        assert_problem(api_as(None).post("/v1/intake/chat", chat_body()), 401)


# JSON channels


def chat_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "conversation_id": unique("conv"),
        "message_id": unique("msg"),
        "customer": {"name": "Mara", "email": address("mara")},
        "text": "No puedo pagar con tarjeta\nme da error 51",
        "language": LANGUAGE,
    }
    body.update(overrides)
    return body


def test_a_chat_opens_a_ticket_titled_by_its_first_line(api: Api, auditor: Api):
    body = chat_body(category="pagos", priority="high", tags=["tarjeta"])
    response = api.post("/v1/intake/chat", body)
    doc = received(response, 201, "opened")
    assert doc["intake"] == {
        "outcome": "opened",
        "channel": "chat",
        "message_id": body["message_id"],
    }
    assert response.headers["Location"] == f"/v1/tickets/{doc['id']}"
    assert doc["channel"] == "chat" and doc["subject"] == "No puedo pagar con tarjeta"
    assert doc["description"] == body["text"]
    assert doc["requester"]["email"] == body["customer"]["email"]
    assert doc["requester"]["name"] == "Mara"
    assert (doc["language"], doc["category"], doc["priority"], doc["tags"]) == (
        LANGUAGE,
        "pagos",
        "high",
        ["tarjeta"],
    )
    stored = ticket(api, doc["id"])
    assert stored["subject"] == doc["subject"] and stored["channel"] == "chat"
    assert [e["type"] for e in history(auditor, doc["id"])] == ["opened"]


def test_a_chat_subject_given_wins_over_the_first_line(api: Api):
    doc = received(api.post("/v1/intake/chat", chat_body(subject="Pago")), 201, "opened")
    assert doc["subject"] == "Pago"


def test_a_long_first_line_is_shortened_for_the_subject(api: Api):
    text = "palabra " * 30
    doc = received(api.post("/v1/intake/chat", chat_body(text=text)), 201, "opened")
    assert len(doc["subject"]) <= 80 and doc["subject"].endswith("…")
    assert doc["description"] == text


def test_the_next_chat_message_in_the_conversation_is_appended(api: Api, auditor: Api):
    body = chat_body()
    first = received(api.post("/v1/intake/chat", body), 201, "opened")
    second = {**body, "message_id": unique("msg"), "text": "¿Hay alguien?"}
    doc = received(api.post("/v1/intake/chat", second), 200, "appended")
    assert doc["id"] == first["id"]
    [message] = ticket(api, first["id"])["messages"]
    assert message["body"] == "¿Hay alguien?" and message["channel"] == "chat"
    assert message["external_id"] == second["message_id"]
    assert [e["type"] for e in history(auditor, first["id"])] == ["opened", "message_added"]

    without_id = {k: v for k, v in second.items() if k != "message_id"}
    without_id["text"] = "Sigo esperando"
    doc = received(api.post("/v1/intake/chat", without_id), 200, "appended")
    assert doc["id"] == first["id"] and len(doc["messages"]) == 2


def test_the_same_chat_message_delivered_twice_is_stored_once(api: Api, auditor: Api):
    body = chat_body()
    first = received(api.post("/v1/intake/chat", body), 201, "opened")
    with nothing_stored(auditor, first["id"]):
        again = received(api.post("/v1/intake/chat", body), 200, "duplicate")
    assert again["id"] == first["id"] and again["version"] == 1

    follow = {**body, "message_id": unique("msg"), "text": "otra"}
    received(api.post("/v1/intake/chat", follow), 200, "appended")
    with nothing_stored(auditor, first["id"]):
        dup = received(api.post("/v1/intake/chat", follow), 200, "duplicate")
    assert dup["id"] == first["id"] and len(dup["messages"]) == 1


def test_a_chat_continuing_after_its_ticket_closed_opens_a_follow_up(api: Api, auditor: Api):
    body = chat_body()
    first = received(api.post("/v1/intake/chat", body), 201, "opened")
    api.command(first["id"], "resolve", {"resolution": "ok"})
    api.command(first["id"], "close")
    later = {**body, "message_id": unique("msg"), "text": "Volvió el error 51"}
    follow_up = received(api.post("/v1/intake/chat", later), 201, "followed_up")
    assert follow_up["follow_up_of"] == first["id"]
    # The conversation now belongs to the follow-up.
    more = {**body, "message_id": unique("msg"), "text": "¿Novedades?"}
    doc = received(api.post("/v1/intake/chat", more), 200, "appended")
    assert doc["id"] == follow_up["id"]
    assert ticket(api, first["id"])["status"] == "closed"
    assert ticket(api, first["id"])["messages"] == []


def test_a_social_message_opens_a_ticket_for_the_handle_on_its_network(api: Api):
    body = chat_body(network="WhatsApp", customer={"handle": f"@{unique('mara')}"})
    doc = received(api.post("/v1/intake/social", body), 201, "opened")
    assert doc["channel"] == "social" and doc["intake"]["channel"] == "social"
    handle = f"whatsapp:{body['customer']['handle']}"
    assert doc["requester"]["handle"] == handle and doc["requester"]["name"] == handle
    again = {**body, "message_id": unique("msg"), "text": "hola?"}
    assert received(api.post("/v1/intake/social", again), 200, "appended")["id"] == doc["id"]


def test_a_phone_call_opens_a_ticket_for_the_caller(api: Api):
    phone = f"+55 11 9{uuid.uuid4().int % 10**8:08d}"
    body = chat_body(customer={"phone": phone}, text="Llamó por la factura de octubre")
    doc = received(api.post("/v1/intake/phone", body), 201, "opened")
    assert doc["channel"] == "phone"
    assert doc["requester"]["phone"] == phone and doc["requester"]["name"] == phone
    assert doc["subject"] == "Llamó por la factura de octubre"


def test_a_web_form_opens_a_ticket_without_a_conversation(api: Api):
    body = {
        "customer": {"name": "Lia", "email": address("lia")},
        "subject": "Cambio de plan",
        "text": "Quiero pasar al plan de 500 megas.",
        "language": LANGUAGE,
    }
    doc = received(api.post("/v1/intake/web", body), 201, "opened")
    assert doc["channel"] == "web" and doc["subject"] == "Cambio de plan"
    assert doc["intake"]["message_id"] is None
    # Without a message id nothing identifies a redelivery: a second post is a new ticket.
    assert received(api.post("/v1/intake/web", body), 201, "opened")["id"] != doc["id"]


def test_an_unknown_channel_is_404_naming_it(api: Api, auditor: Api):
    with nothing_stored(auditor):
        doc = assert_problem(api.post("/v1/intake/fax", chat_body()), 404)
    assert "fax" in doc["detail"]
    assert doc["type"].endswith("unknown-channel")


def test_email_is_not_a_json_channel(api: Api, auditor: Api):
    with nothing_stored(auditor):
        assert_problem(api.post("/v1/intake/email", chat_body()), 415)


@pytest.mark.parametrize(
    ("channel", "drop", "extra", "field"),
    [
        ("chat", "conversation_id", {}, "conversation_id"),
        ("phone", "conversation_id", {"customer": {"phone": "+56 9 1234 5678"}}, "conversation_id"),
        (
            "social",
            "conversation_id",
            {"network": "x", "customer": {"handle": "@a"}},
            "conversation_id",
        ),
        (
            "social",
            None,
            {"network": "x", "customer": {"email": "a@example.com"}},
            "customer.handle",
        ),
        ("social", None, {"customer": {"handle": "@a"}}, "network"),
        ("phone", None, {"customer": {"email": "a@example.com"}}, "customer.phone"),
        ("chat", "text", {}, "text"),
        ("web", "text", {}, "text"),
        ("web", "conversation_id", {"customer": {"name": "Sin contacto"}}, "customer"),
        ("chat", None, {"customer": {"email": "no-es-correo"}}, "customer.email"),
        ("phone", None, {"customer": {"phone": "llámame"}}, "customer.phone"),
        ("chat", None, {"language": "diné"}, "language"),
        ("chat", None, {"priority": "critical"}, "priority"),
        ("chat", None, {"text": " "}, "text"),
        ("chat", None, {"canal": "chat"}, "canal"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_json_contact_missing_what_its_channel_needs_is_422_naming_it(
    api: Api, auditor: Api, channel, drop, extra, field
):
    body = {**chat_body(), **extra}
    if drop:
        del body[drop]
    with nothing_stored(auditor):
        assert_problem(api.post(f"/v1/intake/{channel}", body), 422, field)


def test_a_json_intake_body_that_is_not_json_is_400(api: Api, auditor: Api):
    with nothing_stored(auditor):
        response = api.post(
            "/v1/intake/chat", data=b"{", headers={"Content-Type": "application/json"}
        )
    assert_problem(response, 400)


def test_a_retried_json_intake_with_an_idempotency_key_replays_the_first_answer(
    api: Api, auditor: Api
):
    body = chat_body(message_id=None)
    del body["message_id"]  # only the key tells the retry apart
    key = {"Idempotency-Key": unique("intake")}
    first = api.post("/v1/intake/chat", body, headers=key)
    assert first.status_code == 201, first.text
    with nothing_stored(auditor, first.json()["id"]):
        again = api.post("/v1/intake/chat", body, headers=key)
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["intake"] == first.json()["intake"] == {
        "outcome": "opened", "channel": "chat", "message_id": None,
    }  # fmt: skip

    # An appended message replays too.
    more = {**body, "text": "¿Siguen ahí?"}
    key = {"Idempotency-Key": unique("intake")}
    appended = api.post("/v1/intake/chat", more, headers=key)
    assert appended.status_code == 200, appended.text
    with nothing_stored(auditor, first.json()["id"]):
        replayed = api.post("/v1/intake/chat", more, headers=key)
    assert replayed.status_code == 200 and replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json()["id"] == first.json()["id"]
    assert replayed.json()["version"] == appended.json()["version"]
    assert replayed.json()["intake"] == appended.json()["intake"]
    assert replayed.json()["intake"]["outcome"] == "appended"
    assert [m["body"] for m in ticket(api, first.json()["id"])["messages"]] == ["¿Siguen ahí?"]


def test_a_retried_email_with_an_idempotency_key_replays_the_first_answer_whole(
    api: Api, auditor: Api
):
    msg = email(address())
    key = unique("email-intake")
    first = post_email(api, msg, **{"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    with nothing_stored(auditor, first.json()["id"]):
        again = post_email(api, msg, **{"Idempotency-Key": key})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again.json()["intake"] == {
        "outcome": "opened", "channel": "email", "message_id": msg["Message-ID"].strip("<>"),
    }  # fmt: skip


def test_a_duplicate_json_intake_with_an_idempotency_key_replays_as_a_duplicate(
    api: Api, auditor: Api
):
    body = chat_body()
    first = api.post("/v1/intake/chat", body)
    assert first.status_code == 201, first.text
    key = {"Idempotency-Key": unique("intake")}
    with nothing_stored(auditor, first.json()["id"]):
        duplicate = api.post("/v1/intake/chat", body, headers=key)
        replayed = api.post("/v1/intake/chat", body, headers=key)
    assert received(duplicate, 200, "duplicate")["id"] == first.json()["id"]
    # A duplicate wrote nothing, so its key keeps nothing: the retry is a duplicate again
    # (answered the same, not as a replay of an "appended" it never was).
    assert received(replayed, 200, "duplicate")["id"] == first.json()["id"]
    assert "Idempotent-Replayed" not in replayed.headers and replayed.json()["version"] == 1


def test_an_idempotency_key_reused_with_another_body_is_422(api: Api, auditor: Api):
    key = {"Idempotency-Key": unique("intake")}
    assert api.post("/v1/intake/chat", chat_body(), headers=key).status_code == 201
    with nothing_stored(auditor):
        assert_problem(
            api.post("/v1/intake/chat", chat_body(), headers=key), 422, "Idempotency-Key"
        )


# Outbound replies


def test_an_agents_public_reply_on_a_chat_ticket_goes_out_on_the_chat(api: Api, api_as):
    body = chat_body()
    doc = received(api.post("/v1/intake/chat", body), 201, "opened")
    agent = api_as("agent")
    assert agent.command(doc["id"], "assign", {"agent_id": agent_id("maria")}).status_code == 200

    reply = agent.command(
        doc["id"],
        "messages",
        {"body": "Pruebe otra tarjeta", "author_type": "agent", "visibility": "public"},
    )
    assert reply.status_code == 200, reply.text
    outbound = reply.json()["messages"][-1]["outbound"]
    assert outbound == {"channel": "chat", "in_reply_to": body["message_id"]}

    note = agent.command(
        doc["id"],
        "messages",
        {"body": "Cliente con deuda", "author_type": "agent", "visibility": "internal"},
    )
    assert note.status_code == 200, note.text
    assert note.json()["messages"][-1]["outbound"] is None

    stored = ticket(api, doc["id"])["messages"]
    assert [m["outbound"] for m in stored] == [outbound, None]


def test_an_agent_reply_on_an_email_ticket_names_the_message_it_answers(api: Api):
    first, msg = opened_by_email(api)
    reply = received(post_email(api, reply_to(msg)), 200, "appended")
    answer = api.command(
        reply["id"],
        "messages",
        {"body": "Lo revisamos", "author_type": "agent", "visibility": "public"},
    )
    outbound = answer.json()["messages"][-1]["outbound"]
    # It answers the customer's latest message, not the first one.
    assert outbound["in_reply_to"] == reply["messages"][-1]["external_id"]
    assert outbound["channel"] == "email" and outbound["email_message_id"].endswith("@atende")
    assert ticket(api, first["id"])["messages"][-1]["outbound"] == outbound
