"""Keys this deployment derives from its one secret (ATENDE_SECRET_KEY), each for one
purpose, so a key leaked from one use opens no other."""

from __future__ import annotations

import hashlib
import hmac
from uuid import UUID


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


def webhook_secret_key(secret_key: bytes) -> bytes:
    """The key that seals webhook signing secrets in the log (infrastructure.outbound)."""
    return hmac.new(secret_key, b"atende/webhook-secrets", hashlib.sha256).digest()
