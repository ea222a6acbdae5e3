"""The one wiring point: settings in, a ready Atende (application, stores) out."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InfrastructureFactory, Transcoding
from eventsourcing.utils import Environment

from application.audit import AuditTrail
from application.erasure import CustomerEraser
from application.idempotency import IdempotencyStore
from application.language import LanguagePolicy
from application.sla_config import SlaConfiguration
from application.tickets import TicketApplication
from infrastructure.audit_log import AuditLog
from infrastructure.crypto import KeyRing, PersonalAsCiphertext, SealedAsCiphertext
from infrastructure.holiday_source import HolidaysPackage
from infrastructure.idempotency import SqlIdempotencyStore
from infrastructure.keystore import Keystore
from infrastructure.language import LinguaDetector
from infrastructure.message_rows import MessageLogAsRows
from infrastructure.settings import Settings, secret_key_for
from infrastructure.sql import SqlDatabase
from infrastructure.tokens import TokenStore, token_key
from infrastructure.views.registry import VIEWS


@dataclass
class Atende:
    """Everything a process needs, built once per process (after gunicorn forks)."""

    settings: Settings
    tickets: TicketApplication
    tokens: TokenStore
    idempotency: IdempotencyStore
    db: SqlDatabase
    sla_config: SlaConfiguration
    audit: AuditTrail
    eraser: CustomerEraser
    keys: KeyRing
    views: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        self.tickets.close()

    def warm_up(self) -> None:
        detector = self.tickets.language.detector
        if detector is not None:
            detector.warm_up()


def customer_namespace(secret_key: bytes) -> UUID:
    """A namespace for customer ids that only this deployment can compute."""
    digest = hmac.new(secret_key, b"atende/customer-namespace", hashlib.sha256).digest()
    return UUID(bytes=digest[:16])


def survey_key(secret_key: bytes) -> bytes:
    """The key that authenticates survey links (application.surveys)."""
    return hmac.new(secret_key, b"atende/survey-links", hashlib.sha256).digest()


def checkpoint_key(secret_key: bytes) -> bytes:
    """The key that signs checkpoints of the audit chain (application.audit)."""
    return hmac.new(secret_key, b"atende/audit-checkpoints", hashlib.sha256).digest()


def personal_transcodings(keyring: KeyRing) -> list[Transcoding]:
    """How personal data is stored: sealed with its owner's key, loaded values stored back
    as they were loaded, and a ticket's messages as rows of sealed bodies."""
    personal = PersonalAsCiphertext(keyring)
    return [personal, SealedAsCiphertext(keyring), MessageLogAsRows(personal)]


def bootstrap(settings: Settings | None = None) -> Atende:
    settings = settings or Settings.from_env()
    # Snapshots keep as-of reads of long tickets fast (TicketApplication.snapshotting_intervals).
    env = {**settings.eventsourcing_env(), "IS_SNAPSHOTTING_ENABLED": "y"}
    factory = InfrastructureFactory.construct(Environment(TicketApplication.name, env))
    db = SqlDatabase(factory.datastore)
    secret_key = secret_key_for(settings)
    keyring = KeyRing(db, secret_key, Keystore(settings.keystore_path(), secret_key))
    idempotency = SqlIdempotencyStore(db)
    tokens = TokenStore(db, token_key(secret_key))
    views = {name: kind.make(factory.datastore) for name, kind in VIEWS.items()}
    tickets = TicketApplication(
        factory=factory,
        personal_transcodings=personal_transcodings(keyring),
        idempotency=idempotency,
        customer_namespace=customer_namespace(secret_key),
        language=LanguagePolicy(
            detector=detector_for(settings.languages),
            threshold=settings.language_threshold,
            default=settings.default_language,
            known_language=views["ticket_list"].latest_language,
        ),
        survey_key=survey_key(secret_key),
        survey_ttl=settings.survey_ttl,
    )
    audit_log = AuditLog(db, tickets.recorder.events_table_name)
    with db.schema_lock():
        db.ensure_schema()
        tickets.recorder.create_table()
        tickets.snapshots.recorder.create_table()
        for store in (keyring, idempotency, tokens, audit_log, *views.values()):
            store.create_table()
    return Atende(
        settings=settings,
        tickets=tickets,
        tokens=tokens,
        idempotency=idempotency,
        db=db,
        sla_config=SlaConfiguration(tickets, HolidaysPackage()),
        audit=AuditTrail(
            tickets, audit_log, checkpoint_key(secret_key), settings.checkpoint_path()
        ),
        eraser=CustomerEraser(tickets, keyring, views["ticket_list"].ticket_ids_of),
        keys=keyring,
        views=views,
    )


@lru_cache(maxsize=4)
def detector_for(languages: tuple[str, ...]) -> LinguaDetector:
    """One detector per process and language set: its models take memory and a moment
    to load, and it is safe to share between threads."""
    return LinguaDetector(languages)
