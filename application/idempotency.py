"""Idempotency keys: a retried request returns the first answer and writes nothing new."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class IdempotencyClaim:
    """A request that carries an Idempotency-Key, scoped to the principal that sent it."""

    principal: str
    key: str
    fingerprint: str


@dataclass(frozen=True)
class IdempotencyOutcome:
    """What the first request produced. Only references are kept (ticket id and version),
    never the response body, so no personal data sits in the idempotency table."""

    claim: IdempotencyClaim
    status: int
    resource_id: UUID
    version: int


@dataclass(frozen=True)
class PreviousAttempt:
    fingerprint: str
    in_flight: bool
    status: int | None
    resource_id: UUID | None
    version: int | None


class IdempotencyStore(ABC):
    @abstractmethod
    def reserve(self, claim: IdempotencyClaim) -> PreviousAttempt | None:
        """Reserve the key; None when reserved, else what an earlier request left."""

    @abstractmethod
    def complete(self, outcome: IdempotencyOutcome) -> None:
        """Record the outcome of a command that wrote no events."""

    @abstractmethod
    def release(self, claim: IdempotencyClaim) -> None:
        """Forget an in-flight reservation whose request failed (4xx/5xx are not kept)."""
