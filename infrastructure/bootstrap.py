"""The one wiring point: settings in, a ready Atende (application, stores) out."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache
from uuid import UUID

from eventsourcing.persistence import InfrastructureFactory, Transcoding
from eventsourcing.utils import Environment

from application.agents import AgentDirectory
from application.audit import AuditTrail
from application.customers import CustomerDirectory
from application.erasure import CustomerEraser
from application.idempotency import IdempotencyStore
from application.integrity import side_table_break
from application.language import LanguagePolicy
from application.sla import SlaTimekeeper
from application.sla_config import SlaConfiguration
from application.surveys import SurveyDesk
from application.tickets import TicketApplication
from infrastructure.access_log import AccessLog
from infrastructure.anchors import AnchorFile, AnchorSigner
from infrastructure.audit_log import AuditLog
from infrastructure.crypto import KeyRing, PersonalAsCiphertext, SealedAsCiphertext
from infrastructure.heartbeat import Heartbeats, WriteProbe
from infrastructure.holiday_source import HolidaysPackage
from infrastructure.idempotency import SqlIdempotencyStore
from infrastructure.keystore import Keystore
from infrastructure.language import LinguaDetector
from infrastructure.message_rows import MessageLogAsRows
from infrastructure.recorders import LINK_SEAL_KEY, SNAPSHOT_SEAL_KEY
from infrastructure.settings import Settings, secret_key_for
from infrastructure.sql import SqlDatabase
from infrastructure.tokens import TokenStore, token_key
from infrastructure.verify_workers import ProcessRanges
from infrastructure.view_failures import ViewFailures
from infrastructure.views.registry import Views


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
    access_log: AccessLog
    eraser: CustomerEraser
    keys: KeyRing
    view_failures: ViewFailures
    heartbeats: Heartbeats
    write_probe: WriteProbe
    views: Views

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


def snapshot_seal_key(secret_key: bytes) -> bytes:
    """The key that seals snapshots (infrastructure.snapshot_seals)."""
    return hmac.new(secret_key, b"atende/snapshot-seals", hashlib.sha256).digest()


def link_seal_key(secret_key: bytes) -> bytes:
    """The key that seals each event's hash record (domain.audit_chain.link_seal)."""
    return hmac.new(secret_key, b"atende/link-seals", hashlib.sha256).digest()


def access_log_seal_key(secret_key: bytes) -> bytes:
    """The key that seals the access log's hash chain (infrastructure.access_log_chain)."""
    return hmac.new(secret_key, b"atende/access-log-seals", hashlib.sha256).digest()


def idempotency_key(secret_key: bytes) -> bytes:
    """The key of request fingerprints in the idempotency table (infrastructure.idempotency)."""
    return hmac.new(secret_key, b"atende/idempotency-fingerprints", hashlib.sha256).digest()


def personal_transcodings(keyring: KeyRing) -> list[Transcoding]:
    """How personal data is stored: sealed with its owner's key, loaded values stored back
    as they were loaded, and a ticket's messages as rows of sealed bodies."""
    personal = PersonalAsCiphertext(keyring)
    return [personal, SealedAsCiphertext(keyring), MessageLogAsRows(personal)]


def bootstrap(settings: Settings | None = None) -> Atende:
    settings = settings or Settings.from_env()
    secret_key = secret_key_for(settings)
    # Snapshots keep as-of reads of long tickets fast (TicketApplication.snapshotting_intervals);
    # they are sealed, so one edited in the database is never used (infrastructure/recorders.py).
    # Computed once: on SQLite it opens and closes the database file, and a close in a
    # process that has the database open drops that process's locks on it (POSIX).
    database_env = settings.eventsourcing_env()
    env = {
        **database_env,
        "IS_SNAPSHOTTING_ENABLED": "y",
        SNAPSHOT_SEAL_KEY: snapshot_seal_key(secret_key).hex(),
        LINK_SEAL_KEY: link_seal_key(secret_key).hex(),
    }
    factory = InfrastructureFactory.construct(Environment(TicketApplication.name, env))
    db = SqlDatabase(factory.datastore)
    keyring = KeyRing(db, secret_key, Keystore(settings.keystore_path(), secret_key))
    idempotency = SqlIdempotencyStore(
        db, idempotency_key(secret_key), settings.idempotency_retention
    )
    tokens = TokenStore(db, token_key(secret_key))
    views = Views.make(factory.datastore)
    view_failures = ViewFailures(db)
    heartbeats = Heartbeats(db)
    write_probe = WriteProbe(db)
    tickets = TicketApplication(
        factory=factory,
        personal_transcodings=personal_transcodings(keyring),
        idempotency=idempotency,
        customer_namespace=customer_namespace(secret_key),
    )
    tickets.attach(
        sla=SlaTimekeeper(tickets),
        agents=AgentDirectory(tickets, held_by=views.routing.held_by),
        customers=CustomerDirectory(tickets),
        surveys=SurveyDesk(tickets, survey_key(secret_key), settings.survey_ttl),
        language=LanguagePolicy(
            detector=detector_for(settings.languages),
            threshold=settings.language_threshold,
            default=settings.default_language,
            known_language=views.ticket_list.latest_language,
        ),
    )
    audit_log = AuditLog(db, tickets.recorder.events_table_name)
    access_log = AccessLog(db, access_log_seal_key(secret_key))
    with db.schema_lock():
        db.ensure_schema()
        tickets.recorder.create_table()
        # After the events table, before the views: numbering the tickets of a database
        # made before numbers were dense renumbers these views' rows with them.
        tickets.recorder.numbers.create_table(renumbered=[views.queue.t, views.ticket_list.t])
        tickets.snapshots.recorder.create_table()
        stores = (
            keyring, idempotency, tokens, audit_log, access_log, view_failures, heartbeats,
            write_probe,
        )  # fmt: skip
        for store in (*stores, *views.values()):
            store.create_table()
    return Atende(
        settings=settings,
        tickets=tickets,
        tokens=tokens,
        idempotency=idempotency,
        db=db,
        sla_config=SlaConfiguration(tickets, HolidaysPackage()),
        audit=AuditTrail(
            tickets,
            audit_log,
            checkpoint_key(secret_key),
            AnchorFile(settings.checkpoint_path()),
            AnchorSigner(secret_key),
            anchor_every=settings.checkpoint_interval.total_seconds(),
            link_seal_key=link_seal_key(secret_key),
            range_runner=ProcessRanges(
                database_env, TicketApplication.name, audit_log.events_table
            ),
            verify_workers=settings.verify_workers,
            parallel_from=settings.verify_parallel_from,
            side_tables=lambda: side_table_break(
                tokens,
                keyring,
                tickets.exists,
                idempotency,
                views.ticket_list.customer_ids,
                access_log,
                tickets.recorder.numbers,
            ),
        ),
        access_log=access_log,
        eraser=CustomerEraser(tickets, keyring, views.ticket_list.ticket_ids_of),
        keys=keyring,
        view_failures=view_failures,
        heartbeats=heartbeats,
        write_probe=write_probe,
        views=views,
    )


@lru_cache(maxsize=4)
def detector_for(languages: tuple[str, ...]) -> LinguaDetector:
    """One detector per process and language set: its models take memory and a moment
    to load, and it is safe to share between threads."""
    return LinguaDetector(languages)
