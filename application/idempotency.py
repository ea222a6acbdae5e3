"""Idempotency keys: a retried request returns the first answer and writes nothing new."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class IdempotencyClaim:
    """A request that carries an Idempotency-Key, scoped to the principal that sent it.
    ``seal_key`` (derived by the store from the deployment secret and the three fields)
    seals the outcome written for it; it is never stored."""

    principal: str
    key: str
    fingerprint: str
    seal_key: bytes = field(default=b"", repr=False, compare=False)


@dataclass(frozen=True)
class IdempotencyOutcome:
    """What the first request produced. Only references are kept (the aggregate the
    answer is about, a ticket, agent, survey or erasure, and its version), never the
    response body, so no personal data sits in the idempotency table."""

    claim: IdempotencyClaim
    status: int
    resource_id: UUID
    version: int


def outcome_of(
    claim: IdempotencyClaim | None, status: int, aggregate: Any
) -> IdempotencyOutcome | None:
    """The outcome to save with ``aggregate``'s new events (None without a key)."""
    if claim is None:
        return None
    return IdempotencyOutcome(claim, status, aggregate.id, aggregate.version)


@dataclass(frozen=True)
class PreviousAttempt:
    fingerprint: str
    in_flight: bool
    status: int | None
    resource_id: UUID | None
    version: int | None
    sealed: bool = False  # the row is as Atende wrote it (its seal verifies)


class IdempotencyStore(ABC):
    """Where keys are reserved, completed and released; what it stores of a request is a
    keyed fingerprint, never the request itself."""

    @abstractmethod
    def fingerprint(self, request: bytes) -> str:
        """A digest of a request, keyed by a deployment secret: whoever reads the store
        cannot confirm a guessed request body (erased text) against it."""

    @abstractmethod
    def claim(self, principal: str, key: str, request: bytes) -> IdempotencyClaim:
        """The claim of ``principal``'s request under ``key``, ready to seal its outcome."""

    @abstractmethod
    def reserve(self, claim: IdempotencyClaim) -> PreviousAttempt | None:
        """Reserve the key; None when reserved, else what an earlier request left."""

    @abstractmethod
    def complete(self, outcome: IdempotencyOutcome) -> None:
        """Record the outcome of a command that wrote no events."""

    @abstractmethod
    def release(self, claim: IdempotencyClaim) -> None:
        """Forget an in-flight reservation whose request failed (4xx/5xx are not kept)."""

    @abstractmethod
    def unsealed_rows(self) -> list[str]:
        """``principal:key`` of answered rows whose seal does not verify (for audit verify)."""
