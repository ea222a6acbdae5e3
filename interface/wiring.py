"""The one composition root: settings in, a wired Atende out, and from it the HTTP app
(gunicorn's ``get_app``) and the projector's work. Everything else only implements;
this is where parts are chosen and connected."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from functools import lru_cache, partial
from typing import Any
from uuid import UUID

import falcon
from eventsourcing.persistence import InfrastructureFactory, Tracking, Transcoding
from eventsourcing.utils import Environment

from application.agents import AgentDirectory
from application.audit import AuditTrail
from application.customers import CustomerDirectory
from application.email_records import EmailRecords
from application.erasure import CustomerEraser
from application.follow_up import FollowUpPolicy
from application.intake import Intake
from application.integrity import side_table_break
from application.kb import KnowledgeBase
from application.language import LanguagePolicy
from application.router import Router
from application.sla import SlaTimekeeper
from application.sla_config import SlaConfiguration
from application.surveys import SurveyDesk
from application.ticket_commands import TicketCommands
from application.tickets import TicketApplication
from application.tokens import ApiTokens
from application.webhooks import WebhookSubscriptions
from infrastructure.access_log import AccessLog
from infrastructure.access_log_file import (
    access_log_database,
    move_into_own_file,
    pin_file_origin,
)
from infrastructure.anchors import AnchorFile, AnchorSigner
from infrastructure.audit_log import AuditLog
from infrastructure.crypto import KeyRing, PersonalAsCiphertext, SealedAsCiphertext
from infrastructure.derived_keys import (
    access_log_seal_key,
    checkpoint_key,
    customer_namespace,
    idempotency_key,
    link_seal_key,
    snapshot_seal_key,
    survey_key,
    webhook_secret_key,
)
from infrastructure.heartbeat import Heartbeats, ProjectorHeartbeat, WriteProbe
from infrastructure.holiday_source import HolidaysPackage
from infrastructure.idempotency import SqlIdempotencyStore
from infrastructure.key_rotation import add_key_rotation_job
from infrastructure.keystore import Keystore
from infrastructure.language import LinguaDetector
from infrastructure.message_rows import MessageLogAsRows
from infrastructure.outbound.email_dispatch import EmailDispatcher
from infrastructure.outbound.nats_stream import NatsStream
from infrastructure.outbound.outbox import RetryPolicy, notifications_at
from infrastructure.outbound.secret_box import AesGcmSecretBox
from infrastructure.outbound.stream_view import StreamView, stream_tracking
from infrastructure.outbound.webhook_client import WebhookSender, check_destination, new_secret
from infrastructure.outbound.webhook_dispatch import WebhookDispatcher
from infrastructure.outbound.webhook_view import email_view, webhook_view
from infrastructure.projector import Projector, RoutingFollower, ViewFollower, add_checkpoint_job
from infrastructure.recorders import LINK_SEAL_KEY, SNAPSHOT_SEAL_KEY
from infrastructure.retention import add_retention_job
from infrastructure.scheduler import FollowUpScheduler, SlaScheduler
from infrastructure.settings import Settings, secret_key_for
from infrastructure.shared_log import KEEP_EVENTS, SharedLog
from infrastructure.sql import SqlDatabase
from infrastructure.tokens import SqlTokenIndex, token_key
from infrastructure.verify_workers import ProcessRanges
from infrastructure.view_failures import ViewFailures
from infrastructure.views.registry import VIEWS, Views
from interface.container import Atende
from interface.events.catalogue import BY_TYPE
from interface.http.app import create_app
from interface.http.schemas.events import event_as_fed
from projections.base import RowView
from projections.email import EmailOutboxProjection
from projections.stream import StreamProjection
from projections.webhooks import WebhookDeliveryProjection


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
    token_index = SqlTokenIndex(db, token_key(secret_key))
    views = Views.make(factory.datastore)
    webhook_deliveries = webhook_view(factory.datastore)
    email_deliveries = email_view(factory.datastore)
    outbound: dict[str, Any] = {"outbound_webhooks": webhook_deliveries}
    if settings.smtp:
        outbound["outbound_email"] = email_deliveries
    if settings.nats_url:
        outbound["outbound_nats"] = stream_tracking(factory.datastore)
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
    tokens = ApiTokens(
        tickets,
        token_index,
        token_key(secret_key),
        agent_status=tickets.agents.check_active,
        default_ttl=settings.token_default_expiry,
    )
    audit_log = AuditLog(db, tickets.recorder.events_table_name)
    access_log = AccessLog(access_log_database(db), access_log_seal_key(secret_key))
    with db.schema_lock():
        db.ensure_schema()
        tickets.recorder.create_table()
        # After the events table, before the views: numbering the tickets of a database
        # made before numbers were dense renumbers these views' rows with them.
        tickets.recorder.numbers.create_table(renumbered=[views.queue.t, views.ticket_list.t])
        tickets.snapshots.recorder.create_table()
        stores = (
            keyring, idempotency, token_index, audit_log, access_log, view_failures, heartbeats,
            write_probe,
        )  # fmt: skip
        # The outbox tables always (they cost nothing idle); the stream's tracking when on.
        followed = {id(s): s for s in (webhook_deliveries, email_deliveries, *outbound.values())}
        for store in (*stores, *views.values(), *followed.values()):
            store.create_table()
        move_into_own_file(db, access_log)  # a SQLite database's from before it had one
        pin_file_origin(db, access_log)
        tokens.import_legacy()  # tokens from before tokens were events (issue 20)
    kb = KnowledgeBase(
        tickets, audit_log, languages=settings.languages, default_language=settings.default_language
    )
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
        ticket_commands=TicketCommands(tickets, kb),
        intake=Intake(tickets),
        outbound=outbound,
        webhooks=WebhookSubscriptions(
            tickets,
            AesGcmSecretBox(webhook_secret_key(secret_key)),
            event_types=subscribable_event_types(),
            check_destination=partial(
                check_destination, allow_private=settings.webhook_allow_private
            ),
            new_secret=new_secret,
        ),
        webhook_deliveries=webhook_deliveries,
        email_records=EmailRecords(tickets, find_notice=partial(notice_of, email_deliveries)),
        email_deliveries=email_deliveries,
        kb=kb,
    )


@lru_cache(maxsize=4)
def detector_for(languages: tuple[str, ...]) -> LinguaDetector:
    """One detector per process and language set: its models take memory and a moment
    to load, and it is safe to share between threads."""
    return LinguaDetector(languages)


def get_app() -> falcon.App:
    """Called by gunicorn in each worker, after the fork, so every worker opens its
    own database connections."""
    atende = bootstrap()
    # Load the language models now, in the background, rather than in the first request
    # that needs a detection (about half a second).
    threading.Thread(target=atende.warm_up, name="warm-up", daemon=True).start()
    return create_app(atende)


def build_projector(atende: Atende) -> Projector:
    """A follower per view; the routing view's also routes once caught up, and the SLA
    view's wakes the SLA clock when a batch brings a due time nearer. The follow-up
    scheduler also runs the audit checkpoints, key rotation and retention purges."""
    settings, tickets, views = atende.settings, atende.tickets, atende.views
    atende.keys.gather_sighted()  # the views decipher customers' values batch by batch
    batch = settings.projector_batch_size
    pace = settings.projector_pace_ms / 1000
    clock = SlaScheduler(tickets, views.sla)
    log = SharedLog(tickets.recorder, tickets.mapper, keep=max(KEEP_EVENTS, 2 * batch))

    def follower(name: str, view: RowView[Any]) -> ViewFollower:
        projection = VIEWS[name].projection(view=view)
        if view is views.routing:
            return RoutingFollower(
                tickets, projection, batch, pace_seconds=pace, log=log,
                router=Router(tickets, view),
            )  # fmt: skip
        return ViewFollower(tickets, projection, batch, pace_seconds=pace, log=log)

    followers = {name: follower(name, view) for name, view in views.items()}
    followers["sla"].after_batch = lambda: clock.wake_if_earlier(views.sla.next_due())
    dispatcher = WebhookDispatcher(
        atende.webhooks,
        atende.webhook_deliveries,
        WebhookSender(allow_private=settings.webhook_allow_private),
        partial(delivery_bodies, tickets),
        RetryPolicy(settings.webhook_first_retry, settings.webhook_retry_for),
    )
    followers["outbound_webhooks"] = ViewFollower(
        tickets,
        WebhookDeliveryProjection(atende.webhook_deliveries),
        batch,
        pace_seconds=pace,
        after_batch=dispatcher.wake,
        log=log,
    )
    services = {"webhook-dispatcher": dispatcher.run}
    if settings.smtp and settings.mail_from:
        mail = EmailDispatcher(
            tickets,
            atende.email_deliveries,
            settings.smtp,
            settings.mail_from,
            settings.system_texts(),
            atende.email_records.record_batch,
            RetryPolicy(settings.mail_first_retry, settings.mail_retry_for),
            public_url=settings.public_url,
        )
        start_at_the_head(atende.email_deliveries, tickets)
        followers["outbound_email"] = ViewFollower(
            tickets,
            EmailOutboxProjection(
                atende.email_deliveries, invitations=settings.public_url is not None
            ),
            batch,
            pace_seconds=pace,
            after_batch=mail.wake,
            log=log,
        )
        services["email-dispatcher"] = mail.run
    connections = []
    if settings.nats_url:
        stream = NatsStream(settings.nats_url, settings.nats_stream, settings.nats_subject_prefix)
        connections.append(stream)
        projection = StreamProjection(
            StreamView(atende.outbound["outbound_nats"], stream),
            shape=event_as_fed,
            subject_prefix=settings.nats_subject_prefix,
        )
        followers["outbound_nats"] = ViewFollower(
            tickets, projection, batch, pace_seconds=pace, log=log
        )
    follow_up = FollowUpScheduler(
        tickets,
        views.follow_up,
        FollowUpPolicy(
            close_after=settings.auto_close_after,
            remind_after=settings.pending_reminder_after,
            resolve_after=settings.pending_resolve_after,
        ),
        settings.follow_up_interval,
        texts=settings.system_texts(),
    )
    add_checkpoint_job(follow_up.scheduler, atende.audit.anchor_if_due)
    add_key_rotation_job(follow_up.scheduler, atende)
    add_retention_job(follow_up.scheduler, atende)
    return Projector(
        followers,
        clock,
        follow_up,
        ProjectorHeartbeat(atende.heartbeats),
        atende.view_failures,
        connections,
        services=services,
    )


def notice_of(outbox: Any, delivery_id: str) -> tuple[UUID, str] | None:
    """The ticket and kind of an email the outbox sent (a bounce names it)."""
    row = outbox.delivery(delivery_id)
    return None if row is None else (UUID(row["ordering_key"]), row["event_type"])


def start_at_the_head(view: Any, tickets: TicketApplication) -> None:
    """A follower that has never run starts at the log's head: turning email on sends
    what happens from then on, not every reply ever recorded."""
    if view.max_tracking_id(tickets.name) is None:
        head = tickets.head_position()
        if head:
            view.insert_tracking(Tracking(tickets.name, head))


def subscribable_event_types() -> set[str]:
    """What a webhook subscription may name: each event type alone (``message_added``),
    and each with its aggregate (``ticket.opened``, where ``opened`` alone also takes a
    calendar's or an agent's)."""
    return {t for _, t in BY_TYPE} | {f"{a}.{t}" for a, t in BY_TYPE}


def delivery_bodies(tickets: TicketApplication, positions: Sequence[int]) -> dict[int, bytes]:
    """The events at ``positions`` as the feed shows them, as webhooks deliver them: read
    when they are sent, so a customer erased meanwhile reads ``[erased]`` there too."""
    bodies = {}
    for position, stored in notifications_at(tickets.recorder, positions).items():
        event = event_as_fed(tickets.mapper.to_domain_event(stored), position)
        bodies[position] = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    return bodies


def run_projector(atende: Atende, stop: threading.Event) -> None:
    """Follow every view, and run the SLA clock and the scheduled jobs, until ``stop``."""
    build_projector(atende).run(stop)
