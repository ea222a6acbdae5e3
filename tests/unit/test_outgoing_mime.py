"""The emails Atende sends, assembled without EmailMessage (infrastructure/outbound/mime.py),
read back by the standard library's parser with its default policy: well formed, 7-bit,
every line short, and the same headers and texts that went in, whatever the texts hold."""

from __future__ import annotations

import email
import email.policy

import pytest

from infrastructure.outbound.mime import OutgoingEmail

SENDER = "Soporte Atende <soporte@atende.example>"


def outgoing(**overrides) -> OutgoingEmail:
    fields = {
        "sender": SENDER,
        "to": "cliente@example.com",
        "subject": "Re: Sin conexión desde ayer [#12]",
        "message_id": "ticket-1.2@atende",
        "text": "¿Ya probó reiniciar el módem?\nSaludos.",
        "language": "es",
        "thread": ("a1@mail.example.com", "a2@mail.example.com"),
    }
    fields.update(overrides)
    return OutgoingEmail(**fields)


def parsed(sent: OutgoingEmail) -> email.message.EmailMessage:
    raw = sent.as_bytes()
    assert raw.isascii(), "every byte 7-bit: a server without 8BITMIME takes it"
    assert b"\n" not in raw.replace(b"\r\n", b""), "CRLF line ends only"
    head, _, body = raw.partition(b"\r\n\r\n")
    # Headers within 78 but for a long Message-ID, which cannot be folded; bodies within
    # quoted-printable's 76.
    assert all(len(line) <= 78 or b"@" in line for line in head.split(b"\r\n"))
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message.defects == []
    for part in message.walk():
        assert part.defects == []
    return message


def plain_text(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def test_a_reply_reads_back_with_its_headers_thread_and_both_parts():
    message = parsed(outgoing())
    assert message["From"] == SENDER
    assert message["To"] == "cliente@example.com"
    assert message["Subject"] == "Re: Sin conexión desde ayer [#12]"
    assert message["Message-ID"] == "<ticket-1.2@atende>"
    assert message["In-Reply-To"] == "<a2@mail.example.com>"
    assert message["References"] == "<a1@mail.example.com> <a2@mail.example.com>"
    assert message["Content-Language"] == "es"
    assert message["Date"].datetime is not None
    assert message.get_content_type() == "multipart/alternative"
    assert plain_text(message) == "¿Ya probó reiniciar el módem?\nSaludos."
    html = message.get_body(("html",)).get_content()
    assert "¿Ya probó reiniciar el módem?<br>" in html


def test_a_first_email_without_a_thread_has_no_in_reply_to():
    message = parsed(outgoing(thread=()))
    assert message["In-Reply-To"] is None and message["References"] is None


@pytest.mark.parametrize(
    "text",
    [
        ".a line that starts with a dot\n.\n..",
        "From the start of a line, as mbox would quote it",
        "trailing spaces   \ntabs\t\nand = signs =3D",
        "a very long line " * 40,
        "Windows\r\nline ends\rand a lone CR",
        "emoji 📶 and 中文 and Ñandú",
        "--=_atende_ a boundary-looking line\n--",
        "",
    ],
)
def test_any_text_reads_back_as_written(text):
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    assert plain_text(parsed(outgoing(text=text))).rstrip("\n") == expected.rstrip("\n")


def test_a_subject_holding_a_line_break_cannot_add_a_header():
    message = parsed(outgoing(subject="Hola\r\nBcc: intruso@example.com\nX-Evil: 1"))
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert message["Subject"] == "Hola Bcc: intruso@example.com X-Evil: 1"


def test_a_long_subject_in_any_script_is_folded_and_reads_back_whole():
    subject = "Re: " + "Cobrança indevida na fatura de outubro " * 6 + "[#98765]"
    assert parsed(outgoing(subject=subject))["Subject"] == subject
    ascii_subject = "Re: " + "no internet since yesterday " * 8
    assert parsed(outgoing(subject=ascii_subject))["Subject"] == ascii_subject


def test_a_long_conversation_keeps_each_identifier_on_a_line_of_its_own():
    thread = tuple(f"message-{n}-{'x' * 40}@mail.example.com" for n in range(60))
    message = parsed(outgoing(thread=thread))
    assert message["References"].split() == [f"<{i}>" for i in thread]


def test_identifiers_a_customers_mailer_wrote_badly_are_cleaned_or_left_out():
    message = parsed(outgoing(thread=("<ok@example.com>", "bad\r\nX-Evil: 1", "ñ@example.com")))
    assert message["X-Evil"] is None
    assert message["References"].split() == ["<ok@example.com>", "<badX-Evil:1>"]


def test_a_sender_name_outside_ascii_is_encoded_and_reads_back():
    message = parsed(outgoing(sender="Atención al Cliente <ayuda@example.com>"))
    assert message["From"] == "Atención al Cliente <ayuda@example.com>"
    assert message["From"].addresses[0].addr_spec == "ayuda@example.com"
