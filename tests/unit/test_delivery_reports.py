"""Delivery status notifications read for what they say (infrastructure/delivery_reports):
a bounce names the message and the failure; a hostile "report" - an original of many
megabytes, thousands of nested parts after the status - is read no deeper than its first
REPORT_BYTES, and what lies beyond is never taken for the report's status."""

from __future__ import annotations

from infrastructure.delivery_reports import REPORT_BYTES, delivery_report


def _report(
    action: str = "failed", original_body: bytes = b"", before_status: bytes = b""
) -> bytes:
    return (
        b"From: MAILER-DAEMON@mx.example.net\r\nTo: soporte@atende.example\r\n"
        b"Subject: Undelivered Mail\r\nMessage-ID: <dsn-1@mx.example.net>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="DSN"\r\n\r\n'
        b"--DSN\r\nContent-Type: text/plain\r\n\r\nThe mail system.\r\n" + before_status
        + b"\r\n--DSN\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example.net\r\n\r\n"
        b"Final-Recipient: rfc822; ana@example.com\r\nAction: " + action.encode()
        + b"\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 no such user\r\n\r\n"
        b"--DSN\r\nContent-Type: message/rfc822\r\n\r\n"
        b"From: soporte@atende.example\r\nTo: ana@example.com\r\n"
        b"Message-ID: <reply-1@atende.example>\r\nContent-Type: text/plain\r\n\r\n"
        + original_body + b"\r\n--DSN--\r\n"
    )  # fmt: skip


def test_a_bounce_names_the_message_and_the_failure():
    report = delivery_report(_report())

    assert report is not None and report.failed
    assert report.original_message_id == "reply-1@atende.example"
    assert report.status == "5.1.1" and "no such user" in report.diagnostic


def test_a_report_with_an_original_of_megabytes_is_read_only_to_its_bound():
    nested = b"".join(
        b'--N%d\r\nContent-Type: multipart/mixed; boundary="N%d"\r\n\r\n' % (n, n + 1)
        for n in range(20_000)
    )  # thousands of parts, past the bound
    raw = _report(original_body=nested + b"x" * (8 * 1024 * 1024))
    assert len(raw) > 30 * REPORT_BYTES

    report = delivery_report(raw)

    assert report is not None and report.failed  # what came within the bound is read
    assert report.original_message_id == "reply-1@atende.example"


def test_a_status_pushed_past_the_bound_is_not_taken_for_a_bounce():
    padding = b"word " * (REPORT_BYTES // 5 + 10)  # the status part starts after the bound

    report = delivery_report(_report(before_status=padding))

    assert report is None or not report.failed


def test_a_message_that_only_claims_to_be_a_report_in_its_body_is_not_one():
    raw = b"From: ana@example.com\r\nSubject: hola\r\n\r\nContent-Type: multipart/report\r\n"

    assert delivery_report(raw) is None
