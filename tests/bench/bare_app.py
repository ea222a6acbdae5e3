"""The baseline for the throughput benchmark: a bare Falcon app that inserts one row.

Same database (ATENDE_DATABASE_URL), same driver stack (an eventsourcing datastore under
``infrastructure.sql.SqlDatabase``), same gunicorn configuration as Atende; no auth, no
validation, no events, no encryption. Run it with::

    gunicorn --config python:interface.http.server.gunicorn_conf 'tests.bench.bare_app:get_app()'
"""

from __future__ import annotations

import uuid

import falcon
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from infrastructure.settings import Settings
from infrastructure.sql import SqlDatabase

TABLE = "bench_rows"


class Rows:
    def __init__(self, db: SqlDatabase):
        self.db = db
        self.insert = f"INSERT INTO {db.table(TABLE)} (id, body) VALUES (:id, :body)"

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        media = req.get_media()
        subject = media.get("subject", "") if isinstance(media, dict) else ""
        row_id = str(uuid.uuid4())
        self.db.run(self.insert, {"id": row_id, "body": subject})
        resp.status = falcon.HTTP_201
        resp.media = {"id": row_id}


class Health:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


def open_database(settings: Settings | None = None) -> SqlDatabase:
    settings = settings or Settings.from_env()
    factory = InfrastructureFactory.construct(Environment("Atende", settings.eventsourcing_env()))
    db = SqlDatabase(factory.datastore)
    # Workers start together: serialise schema creation as Atende's bootstrap does.
    with db.schema_lock():
        db.ensure_schema()
        db.create_tables(
            [f"CREATE TABLE IF NOT EXISTS {db.table(TABLE)} (id TEXT PRIMARY KEY, body TEXT)"]
        )
    return db


def get_app() -> falcon.App:
    """Called by gunicorn in each worker, after the fork (no preload), like Atende's."""
    app = falcon.App()
    app.add_route("/rows", Rows(open_database()))
    app.add_route("/v1/health", Health())  # what the test helper polls
    return app
