"""The ApiToken aggregate: one credential's life, as events (issue 20).

Issuing, rotating and revoking a token are events in the same log as tickets, so the
audit trail shows who could act when and `atende audit verify` covers them. The secret
itself is never recorded: each event holds the keyed hash of a secret and a seal over
what the secret grants (computed by application.tokens with the deployment's key), so an
event forged or edited in the database, without that key, authenticates nobody.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor


class TokenRevoked(Exception):
    def __init__(self, token_id: UUID):
        super().__init__(f"token {token_id} is revoked")
        self.token_id = token_id


class TokenExpired(Exception):
    def __init__(self, token_id: UUID):
        super().__init__(f"token {token_id} has expired")
        self.token_id = token_id


def grant_fields(
    role: str, agent_id: str | None, expires_at: datetime | None, on_behalf: bool
) -> list[Any]:
    """What a token's secret grants, as the seal covers it."""
    return [role, agent_id, None if expires_at is None else expires_at.isoformat(), on_behalf]


class ApiToken(Aggregate):
    """A bearer credential: a name, a role, optionally an agent it acts as and an expiry.

    ``secrets`` maps each accepted secret's hash to the instant it stops being accepted
    (None: until the token is rotated or revoked). A rotation adds the new secret and
    gives the old ones the grace period's end, so clients can move over without an
    outage."""

    @staticmethod
    def create_id(token_id: UUID, **_: Any) -> UUID:
        # Chosen by the caller: the seal over the first secret names the token's id.
        return token_id

    @event("Issued")
    def __init__(
        self,
        token_id: UUID,
        name: str,
        role: str,
        agent_id: str | None,
        expires_at: datetime | None,
        secret_hash: str,
        seal: str,
        legacy: bool,
        issued_at: datetime,
        actor: Actor,
        on_behalf: bool = False,
    ):
        self.name = name
        # An integrator's grant to name an agent as a message's author (a chat platform
        # relaying an agent's reply, issue 20).
        self.on_behalf = on_behalf
        # When the secret was first handed out (a legacy token's row says; the import's
        # own event is later).
        self.issued_at = issued_at
        self.role = role
        self.agent_id = agent_id
        self.expires_at = expires_at
        self.secrets: dict[str, datetime | None] = {secret_hash: None}
        self.seals: dict[str, str] = {secret_hash: seal}
        # Issued before tokens were events (imported from the api_tokens table).
        self.legacy = legacy
        self.revoked_at: datetime | None = None
        self.revoked_by: str | None = None

    def grants(self) -> list[Any]:
        return grant_fields(self.role, self.agent_id, self.expires_at, self.on_behalf)

    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def has_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def accepts(self, secret_hash: str, now: datetime) -> bool:
        """Whether this secret (by its hash) lets its holder act now. The seal is checked
        by the caller, who holds the key."""
        if self.is_revoked() or self.has_expired(now) or secret_hash not in self.secrets:
            return False
        until = self.secrets[secret_hash]
        return until is None or now < until

    # Commands

    def revoke(self, at: datetime, actor: Actor) -> bool:
        """Stop the token for good. Revoking a revoked token records nothing (False)."""
        if self.is_revoked():
            return False
        self._revoked(at=at, actor=actor)
        return True

    def rotate(
        self, secret_hash: str, seal: str, old_valid_until: datetime, now: datetime, actor: Actor
    ) -> None:
        """Accept a new secret; the current ones stay valid until ``old_valid_until``
        (``now`` for none at all)."""
        if self.is_revoked():
            raise TokenRevoked(self.id)
        if self.has_expired(now):
            raise TokenExpired(self.id)
        self._rotated(
            secret_hash=secret_hash, seal=seal, old_valid_until=old_valid_until, actor=actor
        )

    @event("Revoked")
    def _revoked(self, at: datetime, actor: Actor) -> None:
        self.revoked_at = at
        self.revoked_by = actor.id

    @event("Rotated")
    def _rotated(
        self, secret_hash: str, seal: str, old_valid_until: datetime, actor: Actor
    ) -> None:
        for old, until in self.secrets.items():
            if until is None or until > old_valid_until:
                self.secrets[old] = old_valid_until
        self.secrets[secret_hash] = None
        self.seals[secret_hash] = seal
