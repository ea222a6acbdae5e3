"""Satisfaction surveys: issued with each resolution, voided by a reopen, in the same
save as the ticket's events; shown and rated through a link that needs no bearer token.

The link's token is random (the survey's uuid4 id) and authenticated (an HMAC of it
with a deployment key), and only its SHA-256 is stored. The id inside it finds the
survey directly, with no token table; the HMAC lets the server give the link again to
an integrator who sends it later, without ever storing it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from application.errors import SurveyNotFound
from application.idempotency import IdempotencyClaim, outcome_of
from application.ports import AnswersOnce
from application.retries import Save, save_with_retries
from domain.actor import SYSTEM
from domain.survey import Survey, token_hash
from domain.ticket import Ticket

DEFAULT_SURVEY_TTL = timedelta(days=7)
_MAC_BYTES = 16
RATE_RETRIES = 5


@dataclass(frozen=True)
class SurveyLink:
    survey_id: UUID
    token: str

    @property
    def path(self) -> str:
        return f"/v1/surveys/{self.token}"


class SurveyDesk:
    """What the ticket application needs of surveys."""

    def __init__(self, app: AnswersOnce, key: bytes, ttl: timedelta = DEFAULT_SURVEY_TTL):
        self.app, self._key, self.ttl = app, key, ttl

    # Following ticket commands

    def follow(self, ticket: Ticket) -> list[Survey]:
        """The surveys the ticket's pending events issue or void, to save with them."""
        changed: dict[UUID, Survey] = {}
        for pending in ticket.pending_events:
            if isinstance(pending, Ticket.Resolved) and pending.survey_id is not None:
                changed[pending.survey_id] = self._issue(ticket, pending)
            elif isinstance(pending, Ticket.Reopened) and ticket.survey_id is not None:
                survey = changed.get(ticket.survey_id) or self.find(ticket.survey_id)
                if survey is not None:
                    survey.void("ticket reopened", SYSTEM)
                    changed[survey.id] = survey
        return [s for s in changed.values() if s.pending_events]

    def _issue(self, ticket: Ticket, resolved: Ticket.Resolved) -> Survey:
        link = self.link_for(resolved.survey_id)
        return Survey.issue(
            resolved.survey_id,
            ticket_id=ticket.id,
            customer_id=ticket.customer_id,
            token_hash=token_hash(link.token),
            expires_at=resolved.timestamp + self.ttl,
            language=ticket.language,
            agent_id=ticket.assignee,
            channel=ticket.channel,
            category=ticket.category,
            actor=SYSTEM,
        )

    # Links

    def link_for(self, survey_id: UUID) -> SurveyLink:
        mac = hmac.new(self._key, survey_id.bytes, hashlib.sha256).digest()[:_MAC_BYTES]
        token = base64.urlsafe_b64encode(survey_id.bytes + mac).rstrip(b"=").decode()
        return SurveyLink(survey_id, token)

    def by_token(self, token: str) -> Survey:
        """The survey the link is for; SurveyNotFound for anything else."""
        survey_id = self._survey_id_of(token)
        survey = None if survey_id is None else self.find(survey_id)
        if survey is None or not survey.accepts(token):
            raise SurveyNotFound()
        return survey

    def _survey_id_of(self, token: str) -> UUID | None:
        if len(token) != 43:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=")
        except (binascii.Error, ValueError):
            return None
        survey_id = UUID(bytes=raw[:16])
        if not hmac.compare_digest(self.link_for(survey_id).token, token):
            return None  # forged or mistyped: no database read
        return survey_id

    # Reads and the customer's answer

    def find(self, survey_id: UUID) -> Survey | None:
        try:
            found = self.app.repository.get(survey_id)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Survey) else None

    def of_ticket(self, ticket: Ticket) -> Survey | None:
        return None if ticket.survey_id is None else self.find(ticket.survey_id)

    def rate(
        self,
        token: str,
        rating: int,
        comment: str | None,
        now: datetime | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> tuple[Survey, int]:
        """Record the customer's answer; returns the survey and the global position of
        what was written (or of the survey as it stands, when nothing was).
        ``idempotency`` is completed with the same."""
        now = now or datetime.now(UTC)

        # A concurrent answer (a double click) that wins the race is answered after.
        def attempt() -> tuple[Survey, int] | Save[tuple[Survey, int]]:
            survey = self.by_token(token)
            changed = survey.rate(rating, comment, now)
            outcome = outcome_of(idempotency, 200, survey)
            if not changed:
                if outcome is not None:
                    self.app.idempotency.complete(outcome)
                return survey, self.app.recorder.position_of(survey.id, survey.version)

            def write() -> tuple[Survey, int]:
                recordings = self.app.save(survey, idempotency=outcome)
                return survey, recordings[-1].notification.id

            return Save(write)

        return save_with_retries(attempt, what="the survey", retries=RATE_RETRIES)
