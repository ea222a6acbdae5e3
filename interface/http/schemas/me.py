"""The answer of ``GET /v1/me`` (resources/me.py)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from interface.http.schemas.agents import AgentOut


class MyAgentOut(AgentOut):
    load = fields.Integer()
    open_tickets = fields.List(fields.String())


class MeOut(Schema):
    id = fields.String()
    name = fields.String()
    role = fields.String()
    agent_id = fields.String(allow_none=True)
    agent = fields.Nested(MyAgentOut, allow_none=True)


class MeQueryIn(Schema):
    # Wait until the routing view (the load and open tickets) has seen this position.
    after_position = fields.Integer(validate=validate.Range(min=0))
