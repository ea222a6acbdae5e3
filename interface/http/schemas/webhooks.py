"""marshmallow schemas of the webhook routes (resources/webhooks.py): a subscription in
and out (its signing secret only when just made or rotated), its deliveries, a replay."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from interface.http.schemas.common import FullMatch, OutSchema, WholeNumber, one_of, short_text

URL_MAX = 2048
DELIVERY_STATES = ("pending", "delivered", "failed")
# "*", a type ("message_added") or a type with its aggregate ("ticket.opened").
EVENT_NAME = r"^(\*|[a-z_]+(\.[a-z_]+)?)$"


class WebhookIn(Schema):
    url = fields.Url(
        required=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=validate.Length(max=URL_MAX),
        metadata={"pattern": r"^https?://[^\s/?#]+([/?#]\S*)?$", "format": "uri"},
    )
    events = fields.List(
        fields.String(validate=[validate.Length(min=1, max=100), FullMatch(EVENT_NAME)]),
        required=True,
        validate=validate.Length(min=1, max=100),
    )
    description = short_text(500, load_default=None, allow_none=True)


class ReplayIn(Schema):
    after_position = WholeNumber(required=True, validate=validate.Range(min=0, max=2**63 - 1))


class DeliveriesQuery(Schema):
    status = one_of(DELIVERY_STATES, metadata={"description": "Only deliveries in this state."})
    before = fields.Integer(
        validate=validate.Range(min=1, max=2**63 - 1),
        metadata={"description": "Only deliveries of events before this position (the "
                  "previous page's next_before)."},
    )  # fmt: skip
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class WebhookOut(OutSchema):
    class Meta:
        sometimes = ("secret",)

    id = fields.UUID()
    url = fields.String()
    events = fields.List(fields.String())
    description = fields.String(allow_none=True)
    status = one_of(("active", "disabled"))
    disabled_reason = fields.String(allow_none=True)
    disabled_at = fields.AwareDateTime(allow_none=True)
    created_at = fields.AwareDateTime()
    created_by = fields.String()
    secret = fields.String(
        metadata={"description": "The signing secret (whsec_...): in this answer only."}
    )


class WebhookListOut(Schema):
    items = fields.List(fields.Nested(WebhookOut), required=True)


class AttemptOut(OutSchema):
    attempt = fields.Integer()
    at = fields.AwareDateTime()
    status_code = fields.Integer(allow_none=True)
    latency_ms = fields.Float()
    error = fields.String(allow_none=True)


class DeliveryOut(OutSchema):
    class Meta:
        sometimes = ("attempt_log",)

    id = fields.UUID()
    subscription_id = fields.UUID()
    position = fields.Integer()
    event_type = fields.String()
    status = one_of(DELIVERY_STATES)
    attempts = fields.Integer()
    next_attempt_at = fields.AwareDateTime(allow_none=True)
    last_attempt_at = fields.AwareDateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    last_latency_ms = fields.Float(allow_none=True)
    delivered_at = fields.AwareDateTime(allow_none=True)
    created_at = fields.AwareDateTime()
    attempt_log = fields.List(fields.Nested(AttemptOut))


class DeliveryListOut(Schema):
    items = fields.List(fields.Nested(DeliveryOut), required=True)
    next_before = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "Pass as before= for the next (older) page; null on the last."},
    )


class ReplayOut(Schema):
    queued = fields.Integer(
        required=True, metadata={"description": "Deliveries queued (again) by the replay."}
    )
