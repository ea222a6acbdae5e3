"""Audit routes: verify the chain, export the log (streamed), read the access log,
and erase a customer (crypto-shredding)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import falcon

from application.audit import AuditTrail
from application.erasure import CustomerEraser
from application.ports import AnswersRetries, LogHead
from infrastructure.access_log import AccessLog as AccessLogStore
from interface.audit_export import export_lines
from interface.http.consistency import wait_for_position
from interface.http.cursor import decode_cursor, encode_cursor
from interface.http.hooks import validate_body
from interface.http.idempotency import idempotent
from interface.http.middleware.auth import allow
from interface.http.openapi.operation import Operation, Operations
from interface.http.personal_reads import RecordsReads, export, logs_read
from interface.http.schemas.audit import (
    AccessEntryOut,
    AccessLogOut,
    AccessLogQueryIn,
    EraseIn,
    ErasureOut,
    ExportQueryIn,
    VerifyOut,
    VerifyQueryIn,
)
from projections.ticket_list import TicketListView

AUDIT_READERS = ("admin", "auditor")
ERASERS = ("admin",)  # Clarification 6: erasure is admin only
NDJSON = "application/x-ndjson"
# The access log's sort key (at, id), as a cursor carries it.
ACCESS_KEY_TYPES = (float, str)

_VERIFY_QUERY = VerifyQueryIn()
_EXPORT_QUERY = ExportQueryIn()
# Before any event: an export without from starts at the log's beginning.
LOG_START = datetime(1970, 1, 1, tzinfo=UTC)
_ACCESS_QUERY = AccessLogQueryIn()
_ACCESS_OUT = AccessEntryOut(many=True)


class AuditVerify:
    """``GET /v1/audit/verify[?ticket=]``: 200 either way; ``ok`` says whether the chain
    holds and ``first_break`` names the first broken ticket, version and position."""

    def __init__(self, *, audit: AuditTrail):
        self.audit = audit

    @falcon.before(allow(*AUDIT_READERS))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = _VERIFY_QUERY.load(req.params)
        audit = self.audit
        report = audit.verify_ticket(query["ticket"]) if "ticket" in query else audit.verify()
        resp.media = report.as_dict()


class AuditExport:
    """``GET /v1/audit/export?ticket=`` or ``?from=&to=``: JSON Lines, streamed; the
    same bytes as ``atende audit export``."""

    def __init__(self, *, audit: AuditTrail, access_log: RecordsReads):
        self.audit = audit
        self.access_log = access_log

    @falcon.before(allow(*AUDIT_READERS))
    @logs_read(export)
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = _EXPORT_QUERY.load(req.params)
        audit = self.audit
        if "ticket" in query:
            scope, rows = audit.export_ticket(query["ticket"])
        else:
            start = query.get("from_", LOG_START)
            scope, rows = audit.export_range(start, query.get("to") or datetime.now(UTC))
        resp.content_type = NDJSON
        resp.stream = export_lines(scope, rows)


class AccessLog:
    """``GET /v1/audit/access-log``: who read whose personal data, newest first."""

    def __init__(self, *, access_log: AccessLogStore):
        self.access_log = access_log

    @falcon.before(allow(*AUDIT_READERS))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = _ACCESS_QUERY.load(req.params)
        filters = {k: str(query[k]) for k in ("ticket", "principal") if k in query}
        after = None
        if "cursor" in query:
            after = decode_cursor(query["cursor"], filters, ACCESS_KEY_TYPES)
        rows = self.access_log.reads(
            ticket_id=query.get("ticket"),
            principal_id=query.get("principal"),
            after=after,
            limit=query["limit"] + 1,
        )
        more = len(rows) > query["limit"]
        rows = rows[: query["limit"]]
        last = (rows[-1]["at"], rows[-1]["id"]) if more else None
        resp.media = {
            "items": _ACCESS_OUT.dump(rows),
            "next_cursor": encode_cursor(last, filters) if last else None,
        }


def replay_erasure(resource: Any, req: Any, resp: falcon.Response, previous: Any, position: int,
                   customer_id: UUID) -> None:  # fmt: skip
    """An erasure's first answer again (``already_erased`` says how it stands now)."""
    resp.media = _erasure_document(resource.eraser.find(customer_id))


class CustomerErase:
    """``POST /v1/customers/{id}/erase``: destroys the customer's key and records an
    ``erased`` event; a second call answers the same and writes nothing."""

    schema = EraseIn()

    def __init__(
        self,
        *,
        eraser: CustomerEraser,
        ticket_list: TicketListView,
        log: LogHead,
        retries: AnswersRetries,
    ):
        self.eraser = eraser
        self.ticket_list = ticket_list  # waited for: it names the customer's tickets
        self.log = log
        self.retries = retries

    @falcon.before(allow(*ERASERS))
    @falcon.before(validate_body)
    @idempotent(replay=replay_erasure)
    def on_post(self, req: falcon.Request, resp: falcon.Response, customer_id: UUID) -> None:
        eraser = self.eraser
        if eraser.find(customer_id) is None:
            eraser.require_known(customer_id)  # 404 before any wait
            # The erasure names the customer's tickets for views to scrub; wait until the
            # ticket list has seen every ticket written so far.
            wait_for_position(self.log, self.ticket_list, self.log.head_position())
        body, claim = req.context.body, req.context.claim
        result = eraser.erase(customer_id, req.context.actor, body.get("reason"), claim)
        resp.media = _erasure_document(result)


def _erasure_document(result: Any) -> dict[str, Any]:
    erasure = result.erasure
    return {
        "customer_id": str(erasure.customer_id),
        "erased_at": erasure.created_on.isoformat(),
        "erased_by": erasure.actor.as_dict(),
        "tickets": [str(t) for t in erasure.ticket_ids],
        "already_erased": not result.created,
        "position": result.position,
    }


OPERATIONS: Operations = {
    ("/v1/audit/verify", "get"): Operation(
        "Verify the hash chain of the whole log (and its signed checkpoints), or of one ticket",
        "audit",
        AUDIT_READERS,
        VerifyOut,
        query=VerifyQueryIn,
        errors=(404,),
        description="200 either way: ok says whether the chain holds, first_break names the "
        "first broken ticket, version and position.",
    ),
    ("/v1/audit/export", "get"): Operation(
        "Export events as JSON Lines (streamed; byte-identical on every run)",
        "audit",
        AUDIT_READERS,
        query=ExportQueryIn,
        errors=(404,),
        raw_response={NDJSON: {"type": "string"}},
        description="Give ticket, or from and to (each defaults to the log's end: no "
        "parameter exports the whole log up to now). A header line, then one line per event "
        "with position, hashes, actor, data and the stored state. Recorded in the access log.",
    ),
    ("/v1/audit/access-log", "get"): Operation(
        "Who read whose personal data (tickets, lists, history, feed, exports), newest first",
        "audit",
        AUDIT_READERS,
        AccessLogOut,
        query=AccessLogQueryIn,
    ),
    ("/v1/customers/{customer_id:uuid}/erase", "post"): Operation(
        "Erase a customer: destroy their key (crypto-shredding) and record an erased event",
        "customers",
        ERASERS,
        ErasureOut,
        body=EraseIn,
        errors=(404,),
        idempotent=True,
        description='Personal fields then read "[erased]"; history, hashes and report counts '
        "stay. A second call answers the same with already_erased true and writes nothing.",
    ),
}


def add_audit_routes(
    app: falcon.App,
    *,
    audit: AuditTrail,
    access_log: AccessLogStore,
    eraser: CustomerEraser,
    ticket_list: TicketListView,
    log: LogHead,
    retries: AnswersRetries,
) -> None:
    app.add_route("/v1/audit/verify", AuditVerify(audit=audit))
    app.add_route("/v1/audit/export", AuditExport(audit=audit, access_log=access_log))
    app.add_route("/v1/audit/access-log", AccessLog(access_log=access_log))
    app.add_route(
        "/v1/customers/{customer_id:uuid}/erase",
        CustomerErase(eraser=eraser, ticket_list=ticket_list, log=log, retries=retries),
    )
