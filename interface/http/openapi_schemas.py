"""Response shapes that resources build by hand rather than through a dump schema,
written down for the OpenAPI document (interface/http/openapi.py). The conformance test
(tests/e2e/test_openapi_conformance.py) checks the live answers against them."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields

from interface.agent_schemas import AgentOut, IntakeOut
from interface.audit_schemas import AccessEntryOut
from interface.schemas import EventOut, QueueItemOut, TicketListItemOut, TicketOut


class ProblemOut(Schema):
    """RFC 9457 problem details; some problems add members (ticket_id, policies...)."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class HealthOut(Schema):
    class Meta:
        unknown = INCLUDE  # operators' probes may add members

    status = fields.String(required=True)
    database = fields.String(required=True)
    projector = fields.Dict()  # head, each view's lag, and which views are behind


def _cursor() -> fields.String:
    return fields.String(required=True, allow_none=True)


class EventFeedOut(Schema):
    events = fields.List(fields.Nested(EventOut), required=True)
    next_after = fields.Integer(required=True)
    head = fields.Integer(required=True)


class HistoryEventOut(EventOut):
    class Meta:
        exclude = ("position", "ticket_id", "aggregate_type", "aggregate_id")


class HistoryOut(Schema):
    ticket_id = fields.UUID(required=True)
    events = fields.List(fields.Nested(HistoryEventOut), required=True)


class QueuePageOut(Schema):
    items = fields.List(fields.Nested(QueueItemOut), required=True)
    next_cursor = _cursor()


class TicketListPageOut(Schema):
    items = fields.List(fields.Nested(TicketListItemOut), required=True)
    next_cursor = _cursor()


class CustomerTicketsOut(TicketListPageOut):
    customer_id = fields.UUID(required=True)


class IntakeTicketOut(TicketOut):
    intake = fields.Nested(IntakeOut, required=True)


class AgentListItemOut(AgentOut):
    class Meta:
        exclude = ("version", "position")


class AgentListOut(Schema):
    items = fields.List(fields.Nested(AgentListItemOut), required=True)


class CalendarOut(Schema):
    class Meta:
        unknown = INCLUDE  # the revision's fields, as PUT took them

    name = fields.String(required=True)
    timezone = fields.String(required=True)
    version = fields.Integer(required=True)
    revision = fields.Integer(required=True)
    updated_at = fields.AwareDateTime(required=True)


class PoliciesOut(Schema):
    version = fields.Integer(required=True)
    policies = fields.List(fields.Dict(), required=True)


class TicketSlaOut(Schema):
    ticket_id = fields.UUID(required=True)
    policy = fields.String(required=True, allow_none=True)
    timers = fields.List(fields.Dict(), required=True)


class BreachOut(Schema):
    ticket_id = fields.String()
    metric = fields.String()
    cycle = fields.Integer()
    policy = fields.String(allow_none=True)
    target = fields.Integer()
    state = fields.String()
    started_at = fields.String()
    due_at = fields.String(allow_none=True)
    breached_at = fields.String()


class BreachesOut(Schema):
    items = fields.List(fields.Nested(BreachOut), required=True)
    next_cursor = _cursor()


class SlaReportOut(Schema):
    from_ = fields.String(data_key="from", required=True)
    to = fields.String(required=True)
    period = fields.String(required=True)
    groups = fields.List(fields.Dict(), required=True)


class SatisfactionOut(Schema):
    surveys_sent = fields.Integer(required=True)
    responses = fields.Integer(required=True)
    response_rate = fields.Float(required=True, allow_none=True)
    average_rating = fields.Float(required=True, allow_none=True)
    csat = fields.Float(required=True, allow_none=True)


class SatisfactionGroupOut(SatisfactionOut):
    group = fields.String(required=True, allow_none=True)


class SatisfactionReportOut(Schema):
    from_ = fields.Date(data_key="from", required=True)
    to = fields.Date(required=True)
    group_by = fields.String(required=True)
    groups = fields.List(fields.Nested(SatisfactionGroupOut), required=True)
    total = fields.Nested(SatisfactionOut, required=True)


class PerformanceOut(Schema):
    """One agent's figures; the times and SLA members are nested objects."""

    agent_id = fields.String(required=True)
    assigned = fields.Integer(required=True)
    resolved = fields.Integer(required=True)
    resolution_rate = fields.Float(required=True, allow_none=True)
    reopened = fields.Integer(required=True)
    reopen_rate = fields.Float(required=True, allow_none=True)
    first_response = fields.Dict(required=True)
    resolution = fields.Dict(required=True)
    sla = fields.Dict(required=True)
    csat = fields.Nested(SatisfactionOut, required=True)


class AgentsReportOut(Schema):
    from_ = fields.Date(data_key="from", required=True)
    to = fields.Date(required=True)
    agents = fields.List(fields.Nested(PerformanceOut), required=True)


class AgentPerformanceOut(PerformanceOut):
    from_ = fields.Date(data_key="from", required=True)
    to = fields.Date(required=True)


class SurveyPageOut(Schema):
    """What the customer's survey link shows (and, after an answer, its position)."""

    ticket = fields.Dict(required=True)
    language = fields.String(required=True)
    question = fields.String(required=True)
    scale = fields.Dict(required=True)
    status = fields.String(required=True)
    rating = fields.Integer(required=True, allow_none=True)
    comment = fields.String(required=True, allow_none=True)
    expires_at = fields.AwareDateTime(required=True)
    position = fields.Integer()


class TicketSurveyOut(Schema):
    id = fields.UUID(required=True)
    ticket_id = fields.UUID(required=True)
    status = fields.String(required=True)
    issued_at = fields.AwareDateTime(required=True)
    expires_at = fields.AwareDateTime(required=True)
    language = fields.String(required=True)
    agent_id = fields.String(required=True, allow_none=True)
    rating = fields.Integer(required=True, allow_none=True)
    rated_at = fields.AwareDateTime(required=True, allow_none=True)
    token = fields.String()  # for admins and integrators, who send the link
    link = fields.String()


class TicketReadOut(TicketOut):
    as_of = fields.AwareDateTime()  # present when the ticket was read ?as_of=


class BreakOut(Schema):
    reason = fields.String(required=True)
    position = fields.Integer(allow_none=True)
    aggregate_id = fields.UUID(allow_none=True)
    version = fields.Integer(allow_none=True)


class UnanchoredOut(Schema):
    """The log's tail no anchor outside the database covers yet (null for one ticket)."""

    anchored_position = fields.Integer(required=True, allow_none=True)
    events = fields.Integer(required=True)
    seconds = fields.Float(required=True, allow_none=True)


class VerifyOut(Schema):
    ok = fields.Boolean(required=True)
    scope = fields.String(required=True)
    checked_events = fields.Integer(required=True)
    head_position = fields.Integer(required=True)
    checkpoints_checked = fields.Integer(required=True)
    first_break = fields.Nested(BreakOut, required=True, allow_none=True)
    unanchored = fields.Nested(UnanchoredOut, required=True, allow_none=True)


class AccessLogOut(Schema):
    items = fields.List(fields.Nested(AccessEntryOut), required=True)
    next_cursor = _cursor()


class ErasureOut(Schema):
    customer_id = fields.UUID(required=True)
    erased_at = fields.AwareDateTime(required=True)
    erased_by = fields.Dict(required=True)
    tickets = fields.List(fields.UUID(), required=True)
    already_erased = fields.Boolean(required=True)
    position = fields.Integer(required=True)
