"""The answer of ``GET /v1/me`` (resources/me.py)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.actor import ROLES
from interface.http.schemas.agents import AgentOut
from interface.http.schemas.common import OutSchema, one_of, uuid_text


class MyAgentOut(AgentOut):
    class Meta:
        sometimes = ()

    load = fields.Integer()
    open_tickets = fields.List(uuid_text())


class MeOut(OutSchema):
    id = fields.String()
    name = fields.String()
    role = one_of(ROLES)
    agent_id = uuid_text(allow_none=True)
    agent = fields.Nested(MyAgentOut, allow_none=True)


class MeQueryIn(Schema):
    # Wait until the routing view (the load and open tickets) has seen this position.
    after_position = fields.Integer(validate=validate.Range(min=0))
