"""Delivery status notifications (RFC 3464): the ``multipart/report`` a mail server sends
back when it could not deliver a message. A bounce arriving at ``/v1/intake/email`` is
read here for what it says about which message, instead of becoming a ticket (issue 22).

Only reports of permanent failure (``Action: failed``) are bounces; a ``delayed`` warning
says the server is still trying, and is acknowledged without recording anything."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default

from infrastructure.mail_bounds import MAX_HEADER_BYTES

REPORT_BYTES = 256 * 1024


@dataclass(frozen=True)
class DeliveryReport:
    original_message_id: str | None  # without brackets; None when the report does not say
    failed: bool  # a permanent failure (a bounce); False for a delay warning
    status: str  # "5.1.1"
    diagnostic: str  # the remote server's words ("smtp; 550 5.1.1 <ana@...>: no such user")
    message_id: str | None  # the report's own Message-ID


def delivery_report(raw: bytes) -> DeliveryReport | None:
    """The report this message is, or None for any other message. Only the headers are
    read for any other message. A report's first REPORT_BYTES are: its status and the
    original's headers come before the original's body, which may be long; a hostile
    "report" costs no more than parsing that much."""
    try:
        head = BytesParser(policy=default).parsebytes(raw[:MAX_HEADER_BYTES], headersonly=True)
        if head.get_content_type() != "multipart/report":
            return None
        msg = BytesParser(policy=default).parsebytes(raw[:REPORT_BYTES])
    except Exception:  # noqa: BLE001 - not readable as a report: intake judges it as mail
        return None
    if msg.get_content_type() != "multipart/report":
        return None
    if str(msg.get_param("report-type", "")).lower() != "delivery-status":
        return None
    actions, status, diagnostic = [], "", ""
    original = None
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            for block in _status_blocks(part):
                actions.append(block.get("action", "").strip().lower())
                status = status or block.get("status", "").strip()
                diagnostic = diagnostic or block.get("diagnostic-code", "").strip()
        elif kind in ("message/rfc822", "text/rfc822-headers") and original is None:
            original = _original_message_id(part)
    own = str(msg.get("Message-ID", "")).strip().strip("<>").strip() or None
    return DeliveryReport(original, "failed" in actions, status, diagnostic[:500], own)


def _status_blocks(part: EmailMessage) -> list[dict[str, str]]:
    """The per-message and per-recipient field blocks of a delivery-status part."""
    payload = part.get_payload()
    blocks = []
    if isinstance(payload, list):  # the stdlib parses each block as a headers-only message
        for block in payload:
            blocks.append({k.lower(): str(v) for k, v in block.items()})
        return blocks
    for chunk in str(payload).replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in chunk.splitlines():
            name, colon, value = line.partition(":")
            if colon:
                fields[name.strip().lower()] = value.strip()
        blocks.append(fields)
    return blocks


def _original_message_id(part: EmailMessage) -> str | None:
    if part.get_content_type() == "message/rfc822":
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        value = inner.get("Message-ID") if inner is not None else None
    else:
        headers = BytesParser(policy=default).parsebytes(
            part.get_payload(decode=True) or b"", headersonly=True
        )
        value = headers.get("Message-ID")
    return str(value).strip().strip("<>").strip() if value else None
