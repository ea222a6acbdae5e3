"""The floor under Atende's write path: the least an event-sourced ticket endpoint built
on Atende's stack does, and what issue 19's ratios can be read against.

``POST /tickets`` validates the body with a marshmallow schema, opens an eventsourcing
aggregate, saves its one event with the library's own recorder (no encryption, no hash
chain, no snapshot, no SLA, no idempotency, no auth, no projector), and answers the ticket
dumped by a second schema. Same database as Atende and the bare app (its own table), same
gunicorn configuration::

    gunicorn --config python:interface.http.server.gunicorn_conf 'tests.bench.floor_app:get_app()'

Atende cannot beat this app's rate on this stack: anything it adds is on top. The bench
prints floor/bare beside atende/bare, so a note can say how much of a missed ratio is the
stack's and how much is Atende's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import falcon
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.sqlite import SQLiteApplicationRecorder
from marshmallow import EXCLUDE, Schema, fields, validate

from infrastructure.settings import Settings, postgres_env
from infrastructure.sql import SqlDatabase

TABLE = "floor_events"


class Ticket(Aggregate):
    @event("Opened")
    def __init__(
        self, subject: str, description: str, channel: str, requester: dict[str, str]
    ) -> None:
        self.subject = subject
        self.description = description
        self.channel = channel
        self.requester = requester
        self.status = "new"


class Tickets(Application):
    name = "floor"  # PostgreSQL's table is then floor_events

    def open(self, **fields: Any) -> Ticket:
        ticket = Ticket(**fields)
        self.save(ticket)
        return ticket


class FloorSQLiteRecorder(SQLiteApplicationRecorder):
    """The library's recorder in a table of its own, beside Atende's stored_events."""

    def __init__(self, datastore: Any) -> None:
        super().__init__(datastore, events_table_name=TABLE)


class RequesterIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(required=True)


class TicketIn(Schema):
    class Meta:
        unknown = EXCLUDE

    subject = fields.String(required=True, validate=validate.Length(min=1, max=300))
    description = fields.String(required=True, validate=validate.Length(max=100_000))
    channel = fields.String(required=True, validate=validate.OneOf(["email", "web", "chat"]))
    requester = fields.Nested(RequesterIn, required=True)


class TicketOut(Schema):
    id = fields.UUID()
    subject = fields.String()
    description = fields.String()
    channel = fields.String()
    status = fields.String()
    requester = fields.Dict()
    created_at = fields.DateTime(attribute="created_on")
    version = fields.Integer()


class TicketsResource:
    def __init__(self, tickets: Tickets):
        self.tickets = tickets
        self.load, self.dump = TicketIn().load, TicketOut().dump

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        ticket = self.tickets.open(**self.load(req.get_media()))
        resp.status = falcon.HTTP_201
        resp.media = self.dump(ticket)


class Health:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok", "at": datetime.now(UTC).isoformat()}


def floor_env(settings: Settings) -> dict[str, str]:
    if settings.is_sqlite:
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(settings.sqlite_path()),
            "SQLITE_LOCK_TIMEOUT": "10",
            "APPLICATION_RECORDER_TOPIC": f"{__name__}:FloorSQLiteRecorder",
        }
    atende = postgres_env(settings.database_url)
    keep = ("DBNAME", "HOST", "PORT", "USER", "PASSWORD", "SCHEMA")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        **{f"POSTGRES_{key}": atende[f"POSTGRES_{key}"] for key in keep},
    }


def get_app() -> falcon.App:
    """Called by gunicorn in each worker, after the fork, like Atende's."""
    settings = Settings.from_env()
    tickets = Tickets(env={**floor_env(settings), "CREATE_TABLE": "no"})
    # The library creates tables, not schemas; and workers start together, so schema and
    # table are made one worker at a time, as Atende's bootstrap and the bare app do.
    db = SqlDatabase(tickets.factory.datastore)
    with db.schema_lock():
        db.ensure_schema()
        tickets.recorder.create_table()
    app = falcon.App()
    app.add_route("/tickets", TicketsResource(tickets))
    app.add_route("/v1/health", Health())  # what the test helper polls
    return app
