"""The health probe's answer (resources/health.py), built by hand and written down for
the OpenAPI document."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields


class HealthOut(Schema):
    class Meta:
        unknown = INCLUDE  # operators' probes may add members

    status = fields.String(required=True)
    database = fields.String(required=True)
    projector = fields.Dict()  # head, each view's lag, and which views are behind
