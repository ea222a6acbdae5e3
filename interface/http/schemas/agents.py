"""marshmallow schemas of the agent routes (resources/agents.py): registering an agent,
each change's body (availability, languages, skills, capacity), the list's query, and the
agent as it leaves."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from domain.routing import AVAILABILITIES
from interface.http.schemas.common import (
    BCP47,
    NAME_MAX,
    FullMatch,
    OutSchema,
    WholeNumber,
    one_of,
    short_text,
    uuid_text,
)

MAX_LANGUAGES = 20
MAX_SKILLS = 50
MAX_CAPACITY = 1000


def _languages(**kwargs: Any) -> fields.List:
    tag = fields.String(validate=FullMatch(BCP47, error="Not a BCP 47 language tag."))
    return fields.List(tag, validate=validate.Length(min=1, max=MAX_LANGUAGES), **kwargs)


def _skills(**kwargs: Any) -> fields.List:
    skill = short_text(NAME_MAX)
    return fields.List(skill, validate=validate.Length(max=MAX_SKILLS), **kwargs)


def _capacity(**kwargs: Any) -> fields.Integer:
    return WholeNumber(validate=validate.Range(min=0, max=MAX_CAPACITY), **kwargs)


class AgentIn(Schema):
    name = short_text(NAME_MAX, required=True)
    email = fields.Email(required=True, validate=validate.Length(max=254))
    languages = _languages(required=True)
    skills = _skills(load_default=list)
    generalist = fields.Boolean(load_default=False)
    capacity = _capacity(load_default=5)


class AvailabilityIn(Schema):
    availability = fields.String(required=True, validate=validate.OneOf(AVAILABILITIES))


class LanguagesIn(Schema):
    languages = _languages(required=True)


class SkillsIn(Schema):
    skills = _skills(required=True)
    generalist = fields.Boolean()


class CapacityIn(Schema):
    capacity = _capacity(required=True)


class AgentsQueryIn(Schema):
    availability = fields.String(validate=validate.OneOf(AVAILABILITIES))
    language = fields.String(validate=FullMatch(BCP47, error="Not a BCP 47 language tag."))
    skill = short_text(NAME_MAX)
    active = fields.Boolean()
    after_position = fields.Integer(validate=validate.Range(min=0))


# Dump side.


class AgentOut(OutSchema):
    class Meta:
        sometimes = ("load",)

    id = uuid_text()
    name = fields.String()
    email = fields.String()
    languages = fields.List(fields.String())
    skills = fields.List(fields.String())
    generalist = fields.Boolean()
    capacity = fields.Integer()
    availability = one_of(AVAILABILITIES)
    active = fields.Boolean()
    load = fields.Integer()  # only in lists, which come from the routing view
    version = fields.Integer()
    position = fields.Integer()


# A shape the resource builds by hand, written down for the OpenAPI document.


class AgentListItemOut(AgentOut):
    class Meta:
        exclude = ("version", "position")


class AgentListOut(Schema):
    items = fields.List(fields.Nested(AgentListItemOut), required=True)
