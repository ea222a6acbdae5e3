"""The baseline for the queue read benchmark: a bare Falcon app that runs the queue's
first-page query on the queue's own table and returns the rows as JSON.

Its own minimal code (no Atende view, resource, schema, auth or cursor code): same
database (ATENDE_DATABASE_URL), same driver stack (an eventsourcing datastore under
``infrastructure.sql.SqlDatabase``, as tests/bench/bare_app.py), same gunicorn config.
One query per request, read outside a transaction as Atende's (``SqlDatabase.reading``);
it does not fetch tags (Atende's query also reads each ticket's tags, by a subquery).
Run it with::

    gunicorn -c python:interface.http.server.gunicorn_conf 'tests.bench.bare_queue_app:get_app()'

``?language=pt`` filters on the primary subtag; ``?after=<next_cursor>`` gives the next
page (the cursor is the last row's sort key, base64 JSON).
"""

from __future__ import annotations

import base64
import json

import falcon
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from infrastructure.settings import Settings
from infrastructure.sql import SqlDatabase

TABLE = "queue_tickets"
STATUSES = ("new", "open", "pending", "on_hold")
ORDER = ("breach_rank", "due_epoch", "priority_rank", "created_at", "number")
COLUMNS = (
    "id", "number", "subject", "status", "priority", "channel", "language", "category",
    "assignee", "requester_name", "created_at", "last_customer_message_at", "sla_breached",
    "sla_due_at", "breach_rank", "due_epoch", "priority_rank",
)  # fmt: skip
SHOWN = COLUMNS[:-3]


class QueuePage:
    def __init__(self, db: SqlDatabase):
        self.db = db
        self.select = f"SELECT {', '.join(COLUMNS)} FROM {db.table(TABLE)} WHERE "
        self.order = f" ORDER BY {', '.join(ORDER)} LIMIT :limit"

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        limit = req.get_param_as_int("limit", default=50)
        # The same literal predicate as the queue's partial index (bound parameters
        # would keep either database from using it).
        params: dict = {}
        clauses = [f"status IN ({', '.join(repr(s) for s in STATUSES)})"]
        language = req.get_param("language")
        if language:
            clauses.append("language_primary = :language")
            params["language"] = language.split("-", 1)[0].lower()
        after = req.get_param("after")
        if after:
            key = json.loads(base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)))
            names = [f"k{i}" for i in range(len(ORDER))]
            clauses.append(f"({', '.join(ORDER)}) > ({', '.join(':' + k for k in names)})")
            params.update(zip(names, key, strict=True))
        params["limit"] = limit + 1
        with self.db.reading() as cursor:
            self.db.execute(cursor, self.select + " AND ".join(clauses) + self.order, params)
            rows = cursor.fetchall()
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            raw = json.dumps([last[c] for c in ORDER]).encode()
            next_cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        resp.media = {
            "items": [{c: row[c] for c in SHOWN} for row in rows[:limit]],
            "next_cursor": next_cursor,
        }


class Health:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


def open_database(settings: Settings | None = None) -> SqlDatabase:
    settings = settings or Settings.from_env()
    factory = InfrastructureFactory.construct(Environment("Atende", settings.eventsourcing_env()))
    db = SqlDatabase(factory.datastore)
    db.fetchone(f"SELECT id FROM {db.table(TABLE)} LIMIT 1")  # the table must exist
    return db


def get_app() -> falcon.App:
    """Called by gunicorn in each worker, after the fork (no preload), like Atende's."""
    app = falcon.App()
    app.add_route("/v1/queue", QueuePage(open_database()))
    app.add_route("/v1/health", Health())  # what the test helper polls
    return app
