"""Field-by-field encryption of personal data with per-customer keys (crypto-shredding).

Each customer gets a random AES-256-GCM data key, stored wrapped by the deployment's
secret key. Destroying a customer's key (issue 7) makes their fields read "[erased]"
while the events, their hashes and counts stay exactly as they were.
"""

from __future__ import annotations

import base64
import os
import time
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Transcoding

from domain.personal import ERASED, Personal
from infrastructure.sql import SqlDatabase

TABLE = "customer_keys"
CREATE = [
    "CREATE TABLE IF NOT EXISTS {t} (customer_id TEXT PRIMARY KEY, "
    "wrapped_key TEXT, created_at DOUBLE PRECISION NOT NULL, erased_at DOUBLE PRECISION)",
    "CREATE INDEX IF NOT EXISTS customer_keys_erased_at ON {t} (erased_at)",
]
NONCE_BYTES = 12
# Keys are cached briefly per process. An erasure in another process empties the cache
# within ERASURE_CHECK_SECONDS: the newest erased_at is read (by index) at most that often.
KEY_CACHE_SECONDS = 30.0
ERASURE_CHECK_SECONDS = 1.0
KEY_CACHE_MAX = 50_000


class KeyRing:
    """Per-customer data keys, wrapped by the deployment secret and cached briefly."""

    def __init__(self, db: SqlDatabase, secret_key: bytes):
        self.db = db
        self.t = db.table(TABLE)
        self._wrapper = AESGCM(secret_key)
        self._cache: dict[UUID, tuple[float, AESGCM | None]] = {}
        self._erasures_checked_at = 0.0
        self._latest_erasure: float | None = None

    def create_table(self) -> None:
        self.db.create_tables([s.format(t=self.t) for s in CREATE])

    def cipher_for(self, owner: UUID, *, create: bool) -> AESGCM | None:
        """The owner's cipher; None when the key was destroyed (or never made)."""
        self._drop_cache_after_erasures()
        cached = self._cache.get(owner)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        wrapped = self._load_or_create(owner) if create else self._load(owner)
        cipher = None if wrapped is None else AESGCM(self._unwrap(owner, wrapped))
        if len(self._cache) >= KEY_CACHE_MAX:
            self._cache.clear()
        self._cache[owner] = (time.monotonic() + KEY_CACHE_SECONDS, cipher)
        return cipher

    def _drop_cache_after_erasures(self) -> None:
        now = time.monotonic()
        if now - self._erasures_checked_at < ERASURE_CHECK_SECONDS:
            return
        self._erasures_checked_at = now
        row = self.db.fetchone(f"SELECT MAX(erased_at) AS latest FROM {self.t}")
        latest = None if row is None else row["latest"]
        if latest != self._latest_erasure:
            self._latest_erasure = latest
            self._cache.clear()

    def forget(self, owner: UUID) -> None:
        """Drop a cached key now (this process erased it); others expire within
        KEY_CACHE_SECONDS."""
        self._cache.pop(owner, None)

    def knows(self, owner: UUID) -> bool:
        """Whether a key was ever made for this customer (erased or not)."""
        row = self.db.fetchone(
            f"SELECT 1 AS known FROM {self.t} WHERE customer_id = :id", {"id": owner.hex}
        )
        return row is not None

    def _load(self, owner: UUID) -> str | None:
        row = self.db.fetchone(
            f"SELECT wrapped_key FROM {self.t} WHERE customer_id = :id", {"id": owner.hex}
        )
        return None if row is None else row["wrapped_key"]

    def _load_or_create(self, owner: UUID) -> str | None:
        # Insert-if-absent then read, so concurrent first contacts agree on one key.
        with self.db.transaction(commit=True) as cursor:
            self.db.execute(
                cursor,
                f"INSERT INTO {self.t} (customer_id, wrapped_key, created_at) "
                "VALUES (:id, :key, :now) ON CONFLICT (customer_id) DO NOTHING",
                {
                    "id": owner.hex,
                    "key": self._wrap(owner, AESGCM.generate_key(256)),
                    "now": time.time(),
                },
            )
            self.db.execute(
                cursor,
                f"SELECT wrapped_key FROM {self.t} WHERE customer_id = :id",
                {"id": owner.hex},
            )
            return cursor.fetchone()["wrapped_key"]

    def _wrap(self, owner: UUID, key: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        return _b64(nonce + self._wrapper.encrypt(nonce, key, owner.bytes))

    def _unwrap(self, owner: UUID, wrapped: str) -> bytes:
        raw = _unb64(wrapped)
        return self._wrapper.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], owner.bytes)


def destroy_key(db: SqlDatabase, cursor: Any, owner: UUID) -> None:
    """Crypto-shredding: the wrapped key is overwritten, in the transaction that records
    the erasure event, so one never happens without the other."""
    db.execute(
        cursor,
        f"UPDATE {db.table(TABLE)} SET wrapped_key = NULL, erased_at = :now "
        "WHERE customer_id = :id",
        {"id": owner.hex, "now": time.time()},
    )


class PersonalAsCiphertext(Transcoding):
    """Stores a Personal value as its owner's id and AES-GCM ciphertext, never as text."""

    type = Personal
    name = "personal"

    def __init__(self, keyring: KeyRing):
        self.keyring = keyring

    def encode(self, obj: Personal) -> dict[str, str]:
        cipher = self.keyring.cipher_for(obj.owner, create=True)
        if cipher is None:
            raise ErasedCustomerError(obj.owner)
        nonce = os.urandom(NONCE_BYTES)
        sealed = cipher.encrypt(nonce, obj.text.encode("utf-8"), obj.owner.bytes)
        return {"owner": obj.owner.hex, "ct": _b64(nonce + sealed)}

    def decode(self, data: dict[str, Any]) -> Personal:
        # Decrypted when read, not when loaded: a ticket with thousands of messages is
        # rebuilt (as-of, snapshots) without deciphering bodies nobody looks at.
        return SealedPersonal(data, self.keyring)

    def sealed(self, value: Personal) -> dict[str, str]:
        """The stored form of a value: encrypted now, or as it was loaded."""
        if isinstance(value, SealedPersonal):
            return dict(value._sealed)
        return self.encode(value)


class SealedPersonal(Personal):
    """A Personal value as loaded: its owner and text are deciphered on first use (and
    read "[erased]" once the owner's key is gone)."""

    def __init__(self, sealed: dict[str, str], keyring: KeyRing):  # no dataclass fields set
        object.__setattr__(self, "_sealed", sealed)
        object.__setattr__(self, "_keyring", keyring)

    @property
    def owner(self) -> UUID:  # type: ignore[override]
        return UUID(self._sealed["owner"])

    @property
    def text(self) -> str:  # type: ignore[override]
        owner = self.owner
        cipher = self._keyring.cipher_for(owner, create=False)
        if cipher is None:
            return ERASED
        raw = _unb64(self._sealed["ct"])
        try:
            plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], owner.bytes)
        except InvalidTag:
            raise TamperedCiphertextError(owner) from None
        return plain.decode("utf-8")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Personal):
            return NotImplemented
        return (self.owner, self.text) == (other.owner, other.text)

    def __hash__(self) -> int:
        return hash((self.owner, self.text))


class SealedAsCiphertext(PersonalAsCiphertext):
    """Stores a loaded value (a snapshot of a rebuilt ticket) as the very ciphertext it
    was loaded from: no re-encryption, and nothing needs the key."""

    type = SealedPersonal

    def encode(self, obj: Personal) -> dict[str, str]:
        return self.sealed(obj)


class ErasedCustomerError(Exception):
    """New personal data cannot be stored for a customer whose key was destroyed."""


class TamperedCiphertextError(Exception):
    """A ciphertext failed authentication: the stored event was altered."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)
