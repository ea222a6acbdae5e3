"""API tokens as events (issue 20): issue, list, revoke, rotate, and authenticate.

A token is an ApiToken aggregate in the ticket log; the secret is shown once and only
its keyed hash is recorded, with a seal over what it grants (id, role, agent, expiry,
hash). Authentication finds the token by the hash (a side index), reads the aggregate and
checks the seal, the revocation, the expiry and the rotation grace. An index row or an
event written by hand without the deployment's key grants nothing.

Each process remembers a successful check for ``RECHECK_SECONDS``, so a revocation or an
expiry stops a token on every worker within that (issue 20 asks for 1 s): a re-check is
one query for the token's events after the version it holds
(TicketApplication.small_aggregates).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application.errors import InvalidToken, TokenNotFound
from application.idempotency import IdempotencyClaim, outcome_of
from application.ports import AnswersOnce
from application.retries import Save, save_with_retries
from domain.actor import ROLES, SYSTEM, Actor
from domain.api_token import ApiToken, grant_fields

log = logging.getLogger("atende.tokens")
RECHECK_SECONDS = 0.5  # how stale a worker's "this token is good" may be
TOUCH_EVERY_SECONDS = 60.0  # how often "last used" is written, per token and process
DEFAULT_ROTATION_GRACE = timedelta(hours=1)
RETRIES = 5  # lost races with another change of the same token before a 409
PREFIX = "atd_"
LEGACY_NAMESPACE = uuid.UUID("7d1f5a52-3c56-4f0e-9c37-6a4f0f1c2b10")


class TokenIndex(Protocol):
    """infrastructure.tokens.SqlTokenIndex"""

    def add(self, secret_hash: str, token_id: UUID) -> None: ...
    def find(self, hashes: tuple[str, ...]) -> tuple[str, UUID] | None: ...
    def entries(self) -> list[tuple[str, str]]: ...
    def token_ids(self) -> list[UUID]: ...
    def touch(self, token_id: UUID, at: datetime) -> None: ...
    def last_used(self) -> dict[UUID, datetime]: ...
    def legacy_tokens(self) -> list[Any]: ...
    def unsealed_rows(self) -> list[str]: ...


@dataclass(frozen=True)
class IssuedToken:
    token: str  # the secret, shown once
    actor: Actor
    record: TokenRecord


@dataclass(frozen=True)
class TokenRecord:
    """What ``tokens list`` and ``GET /v1/tokens`` show of a token (never a secret)."""

    id: UUID
    name: str
    role: str
    agent_id: str | None
    on_behalf: bool
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    legacy: bool
    status: str  # active, expired or revoked


@dataclass
class _Checked:
    until: float  # monotonic: when to read the token's events again
    actor: Actor
    valid_until: datetime | None  # its expiry, or its secret's end of grace


class ApiTokens:
    def __init__(
        self,
        app: AnswersOnce,
        index: TokenIndex,
        key: bytes,
        *,
        agent_status: Callable[[str], None] = lambda agent_id: None,
        default_ttl: timedelta | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.app = app
        self.index = index
        self._key = key
        # Raises AgentNotFound / AgentInactive for an agent a token may not be bound to
        # (the agent directory's check, given by the wiring point).
        self.agent_status = agent_status
        self.default_ttl = default_ttl
        self.clock = clock
        self.recheck_seconds = RECHECK_SECONDS
        self._checked: dict[str, _Checked] = {}
        self._touched: dict[UUID, float] = {}
        self._lock = threading.Lock()

    # Issuing

    def create(
        self,
        role: str,
        name: str,
        *,
        agent_id: str | None = None,
        on_behalf: bool = False,
        expires_in: timedelta | None = None,
        expires_at: datetime | None = None,
        never_expires: bool = False,
        actor: Actor = SYSTEM,
        idempotency: IdempotencyClaim | None = None,
    ) -> IssuedToken:
        if role not in ROLES:
            raise InvalidToken("role", f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
        if not name.strip():
            raise InvalidToken("name", "must not be blank")
        if role == "agent" and agent_id is None:
            # Every new agent token is a person (issue 20); legacy ones stay unbound.
            raise InvalidToken("agent_id", "an agent token must name the agent it acts as")
        if agent_id is not None:
            if role != "agent":
                raise InvalidToken("agent_id", "only a token with role agent acts as an agent")
            self.agent_status(agent_id)
            agent_id = str(UUID(agent_id))  # as agents' ids are written everywhere else
        if on_behalf and role != "integrator":
            raise InvalidToken("on_behalf", "only an integrator token relays agents' messages")
        now = self.clock()
        expiry = self._expiry(now, expires_in, expires_at, never_expires)
        token_id = uuid.uuid4()
        secret = self._secret_for(token_id, 1, idempotency)
        secret_hash = self._hash(secret)
        seal = self._seal(token_id, grant_fields(role, agent_id, expiry, on_behalf), secret_hash)
        token = ApiToken(
            token_id=token_id,
            name=name.strip(),
            role=role,
            agent_id=agent_id,
            expires_at=expiry,
            secret_hash=secret_hash,
            seal=seal,
            legacy=False,
            issued_at=now,
            actor=actor,
            on_behalf=on_behalf,
        )
        # The index first: if the save then fails, a row points at no token and grants
        # nothing; the other way round a token would be on record that no secret reaches.
        self.index.add(secret_hash, token_id)
        self.app.save(token, idempotency=outcome_of(idempotency, 201, token))
        return IssuedToken(token=secret, actor=self._actor(token), record=self._record(token))

    def issued_again(self, token_id: UUID, version: int, claim: IdempotencyClaim) -> IssuedToken:
        """The answer a creation or rotation with an Idempotency-Key gave, for a retry: the
        token as that command left it, and the same secret, made again from the key (it
        was never stored)."""
        token = self.app.small_aggregates.get(token_id, version=version)
        if not isinstance(token, ApiToken):
            raise TokenNotFound(token_id)
        secret = self._secret_for(token.id, version, claim)
        return IssuedToken(token=secret, actor=self._actor(token), record=self._record(token))

    def _expiry(
        self,
        now: datetime,
        expires_in: timedelta | None,
        expires_at: datetime | None,
        never_expires: bool,
    ) -> datetime | None:
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise InvalidToken("expires_at", "must say its time zone (e.g. Z or -03:00)")
            if expires_at <= now:
                raise InvalidToken("expires_at", "must be in the future")
            return expires_at.astimezone(UTC)
        if expires_in is not None:
            if expires_in <= timedelta(0):
                raise InvalidToken("expires_in", "must be a positive duration")
            return now + expires_in
        if never_expires or self.default_ttl is None:
            return None
        return now + self.default_ttl

    # Reading

    def get(self, token_id: UUID | str) -> ApiToken:
        try:
            found = self.app.small_aggregates.get(UUID(str(token_id)))
        except (AggregateNotFoundError, ValueError):
            raise TokenNotFound(token_id) from None
        if not isinstance(found, ApiToken):
            raise TokenNotFound(token_id)
        return found

    def record(self, token_id: UUID | str) -> TokenRecord:
        return self._record(self.get(token_id), self.index.last_used())

    def list(self) -> list[TokenRecord]:
        last_used = self.index.last_used()
        records = []
        for token_id in self.index.token_ids():
            try:
                records.append(self._record(self.get(token_id), last_used))
            except TokenNotFound:
                continue  # an index row whose save failed, or one written by hand
        return sorted(records, key=lambda record: (record.created_at, str(record.id)))

    def _record(
        self, token: ApiToken, last_used: dict[UUID, datetime] | None = None
    ) -> TokenRecord:
        now = self.clock()
        status = (
            "revoked" if token.is_revoked() else "expired" if token.has_expired(now) else "active"
        )
        return TokenRecord(
            id=token.id,
            name=token.name,
            role=token.role,
            agent_id=token.agent_id,
            on_behalf=token.on_behalf,
            created_at=token.issued_at,
            expires_at=token.expires_at,
            last_used_at=(last_used or {}).get(token.id),
            revoked_at=token.revoked_at,
            legacy=token.legacy,
            status=status,
        )

    # Revoking and rotating

    def revoke(
        self,
        token_id: UUID | str,
        actor: Actor = SYSTEM,
        idempotency: IdempotencyClaim | None = None,
    ) -> tuple[TokenRecord, bool]:
        """Revoke the token; False when it already was (nothing recorded). A concurrent
        change (a rotation, another revocation) makes it read the token again."""

        def attempt() -> tuple[ApiToken, bool] | Save[tuple[ApiToken, bool]]:
            token = self.get(token_id)
            changed = token.revoke(self.clock(), actor)
            outcome = outcome_of(idempotency, 200, token)
            if not changed:
                if outcome is not None:
                    self.app.idempotency.complete(outcome)
                return token, False

            def write() -> tuple[ApiToken, bool]:
                self.app.save(token, idempotency=outcome)
                return token, True

            return Save(write)

        token, changed = save_with_retries(attempt, what=f"token {token_id}", retries=RETRIES)
        return self._record(token, self.index.last_used()), changed

    def rotate(
        self,
        token_id: UUID | str,
        grace: timedelta = DEFAULT_ROTATION_GRACE,
        actor: Actor = SYSTEM,
        idempotency: IdempotencyClaim | None = None,
    ) -> IssuedToken:
        """A new secret for the token; the old ones keep working for ``grace``."""

        def attempt() -> Save[IssuedToken]:
            token = self.get(token_id)
            now = self.clock()
            secret = self._secret_for(token.id, token.version + 1, idempotency)
            secret_hash = self._hash(secret)
            seal = self._seal(token.id, token.grants(), secret_hash)
            token.rotate(secret_hash, seal, now + grace, now, actor)

            def write() -> IssuedToken:
                self.index.add(secret_hash, token.id)  # first, as in create
                self.app.save(token, idempotency=outcome_of(idempotency, 200, token))
                return IssuedToken(secret, self._actor(token), self._record(token))

            return Save(write)

        return save_with_retries(attempt, what=f"token {token_id}", retries=RETRIES)

    # Authenticating

    def authenticate(self, secret: str) -> Actor | None:
        keyed = self._hash(secret)
        now = self.clock()
        checked = self._checked.get(keyed)
        if checked is not None and checked.until > time.monotonic():
            if checked.valid_until is not None and now >= checked.valid_until:
                return None
            return checked.actor
        # Tokens issued before keyed hashes were stored by their plain SHA-256.
        found = self.index.find((keyed, _plain_hash(secret)))
        if found is None:
            return None
        secret_hash, token_id = found
        try:
            token = self.app.small_aggregates.get(token_id, deepcopy_from_cache=False)
        except AggregateNotFoundError:
            return None
        if not isinstance(token, ApiToken) or not self._is_sealed(token, secret_hash):
            return None
        if not token.accepts(secret_hash, now):
            self._checked.pop(keyed, None)
            return None
        actor = self._actor(token)
        self._remember(keyed, _Checked(time.monotonic() + self.recheck_seconds, actor,
                                       self._valid_until(token, secret_hash)))  # fmt: skip
        self._touch(token.id, now)
        return actor

    def _valid_until(self, token: ApiToken, secret_hash: str) -> datetime | None:
        ends = [e for e in (token.expires_at, token.secrets.get(secret_hash)) if e is not None]
        return min(ends) if ends else None

    def _remember(self, keyed: str, checked: _Checked) -> None:
        with self._lock:
            if len(self._checked) > 10_000:  # bounded: secrets people guess are not kept
                self._checked.clear()
            self._checked[keyed] = checked

    def _touch(self, token_id: UUID, now: datetime) -> None:
        last = self._touched.get(token_id, 0.0)
        if time.monotonic() - last < TOUCH_EVERY_SECONDS and last:
            return
        self._touched[token_id] = time.monotonic()
        try:
            self.index.touch(token_id, now)
        except Exception:  # "last used" must never stop a request
            log.warning("could not record when token %s was last used", token_id, exc_info=True)

    # Tokens issued before tokens were events

    def import_legacy(self) -> int:
        """Make an aggregate of each sealed token row from before (unbound, no expiry),
        so it can be listed, revoked and rotated; its secret keeps working. Safe to run
        in every process at start: a token already imported is skipped."""
        imported = 0
        for row in self.index.legacy_tokens():
            token_id = legacy_token_id(row.id)
            # Integrators named messages' authors freely before grants existed: a legacy
            # integrator token keeps doing so (issue 20's "keep working").
            on_behalf = row.role == "integrator"
            grants = grant_fields(row.role, None, None, on_behalf)
            token = ApiToken(
                token_id=token_id,
                name=row.name,
                role=row.role,
                agent_id=None,
                expires_at=None,
                secret_hash=row.token_hash,
                seal=self._seal(token_id, grants, row.token_hash),
                legacy=True,
                issued_at=row.created_at,
                actor=SYSTEM,
                on_behalf=on_behalf,
            )
            try:
                self.app.save(token)
                imported += 1
            except IntegrityError:
                pass  # another process imported it first
            self.index.add(row.token_hash, token_id)
        return imported

    # Verify

    def unsealed_rows(self) -> list[str]:
        """Token rows Atende did not write as they stand: legacy rows whose seal fails,
        and index rows pointing at a token that does not hold their hash."""
        broken = list(self.index.unsealed_rows())
        for secret_hash, token_id in self.index.entries():
            try:
                token = self.get(token_id)
            except TokenNotFound:
                continue  # a save that failed after its index row: grants nothing
            if not self._is_sealed(token, secret_hash):
                broken.append(token_id)
        return sorted(set(broken))

    # Keys and seals

    def _secret_for(self, token_id: UUID, version: int, claim: IdempotencyClaim | None) -> str:
        """A new secret: random; or, for a command with an Idempotency-Key, derived with
        the deployment's key from the token, the version the command makes and the claim
        (principal, key, request fingerprint), so that a retry can be answered with the
        same secret without it ever being stored. Either way 256 bits no one can guess."""
        if claim is None:
            return PREFIX + secrets.token_urlsafe(32)
        material = json.dumps([str(token_id), version, claim.principal, claim.key,
                               claim.fingerprint])  # fmt: skip
        digest = hmac.new(self._key, b"secret:" + material.encode(), hashlib.sha256).digest()
        return PREFIX + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def _hash(self, secret: str) -> str:
        # Secrets carry 256 bits of randomness, so one HMAC is enough (no password KDF).
        return hmac.new(self._key, b"hash:" + secret.encode(), hashlib.sha256).hexdigest()

    def _seal(self, token_id: UUID, grants: list[Any], secret_hash: str) -> str:
        """An HMAC over the token's id, what it grants (domain.api_token.grant_fields) and
        one secret's hash: an event edited to grant more no longer matches."""
        fields = json.dumps([str(token_id), *grants, secret_hash])
        return hmac.new(self._key, b"token:" + fields.encode(), hashlib.sha256).hexdigest()

    def _is_sealed(self, token: ApiToken, secret_hash: str) -> bool:
        seal = token.seals.get(secret_hash)
        expected = self._seal(token.id, token.grants(), secret_hash)
        return seal is not None and hmac.compare_digest(seal, expected)

    @staticmethod
    def _actor(token: ApiToken) -> Actor:
        return Actor(
            id=str(token.id),
            name=token.name,
            role=token.role,
            agent_id=token.agent_id,
            on_behalf=token.on_behalf,
        )


def legacy_token_id(row_id: str) -> UUID:
    """A legacy row's id as the token's (they were uuid4s; anything else is mapped)."""
    try:
        return UUID(row_id)
    except ValueError:
        return uuid.uuid5(LEGACY_NAMESPACE, row_id)


def _plain_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
