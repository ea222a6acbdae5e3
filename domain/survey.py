"""The satisfaction survey a resolution issues: one per resolution, rated by the
customer through a link that carries a random token (only the token's hash is stored).

A survey lives on its own aggregate, beside its ticket (Clarification 7): the
customer's rating is not a change to the ticket, and must not move its ETag.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.actor import SYSTEM, Actor
from domain.personal import Personal
from domain.stamped import StampedEvent

RATINGS = range(1, 6)
SATISFIED = (4, 5)  # CSAT counts these as satisfied
MAX_COMMENT_CHARS = 5000
# The customer who follows the link; they have no token, so no principal of their own.
CUSTOMER = Actor(id="customer", name="customer (survey link)", role="customer")

QUESTIONS = {
    "es": "¿Cómo calificaría la atención que recibió?",
    "pt": "Como você avalia o atendimento que recebeu?",
    "en": "How would you rate the help you received?",
}
SCALES = {
    "es": {"1": "Muy mala", "5": "Excelente"},
    "pt": {"1": "Muito ruim", "5": "Excelente"},
    "en": {"1": "Very poor", "5": "Excellent"},
}
FALLBACK_LANGUAGE = "en"


class Survey(Aggregate):
    """Issued when a ticket is resolved; rated (and re-rated) until it expires or the
    ticket is reopened, which voids it. Its id is chosen by the resolution that
    issues it (``Survey.issue(survey_id, ...)``)."""

    class Event(StampedEvent):
        """Events that record when the rating or voiding happened."""

    @event("Issued")
    def __init__(
        self,
        ticket_id: UUID,
        customer_id: UUID,
        token_hash: str,
        expires_at: datetime,
        language: str | None,
        agent_id: str | None,
        channel: str,
        category: str | None,
        actor: Actor,
    ):
        # The agent, channel, language and category are what the survey asks about, as
        # they were at the resolution: reports group by them.
        self.ticket_id = ticket_id
        self.customer_id = customer_id
        self.token_hash = token_hash
        self.expires_at = expires_at
        self.language = language
        self.agent_id = agent_id
        self.channel = channel
        self.category = category
        self.rating: int | None = None
        self.comment: Personal | None = None
        self.rated_at: datetime | None = None
        self.voided_at: datetime | None = None

    @classmethod
    def issue(cls, survey_id: UUID, **issued: Any) -> Survey:
        """A new survey under the id its resolution chose."""
        return cls._create(cls.Issued, id=survey_id, **issued)

    # Queries

    def state(self, now: datetime) -> str:
        """``open``, ``rated`` (still replaceable), ``expired`` or ``voided``."""
        if self.voided_at is not None:
            return "voided"
        if now >= self.expires_at:
            return "expired"
        return "open" if self.rating is None else "rated"

    def accepts(self, token: str) -> bool:
        return hmac.compare_digest(self.token_hash, token_hash(token))

    @property
    def question_language(self) -> str:
        primary = (self.language or "").split("-")[0].lower()
        return primary if primary in QUESTIONS else FALLBACK_LANGUAGE

    # Commands

    def rate(self, rating: int, comment: str | None, now: datetime) -> bool:
        """Record the rating (or replace it, inside the window). False when it is the
        same answer again, which records nothing."""
        state = self.state(now)
        if state in ("expired", "voided"):
            raise SurveyClosed(self.id, state)
        if isinstance(rating, bool) or not isinstance(rating, int) or rating not in RATINGS:
            raise ValueError(f"rating must be one of 1..5, not {rating!r}")
        if self.rating == rating and _text(self.comment) == comment:
            return False
        self._rated(
            rating=rating,
            comment=None if comment is None else Personal(self.customer_id, comment),
            previous_rating=self.rating,
            actor=CUSTOMER,
        )
        return True

    def void(self, reason: str, actor: Actor = SYSTEM) -> None:
        """The ticket was reopened: this resolution's survey takes no more answers. A
        rating already given stays counted (it was the customer's word on it)."""
        if self.voided_at is None:
            self._voided(reason=reason, actor=actor)

    # Events

    @event("Rated")
    def _rated(
        self, rating: int, comment: Personal | None, previous_rating: int | None, actor: Actor
    ) -> None:
        # previous_rating: a replacement says what it replaces, so a view adjusts its
        # sums from the event alone.
        self.rating = rating
        self.comment = comment
        self.rated_at = self.modified_on

    @event("Voided")
    def _voided(self, reason: str, actor: Actor) -> None:
        self.voided_at = self.modified_on


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _text(value: Personal | None) -> str | None:
    return None if value is None else value.text


class SurveyClosed(Exception):
    """The survey no longer takes answers (expired, or voided by a reopen)."""

    def __init__(self, survey_id: UUID, state: str):
        super().__init__(f"survey {survey_id} is {state}")
        self.survey_id, self.state = survey_id, state
