"""What a process of Atende holds once wired (interface/wiring.py builds it): the
ticket application, its stores and its views, one per process (after gunicorn forks)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import TrackingRecorder

from application.audit import AuditTrail
from application.email_records import EmailRecords
from application.erasure import CustomerEraser
from application.idempotency import IdempotencyStore
from application.intake import Intake
from application.kb import KnowledgeBase
from application.sla_config import SlaConfiguration
from application.ticket_commands import TicketCommands
from application.tickets import TicketApplication
from application.tokens import ApiTokens
from application.webhooks import WebhookSubscriptions
from infrastructure.access_log import AccessLog
from infrastructure.crypto import KeyRing
from infrastructure.heartbeat import Heartbeats, WriteProbe
from infrastructure.outbound.webhook_view import SqlWebhookRows
from infrastructure.settings import Settings
from infrastructure.sql import SqlDatabase
from infrastructure.view_failures import ViewFailures
from infrastructure.views.registry import Views


@dataclass
class Atende:
    """Everything a process needs, built once per process (after gunicorn forks)."""

    settings: Settings
    tickets: TicketApplication
    tokens: ApiTokens
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
    ticket_commands: TicketCommands
    intake: Intake
    webhooks: WebhookSubscriptions
    webhook_deliveries: SqlWebhookRows
    email_records: EmailRecords
    email_deliveries: SqlWebhookRows  # the email outbox: the same tables, its own follower
    kb: KnowledgeBase
    # Where each outbound destination has got to in the log (issue 22), by follower name.
    outbound: dict[str, TrackingRecorder] = field(default_factory=dict)

    @property
    def followed(self) -> Mapping[str, Any]:
        """Everything the projector follows the log into, by name: the views, then the
        outbound destinations; what status, health and metrics show."""
        return {**self.views, **self.outbound}

    def close(self) -> None:
        self.tickets.close()
        if self.access_log.db is not self.db:  # its own SQLite file (access_log_file.py)
            self.access_log.db.datastore.close()

    def warm_up(self) -> None:
        detector = self.tickets.language.detector
        if detector is not None:
            detector.warm_up()
