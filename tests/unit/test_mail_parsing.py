"""Inbound email parsing: raw RFC 5322 bytes as mail clients send them, in to ParsedEmail."""

from __future__ import annotations

import contextlib
import hashlib
import random
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infrastructure.html_text import html_to_text
from infrastructure.mail import (
    Attachment,
    InvalidEmail,
    parse_email,
    ticket_number_in,
)


def wire(message: bytes) -> bytes:
    """The message with CRLF line endings, as it travels over SMTP."""
    return message.replace(b"\n", b"\r\n")


PLAIN = wire(b"""\
Return-Path: <jose.perez@example.com>
From: =?utf-8?q?Jos=C3=A9_P=C3=A9rez?= <Jose.Perez@Example.COM>
To: soporte@atende.example
Subject: =?utf-8?q?Sin_conexi=C3=B3n?=
Date: Tue, 4 Mar 2025 09:15:02 -0300
Message-ID: <CAF3x9=plain.1@mail.example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

Hola,

Desde ayer no tengo conexi=C3=B3n a internet. El m=C3=B3dem parpadea en rojo=
 y ya lo reinici=C3=A9 dos veces.

Gracias,
Jos=C3=A9

""")


def test_a_plain_text_message_gives_sender_subject_and_body() -> None:
    parsed = parse_email(PLAIN)

    assert parsed.message_id == "CAF3x9=plain.1@mail.example.com"
    assert parsed.sender_name == "José Pérez"
    assert parsed.sender_email == "jose.perez@example.com"
    assert parsed.subject == "Sin conexión"
    assert parsed.text == (
        "Hola,\n\n"
        "Desde ayer no tengo conexión a internet. El módem parpadea en rojo y ya lo reinicié "
        "dos veces.\n\n"
        "Gracias,\nJosé"
    )
    assert parsed.attachments == ()
    assert parsed.thread_refs == ()
    assert parsed.ticket_number is None
    assert parsed.html_only is False


def test_a_sender_without_a_display_name_has_no_name() -> None:
    parsed = parse_email(b"From: ana@example.com\nSubject: Hola\n\nCuerpo\n")

    assert parsed.sender_name is None
    assert parsed.sender_email == "ana@example.com"


def test_a_message_without_subject_or_body_gives_empty_strings() -> None:
    parsed = parse_email(b"From: ana@example.com\nMessage-ID: <x@y>\n")

    assert parsed.subject == ""
    assert parsed.text == ""


ALTERNATIVE = wire(b"""\
From: Maria Souza <maria.souza@exemplo.com.br>
To: suporte@atende.example
Subject: =?UTF-8?B?RmF0dXJhIGR1cGxpY2FkYQ==?=
Message-ID: <alt.7f3a@exemplo.com.br>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="000000000000a1b2c3d4e5f6"

--000000000000a1b2c3d4e5f6
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

Recebi a fatura de mar=C3=A7o duas vezes.

--000000000000a1b2c3d4e5f6
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

<div dir=3D"ltr">Recebi a fatura de <b>mar=C3=A7o</b> duas vezes (HTML).</div>

--000000000000a1b2c3d4e5f6--
""")


def test_plain_text_wins_over_html_in_a_multipart_alternative() -> None:
    parsed = parse_email(ALTERNATIVE)

    assert parsed.subject == "Fatura duplicada"
    assert parsed.text == "Recebi a fatura de março duas vezes."
    assert parsed.html_only is False
    assert parsed.attachments == ()


def test_plain_text_wins_over_html_even_when_html_comes_first() -> None:
    msg = EmailMessage()
    msg["From"] = "Ana <ana@example.com>"
    msg["Subject"] = "Orden"
    msg.set_content("<p>Versión HTML</p>", subtype="html")
    msg.add_alternative("Versión texto")

    parsed = parse_email(bytes(msg))

    assert parsed.text == "Versión texto"
    assert parsed.html_only is False


HTML_ONLY = wire(b"""\
From: "Outlook User" <usuario@empresa.example>
Subject: =?iso-8859-1?Q?Atenci=F3n:_factura?=
Message-ID: <html.only.1@empresa.example>
MIME-Version: 1.0
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

<html><head><meta charset=3D"utf-8"><title>Correo</title>
<style>p { margin: 0; }</style></head>
<body>
<p>Buenos d&iacute;as,</p>
<p>La factura de <b>marzo</b> lleg&oacute;&nbsp;duplicada.<br>
Adjunto los datos:</p>
<ul>
  <li>Cliente:   12345</li>
  <li>Importe: 1.200&nbsp;&euro;</li>
</ul>
<script>trackOpen();</script>
<p>Pueden verla en <a href=3D"https://portal.example/facturas/3">el portal</a> o escribir a
<a href=3D"mailto:facturas@empresa.example">facturas@empresa.example</a>.</p>
<div>Saludos,</div><div>Luc=C3=ADa</div>
</body></html>
""")


def test_an_html_only_message_is_converted_to_readable_text() -> None:
    parsed = parse_email(HTML_ONLY)

    assert parsed.subject == "Atención: factura"
    assert parsed.html_only is True
    assert parsed.text == (
        "Buenos días,\n"
        "\n"
        "La factura de marzo llegó duplicada.\n"
        "Adjunto los datos:\n"
        "\n"
        "- Cliente: 12345\n"
        "- Importe: 1.200 €\n"
        "\n"
        "Pueden verla en el portal (https://portal.example/facturas/3) o escribir a "
        "facturas@empresa.example.\n"
        "\n"
        "Saludos,\n"
        "Lucía"
    )


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ('<a href="https://x.example/a">ver</a>', "ver (https://x.example/a)"),
        ('<a href="https://x.example/">https://x.example</a>', "https://x.example"),
        ('<a href="mailto:ana@example.com">ana@example.com</a>', "ana@example.com"),
        ('<a href="mailto:ana@example.com">Ana</a>', "Ana (mailto:ana@example.com)"),
        ('<a href="javascript:void(0)">clic</a>', "clic"),
        ('<a href="#top">arriba</a>', "arriba"),
        ('<a href="https://x.example/pixel"><img src="p.gif"></a>', ""),
    ],
)
def test_links_show_their_target_only_when_it_adds_something(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_html_keeps_at_most_one_blank_line_in_a_row() -> None:
    html = "<p>Uno</p><p></p><div><br></div><br><br><p>Dos</p>"

    assert html_to_text(html) == "Uno\n\nDos"


def test_gmail_style_div_lines_stay_on_consecutive_lines() -> None:
    html = '<div dir="ltr"><div>Hola,</div><div><br></div><div>l&iacute;nea 1</div><div>l2</div>'

    assert html_to_text(html) == "Hola,\n\nlínea 1\nl2"


def test_an_unclosed_head_does_not_swallow_the_body() -> None:
    assert html_to_text("<html><head><title>x</title><body><p>Texto</p>") == "Texto"


def test_table_rows_become_lines_and_cells_stay_apart() -> None:
    html = "<table><tr><td>Plan</td><td>Fibra 300</td></tr><tr><td>Estado</td><td>Activo</td>"

    assert html_to_text(html) == "Plan Fibra 300\nEstado Activo"


PDF = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n"
    b"<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
)
PNG_SIZE = 70  # the 1x1 PNG below, once base64-decoded

WITH_ATTACHMENTS = wire(b"""\
From: Ana Lima <ana.lima@example.com>
To: soporte@atende.example
Subject: Factura y captura
Message-ID: <att.42@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="----=_Part_1_1234.5678"

------=_Part_1_1234.5678
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Adjunto la factura y una captura del error.

------=_Part_1_1234.5678
Content-Type: image/png; name="captura.png"
Content-Transfer-Encoding: base64
Content-Disposition: inline; filename="captura.png"
Content-ID: <ii_captura01>

iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6
kgAAAABJRU5ErkJggg==

------=_Part_1_1234.5678
Content-Type: application/pdf; name="=?utf-8?q?Factura_a=C3=B1o.pdf?="
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename*=utf-8''Factura%20a%C3%B1o.pdf

JVBERi0xLjQKMSAwIG9iago8PCAvVHlwZSAvQ2F0YWxvZyAvUGFnZXMgMiAwIFIgPj4KZW5kb2Jq
CjIgMCBvYmoKPDwgL1R5cGUgL1BhZ2VzIC9LaWRzIFtdIC9Db3VudCAwID4+CmVuZG9iagp0cmFp
bGVyCjw8IC9Sb290IDEgMCBSID4+CiUlRU9GCg==

------=_Part_1_1234.5678--
""")


def test_attachments_report_their_name_type_and_decoded_size() -> None:
    parsed = parse_email(WITH_ATTACHMENTS)

    assert parsed.text == "Adjunto la factura y una captura del error."
    assert parsed.attachments == (
        Attachment(filename="captura.png", content_type="image/png", size=PNG_SIZE),
        Attachment(filename="Factura año.pdf", content_type="application/pdf", size=len(PDF)),
    )
    assert len(PDF) == 142


def test_attachments_added_by_a_client_library_keep_their_exact_size() -> None:
    data = random.Random(7).randbytes(10_000)
    msg = EmailMessage()
    msg["From"] = "Ana <ana@example.com>"
    msg["Subject"] = "Registro del router"
    msg.set_content("Va el registro.")
    msg.add_attachment(data, maintype="application", subtype="octet-stream", filename="log.bin")
    msg.add_attachment("línea 1\nlínea 2\n", filename="notas.txt")

    parsed = parse_email(bytes(msg))

    assert parsed.text == "Va el registro."
    assert parsed.attachments == (
        Attachment("log.bin", "application/octet-stream", 10_000),
        Attachment("notas.txt", "text/plain", len("línea 1\nlínea 2\n".encode())),
    )


REPLY = wire(b"""\
From: Ana <ana@example.com>
To: soporte@atende.example
Subject: Re: [#42] Sin internet
Message-ID: <reply.3@example.com>
In-Reply-To: <answer.2@atende.example>
References: <first.1@example.com>
 <answer.2@atende.example>
Content-Type: text/plain; charset=utf-8

Sigue sin funcionar.

> El 4/3/2025, Soporte escribi\xc3\xb3:
> Reinicie el m\xc3\xb3dem.
""")


def test_a_reply_lists_the_thread_most_recent_first_and_names_its_ticket() -> None:
    parsed = parse_email(REPLY)

    assert parsed.ticket_number == 42
    assert parsed.thread_refs == ("answer.2@atende.example", "first.1@example.com")
    assert parsed.text.startswith("Sigue sin funcionar.\n\n> El 4/3/2025, Soporte escribió:")


def test_in_reply_to_comes_first_even_when_references_miss_it() -> None:
    msg = EmailMessage()
    msg["From"] = "ana@example.com"
    msg["Subject"] = "RE: RV: [#7] Corte [#8]"
    msg["In-Reply-To"] = "<parent@x>"
    msg["References"] = "<a@x> <b@x> <a@x> <c@x>"
    msg.set_content("ok")

    parsed = parse_email(bytes(msg))

    assert parsed.thread_refs == ("parent@x", "c@x", "a@x", "b@x")
    assert parsed.ticket_number == 7


@pytest.mark.parametrize(
    ("subject", "number"),
    [
        ("Re: [#1234] Sin internet", 1234),
        ("[#1] primero", 1),
        ("Fwd: [#7] uno [#8] otro", 7),
        ("Sin conexión", None),
        ("Pedido #42", None),
        ("[#abc] letras", None),
        ("[# 42] con espacio", None),
        ("[#" + "9" * 5000 + "]", None),
    ],
)
def test_the_ticket_number_comes_from_the_first_bracketed_hash_token(
    subject: str, number: int | None
) -> None:
    assert ticket_number_in(subject) == number


FORWARDED_ORIGINAL = wire(b"""\
From: Cliente <cliente@example.org>
To: ana@example.com
Subject: Sin servicio
Message-ID: <original.9@example.org>
Content-Type: text/plain; charset=utf-8

No tengo servicio desde el lunes.
""")

FORWARDED_AS_ATTACHMENT = (
    wire(b"""\
From: Ana <ana@example.com>
To: soporte@atende.example
Subject: Fwd: Sin servicio
Message-ID: <fwd.10@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="fwd-boundary"

--fwd-boundary
Content-Type: text/plain; charset=utf-8

Te reenv\xc3\xado el correo del cliente.

--fwd-boundary
Content-Type: message/rfc822
Content-Disposition: attachment; filename="Sin servicio.eml"

""")
    + FORWARDED_ORIGINAL
    + wire(b"""
--fwd-boundary--
""")
)


def test_a_message_forwarded_as_attachment_is_listed_and_the_forwarders_text_is_the_body() -> None:
    parsed = parse_email(FORWARDED_AS_ATTACHMENT)

    assert parsed.text == "Te reenvío el correo del cliente."
    assert parsed.attachments == (
        Attachment("Sin servicio.eml", "message/rfc822", len(FORWARDED_ORIGINAL)),
    )
    assert parsed.thread_refs == ()
    assert parsed.message_id == "fwd.10@example.com"


FORWARDED_INLINE = wire(b"""\
From: Ana <ana@example.com>
To: soporte@atende.example
Subject: Fwd: Sin servicio
Message-ID: <CAGmail.fwd.11@mail.gmail.com>
MIME-Version: 1.0
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: 8bit

Mir\xc3\xa1 esto.

---------- Forwarded message ---------
From: Cliente <cliente@example.org>
Date: lun, 3 mar 2025 a las 18:02
Subject: Sin servicio
To: <ana@example.com>


No tengo servicio desde el lunes.
""")


def test_an_inline_forward_keeps_the_whole_text_and_starts_no_thread() -> None:
    parsed = parse_email(FORWARDED_INLINE)

    assert parsed.text == (
        "Mirá esto.\n\n"
        "---------- Forwarded message ---------\n"
        "From: Cliente <cliente@example.org>\n"
        "Date: lun, 3 mar 2025 a las 18:02\n"
        "Subject: Sin servicio\n"
        "To: <ana@example.com>\n\n\n"
        "No tengo servicio desde el lunes."
    )
    assert parsed.thread_refs == ()
    assert parsed.sender_email == "ana@example.com"


NO_MESSAGE_ID = b"From: ana@example.com\nSubject: Sin id\n\nHola\n"


def test_without_a_message_id_the_id_is_the_hash_of_the_bytes() -> None:
    parsed = parse_email(NO_MESSAGE_ID)

    assert parsed.message_id == "sha256:" + hashlib.sha256(NO_MESSAGE_ID).hexdigest()
    assert parse_email(NO_MESSAGE_ID).message_id == parsed.message_id
    assert parse_email(NO_MESSAGE_ID + b"otra linea\n").message_id != parsed.message_id


def test_the_message_id_loses_its_angle_brackets_and_surrounding_spaces() -> None:
    raw = b"From: ana@example.com\nMessage-ID:   <  abc.123@example.com >  \n\nHola\n"

    assert parse_email(raw).message_id == "abc.123@example.com"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"  \r\n\r\n", id="blank"),
        pytest.param(b"hello world\nthis is not an email", id="plain text"),
        pytest.param(random.Random(1).randbytes(512), id="binary garbage"),
        pytest.param(bytes(range(256)) * 4, id="every byte"),
        pytest.param(b"Subject: Hola\nesto no es una cabecera\n\ncuerpo\n", id="broken header"),
        pytest.param(b" Subject: continuation first\n\ncuerpo\n", id="continuation first"),
    ],
)
def test_bytes_that_are_not_an_email_are_rejected_as_message(raw: bytes) -> None:
    with pytest.raises(InvalidEmail) as error:
        parse_email(raw)

    assert error.value.field == "message"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"Subject: Hola\nTo: soporte@atende.example\n\ncuerpo\n", id="no From"),
        pytest.param(b"From: undisclosed\nSubject: Hola\n\ncuerpo\n", id="no address"),
        pytest.param(b"From: undisclosed-recipients:;\n\ncuerpo\n", id="empty group"),
        pytest.param(b"From: <>\n\ncuerpo\n", id="null sender"),
        pytest.param(b"From: \nSubject: Hola\n\ncuerpo\n", id="empty From"),
    ],
)
def test_a_message_without_a_sender_address_is_rejected_as_from(raw: bytes) -> None:
    with pytest.raises(InvalidEmail) as error:
        parse_email(raw)

    assert error.value.field == "from"
    assert str(error.value) == error.value.message
    assert isinstance(error.value, ValueError)


def test_absurdly_nested_mime_parts_are_read_up_to_the_bound_not_refused() -> None:
    nesting = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (level, level)
        for level in range(2000)
    )

    parsed = parse_email(b"From: ana@example.com\n" + nesting + b"\nx\n")

    assert parsed.sender_email == "ana@example.com"
    assert "MIME parts nested deeper than" in parsed.text


def test_malformed_headers_degrade_instead_of_raising() -> None:
    raw = wire(b"""\
From: =?utf-8?q?Jos=C3=A9?= <jose@example.com>
Subject: =?utf-8?q?roto
Message-ID: no brackets here
In-Reply-To: parent@example.com
Content-Type: text/plain; charset="x-unknown-charset"; ===
Content-Disposition: attachment; filename*=bogus''%ZZ

Hola, m\xc3\xb3dem.
""")

    parsed = parse_email(raw)

    assert parsed.sender_email == "jose@example.com"
    assert parsed.subject == "=?utf-8?q?roto"
    assert parsed.message_id == "no brackets here"
    assert parsed.thread_refs == ("parent@example.com",)


# MIME values the stdlib's modern header parser raises on, where it should note a defect
# (CPython 3.11: a parameter ending in "*" runs get_parameter off the end of the string).
PARSER_CRASHERS = [
    b"Content-Type: text/plain;e*",
    b"Content-Type:;e*",
    b'Content-type:"";e*',
    b"Content-Type: multipart/mixed; boundary=B;e*",
    b"Content-Disposition: attachment;e*",
]


def _with_field(field: bytes) -> bytes:
    return wire(b"From: ana@example.com\nMessage-ID: <x@example.com>\n" + field
                + b"\n\nHola, sin internet.\n")  # fmt: skip


@pytest.mark.parametrize("field", PARSER_CRASHERS)
def test_a_mime_value_the_header_parser_crashes_on_is_read_as_its_text(field: bytes) -> None:
    # As the same mail without the parameter that trips the parser.
    parsed = parse_email(_with_field(field))
    assert parsed == parse_email(_with_field(field.removesuffix(b";e*")))
    assert parsed.sender_email == "ana@example.com"


@pytest.mark.parametrize("field", PARSER_CRASHERS)
def test_a_part_whose_mime_value_the_header_parser_crashes_on_is_read_as_its_text(
    field: bytes,
) -> None:
    raw = wire(
        b"From: ana@example.com\nContent-Type: multipart/mixed; boundary=X\n\n"
        b"--X\nContent-Type: text/plain\n\nPrimera parte.\n"
        b"--X\n" + field + b"\n\nSegunda parte.\n--X--\n"
    )
    assert parse_email(raw).text.startswith("Primera parte.")


# Bytes that make mail go wrong, put anywhere in ordinary messages.
_BREAKERS = [b"\r", b"\n", b"\r\n", b";", b'"', b"=?", b"?=", b"\\", b"--", b"*", b"'", b"%",
             b"boundary=", b"\xe9", b"\x00", b":", b" ", b"(", b";e*", b";n*0=", b"*="]  # fmt: skip


TWO_PARTS = wire(
    b"From: a@b.c\nContent-Type: multipart/alternative; boundary=Z\n\n"
    b"--Z\nContent-Type: text/plain; charset=utf-8\n\nhola\n"
    b"--Z\nContent-Type: text/html\n\n<p>hola</p>\n--Z--\n"
)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from([PLAIN, TWO_PARTS]),
    st.lists(st.tuples(st.floats(0, 1), st.sampled_from(_BREAKERS)), min_size=1, max_size=6),
)
def test_no_mail_makes_the_parser_raise_anything_but_invalid_email(message, insertions) -> None:
    for where, breaker in insertions:
        # Half the places in the header sections, where the parsers' surprises are.
        heads = message.find(b"\r\n\r\n")
        at = int(where * 2 * heads) if where < 0.5 else int(where * len(message))
        message = message[:at] + breaker + message[at:]
    with contextlib.suppress(InvalidEmail):  # a 422 naming the field
        parse_email(message)


def test_raw_utf8_headers_without_encoded_words_are_decoded() -> None:
    raw = "From: María Souza <maria@exemplo.com.br>\nSubject: Conexão lenta\n\nOi\n".encode()

    parsed = parse_email(raw)

    assert parsed.sender_name == "María Souza"
    assert parsed.subject == "Conexão lenta"


LATIN1 = wire(b"""\
From: =?iso-8859-1?q?Jo=E3o_Gon=E7alves?= <joao@exemplo.com.br>
Subject: =?iso-8859-1?q?Fatura_n=E3o_chegou?=
Message-ID: <latin1.5@exemplo.com.br>
MIME-Version: 1.0
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: 8bit

""") + wire("Não consigo acessar a fatura.\nAtenção: é urgente!\n".encode("latin-1"))


def test_a_latin1_body_decodes_properly() -> None:
    parsed = parse_email(LATIN1)

    assert parsed.sender_name == "João Gonçalves"
    assert parsed.subject == "Fatura não chegou"
    assert parsed.text == "Não consigo acessar a fatura.\nAtenção: é urgente!"


def test_a_latin1_quoted_printable_body_decodes_properly() -> None:
    raw = wire(b"""\
From: joao@exemplo.com.br
Content-Type: text/plain; charset=ISO-8859-1
Content-Transfer-Encoding: quoted-printable

Informa=E7=F5es do contrato, por favor.
""")

    assert parse_email(raw).text == "Informações do contrato, por favor."


def test_an_8bit_body_without_a_declared_charset_falls_back_to_windows_1252() -> None:
    raw = b"From: ana@example.com\n\n" + "Configuración “rápida” €".encode("cp1252")

    assert parse_email(raw).text == "Configuración “rápida” €"
