"""The one wiring point: settings in, a ready Atende (application, stores) out."""

from __future__ import annotations

from dataclasses import dataclass

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from application.idempotency import IdempotencyStore
from application.tickets import TicketApplication
from infrastructure.crypto import KeyRing, PersonalAsCiphertext
from infrastructure.idempotency import SqlIdempotencyStore
from infrastructure.settings import Settings, secret_key_for
from infrastructure.sql import SqlDatabase
from infrastructure.tokens import TokenStore


@dataclass
class Atende:
    """Everything a process needs, built once per process (after gunicorn forks)."""

    settings: Settings
    tickets: TicketApplication
    tokens: TokenStore
    idempotency: IdempotencyStore
    db: SqlDatabase

    def close(self) -> None:
        self.tickets.close()


def bootstrap(settings: Settings | None = None) -> Atende:
    settings = settings or Settings.from_env()
    factory = InfrastructureFactory.construct(
        Environment(TicketApplication.name, settings.eventsourcing_env())
    )
    db = SqlDatabase(factory.datastore)
    keyring = KeyRing(db, secret_key_for(settings))
    idempotency = SqlIdempotencyStore(db)
    tokens = TokenStore(db)
    tickets = TicketApplication(
        factory=factory,
        personal_transcoding=PersonalAsCiphertext(keyring),
        idempotency=idempotency,
    )
    with db.schema_lock():
        db.ensure_schema()
        tickets.recorder.create_table()
        for store in (keyring, idempotency, tokens):
            store.create_table()
    return Atende(settings=settings, tickets=tickets, tokens=tokens, idempotency=idempotency, db=db)
