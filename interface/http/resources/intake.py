"""Intake routes: ``POST /v1/intake/email`` takes a raw RFC 5322 message; the other
channels (chat, social, phone, web) take normalized JSON. Each answers with the ticket
the contact opened or continued, and what happened to it."""

from __future__ import annotations

from typing import Any

import falcon

from application.email_records import EmailRecords
from application.idempotency import PreviousAttempt
from application.intake import Inbound, Intake, IntakeResult
from application.ports import AnswersRetries
from domain.customer import Contact
from domain.intake import INTAKE_CHANNELS
from infrastructure.delivery_reports import DeliveryReport, delivery_report
from infrastructure.mail import InvalidEmail, ParsedEmail, parse_email
from interface.http.errors import Problem
from interface.http.idempotency import idempotent, replay_ticket
from interface.http.middleware.auth import INTAKE_WRITERS, allow
from interface.http.openapi.operation import Operation, Operations
from interface.http.representations import render_ticket
from interface.http.schemas.intake import IntakeIn, IntakeTicketOut, intake_schema

EMAIL_TYPES = ("message/rfc822",)
JSON_CHANNELS = tuple(c for c in INTAKE_CHANNELS if c != "email")
# An outcome's HTTP status: a new ticket is created, anything else is the existing one.
STATUS = {"opened": 201, "followed_up": 201, "appended": 200, "duplicate": 200}


def render_intake(resp: falcon.Response, received: IntakeResult, inbound: Inbound) -> None:
    render_ticket(resp, received.result, status=STATUS[received.outcome])
    resp.media["intake"] = _intake_member(received.outcome, inbound)


def _intake_member(outcome: str, inbound: Inbound) -> dict[str, Any]:
    return {"outcome": outcome, "channel": inbound.channel, "message_id": inbound.message_id}


def replay_intake(
    resource: Any, req: falcon.Request, resp: falcon.Response, previous: PreviousAttempt,
    position: int, **params: Any,
) -> None:  # fmt: skip
    """A retried intake's first answer: the ticket, and what the contact did to it (a 201
    opened or followed up a ticket, a 200 appended to one: duplicates are not kept)."""
    replay_ticket(resource, req, resp, previous, position)
    if previous.status == 200:
        outcome = "appended"
    else:
        outcome = "followed_up" if resp.media["follow_up_of"] else "opened"
    resp.media["intake"] = _intake_member(outcome, resource.inbound(req, **params))


class EmailIntake:
    def __init__(
        self, *, intake: Intake, max_email_bytes: int, retries: AnswersRetries,
        email_records: EmailRecords,
    ):  # fmt: skip
        self.intake = intake
        self.max_email_bytes = max_email_bytes
        self.retries = retries
        self.email_records = email_records  # where a bounce is recorded

    @falcon.before(allow(*INTAKE_WRITERS))
    @idempotent(replay=replay_intake)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.content_type is None or req.content_type.split(";")[0].strip().lower() not in (
            EMAIL_TYPES
        ):
            raise Problem(
                falcon.HTTP_415,
                "unsupported-media-type",
                "Unsupported media type",
                "Send the raw message as Content-Type: message/rfc822.",
            )
        limit = self.max_email_bytes
        raw = req.bounded_stream.read(limit + 1)
        if len(raw) > limit:
            raise Problem(
                falcon.HTTP_413,
                "body-too-large",
                "Request body too large",
                f"The message must be at most {limit} bytes.",
            )
        report = delivery_report(raw)
        if report is not None:
            self._reported(req, resp, report)
            return
        inbound = inbound_email(parse_email(raw))  # InvalidEmail -> 422 naming the field
        received = self.intake.receive(inbound, req.context.actor, req.context.claim)
        render_intake(resp, received, inbound)

    def _reported(self, req: falcon.Request, resp: falcon.Response, report: DeliveryReport) -> None:
        """A delivery report about an email Atende sent: a bounce is recorded on the
        ticket's email record (never a ticket of its own); a delay warning only
        acknowledged. Either way nothing is kept for an Idempotency-Key: a retry is
        answered the same, and recording a bounce twice says nothing new."""
        original = report.original_message_id
        if original is None:
            raise InvalidEmail("message", "The delivery report names no message it is about.")
        if report.failed:
            ticket_id = self.email_records.bounce(original, report.status, report.diagnostic)
        else:
            ticket_id = self.email_records.sent_ticket(original)
        if ticket_id is None:
            raise InvalidEmail("message", "The delivery report is about no email Atende sent.")
        if req.context.claim is not None:
            self.intake.app.idempotency.release(req.context.claim)
        render_ticket(resp, self.intake.app.ticket_result(ticket_id))
        resp.media["intake"] = {
            "outcome": "bounced" if report.failed else "delay_reported",
            "channel": "email",
            "message_id": report.message_id,
        }

    def inbound(self, req: falcon.Request) -> Inbound:
        """A replayed request's contact (the body is the first request's)."""
        return inbound_email(parse_email(req.bounded_stream.read()))


def inbound_email(mail: ParsedEmail) -> Inbound:
    return Inbound(
        channel="email",
        contact=Contact(name=mail.sender_name or mail.sender_email, email=mail.sender_email),
        text=mail.text or "(empty message)",
        subject=mail.subject.strip() or None,
        message_id=mail.message_id,
        references=mail.thread_refs,
        ticket_number=mail.ticket_number,
        attachments=[
            {"filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in mail.attachments
        ],
    )


class ChannelIntake:
    """``POST /v1/intake/{channel}`` for chat, social, phone and web contacts."""

    def __init__(self, *, intake: Intake, retries: AnswersRetries):
        self.intake = intake
        self.retries = retries
        self.schemas = {channel: intake_schema(channel) for channel in JSON_CHANNELS}

    @falcon.before(allow(*INTAKE_WRITERS))
    @idempotent(replay=replay_intake)
    def on_post(self, req: falcon.Request, resp: falcon.Response, channel: str) -> None:
        schema = self.schemas.get(channel)
        if schema is None:
            raise Problem(
                falcon.HTTP_404,
                "unknown-channel",
                "Unknown channel",
                f"There is no intake channel {channel!r}; the channels are "
                f"{', '.join(INTAKE_CHANNELS)}.",
            )
        inbound = self.inbound(req, channel)
        received = self.intake.receive(inbound, req.context.actor, req.context.claim)
        render_intake(resp, received, inbound)

    def inbound(self, req: falcon.Request, channel: str) -> Inbound:
        body = self.schemas[channel].load(req.get_media(default_when_empty={}))
        return inbound_contact(channel, body)


def inbound_contact(channel: str, body: dict[str, Any]) -> Inbound:
    customer = body["customer"]
    handle = customer.get("handle")
    if handle and body.get("network"):
        handle = f"{body['network'].strip().lower()}:{handle}"
    name = customer.get("name") or handle or customer.get("phone") or customer.get("email")
    return Inbound(
        channel=channel,
        contact=Contact(
            name=name or "customer",
            email=customer.get("email"),
            phone=customer.get("phone"),
            external_id=customer.get("external_id"),
            handle=handle,
        ),
        text=body["text"],
        subject=body.get("subject"),
        message_id=body.get("message_id"),
        conversation_id=body.get("conversation_id"),
        language=body.get("language"),
        category=body.get("category"),
        priority=body["priority"],
        tags=body["tags"],
    )


OPERATIONS: Operations = {
    ("/v1/intake/email", "post"): Operation(
        "Receive a raw email (201 when it opens a ticket, 200 when it continues one)",
        "intake",
        INTAKE_WRITERS,
        IntakeTicketOut,
        statuses=(200, 201),
        raw_body={"message/rfc822": {"type": "string", "minLength": 1}},
        idempotent=True,
        etag=True,
    ),
    ("/v1/intake/{channel}", "post"): Operation(
        "Receive a contact on chat, social, phone or web (201 opened, 200 continued)",
        "intake",
        INTAKE_WRITERS,
        IntakeTicketOut,
        statuses=(200, 201),
        body=IntakeIn,
        errors=(404, 409),
        idempotent=True,
        etag=True,
        path_schemas={"channel": {"type": "string", "enum": list(JSON_CHANNELS)}},
    ),
}


def add_intake_routes(
    app: falcon.App, *, intake: Intake, max_email_bytes: int, retries: AnswersRetries,
    email_records: EmailRecords,
) -> None:  # fmt: skip
    app.add_route(
        "/v1/intake/email",
        EmailIntake(
            intake=intake,
            max_email_bytes=max_email_bytes,
            retries=retries,
            email_records=email_records,
        ),
    )
    app.add_route("/v1/intake/{channel}", ChannelIntake(intake=intake, retries=retries))
