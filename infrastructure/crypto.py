"""Field-by-field encryption of personal data with per-customer keys (crypto-shredding).

Each customer gets a random AES-256-GCM data key, stored wrapped by the current epoch key
(infrastructure/keystore.py), itself sealed by the deployment's secret key. Destroying a
customer's key makes their fields read "[erased]" while the events, their hashes and counts
stay exactly as they were.
"""

from __future__ import annotations

import base64
import os
import time
from functools import partial
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Transcoding

from domain.personal import ERASED, Personal
from infrastructure.group_commit import GroupCommit
from infrastructure.keystore import Keystore
from infrastructure.sql import SqlDatabase

TABLE = "customer_keys"
ROTATION = "key_rotation"
CREATE = [
    "CREATE TABLE IF NOT EXISTS {t} (customer_id TEXT PRIMARY KEY, "
    "wrapped_key TEXT, created_at DOUBLE PRECISION NOT NULL, erased_at DOUBLE PRECISION)",
    "CREATE INDEX IF NOT EXISTS customer_keys_erased_at ON {t} (erased_at)",
    # Epochs below retired_below may wrap no key any more: a wrap racing a rotation is
    # refused here (in the inserting transaction) instead of being lost with its epoch.
    "CREATE TABLE IF NOT EXISTS {r} (id INTEGER PRIMARY KEY, retired_below INTEGER NOT NULL, "
    "rotated_at DOUBLE PRECISION NOT NULL)",
    "INSERT INTO {r} (id, retired_below, rotated_at) VALUES (1, 0, 0) "
    "ON CONFLICT (id) DO NOTHING",
]
# The epoch that wraps a key; NULL for keys wrapped directly by the deployment secret
# before epochs existed (the first rotation re-wraps them).
EPOCH_COLUMN = "ALTER TABLE {t} ADD COLUMN key_epoch INTEGER"
NONCE_BYTES = 12
# Keys are cached briefly per process. An erasure in another process empties the cache
# within ERASURE_CHECK_SECONDS: the newest erased_at is read (by index) at most that often.
KEY_CACHE_SECONDS = 30.0
ERASURE_CHECK_SECONDS = 1.0
KEY_CACHE_MAX = 50_000
# A process that gathers sighted owners (KeyRing.gather_sighted) reads, on a key's cache
# miss, the keys of up to this many owners whose sealed values it loaded meanwhile, in
# statements of at most KEYS_PER_READ ids each.
SIGHTED_MAX = 2_000
KEYS_PER_READ = 500


class KeyRing:
    """Per-customer data keys, wrapped by the current epoch key (infrastructure/keystore.py)
    and cached briefly."""

    def __init__(self, db: SqlDatabase, secret_key: bytes, keystore: Keystore):
        self.db = db
        self.t = db.table(TABLE)
        self.rotation_table = db.table(ROTATION)
        self.keystore = keystore
        self._legacy_wrapper = AESGCM(secret_key)
        self._cache: dict[UUID, tuple[float, AESGCM | None]] = {}
        self._erasures_checked_at = 0.0
        self._latest_erasure: float | None = None
        # Owners (hex ids) of the sealed values loaded since the last cache miss, while
        # gathering: a view deciphering a batch of new customers' tickets read one key
        # row per customer, a round trip each on PostgreSQL (11 % of a queue rebuild).
        self.gathering = False
        self._sighted: set[str] = set()
        # Every new customer's first ticket inserts their key and commits before the
        # ticket's own write: a second turn at the write lock (SQLite) and commit per
        # first contact. The first contacts a process has waiting share one instead
        # (infrastructure/group_commit.py), each insert in a savepoint of its own.
        # A lone first contact's key is one INSERT, and only if another got there first
        # one SELECT of the row it made (a row is only ever re-wrapped or destroyed in
        # place, its key and epoch together): on PostgreSQL each can commit on its own,
        # one round trip where BEGIN and COMMIT made three (issue 19). The share lock on
        # the rotation row is held to that statement's commit, as it was to the COMMIT.
        self._key_inserts = GroupCommit(
            "keys", db.transaction, lone=db.autocommitted if db.is_postgres else None
        )

    def create_table(self) -> None:
        self.db.create_tables([s.format(t=self.t, r=self.rotation_table) for s in CREATE])
        with self.db.transaction(commit=True) as cursor:
            if not self.db.has_column(cursor, TABLE, "key_epoch"):
                self.db.execute(cursor, EPOCH_COLUMN.format(t=self.t))
        self._open_keystore()

    def _open_keystore(self) -> None:
        # An empty keystore beside keys wrapped by epochs is the wrong directory (or a
        # wiped one): starting would make every customer's data unreadable.
        if not self.keystore.directory.exists() or not self.keystore.epochs():
            row = self.db.fetchone(
                f"SELECT COUNT(*) AS n FROM {self.t} WHERE key_epoch IS NOT NULL"
            )
            if row["n"]:
                raise KeystoreMismatchError(self.keystore.directory)
        self.keystore.open()

    def cipher_for(self, owner: UUID, *, create: bool) -> AESGCM | None:
        """The owner's cipher; None when the key was destroyed (or never made)."""
        self._drop_cache_after_erasures()
        cached = self._cache.get(owner)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        # A returning customer's key is read: a write per cache miss queued every
        # returning customer's first ticket behind the database's write lock. Found no
        # key, the insert-if-absent decides: a customer never seen gets one, one
        # another request made meanwhile is read back, an erased one stays erased.
        row = self._load_with_sighted(owner) if self._sighted else self._load(owner)
        if row is None and create:
            row = self._load_or_create(owner)
        cipher = None if row is None else AESGCM(self._unwrap(owner, *row))
        if len(self._cache) >= KEY_CACHE_MAX:
            self._cache.clear()
        self._cache[owner] = (time.monotonic() + KEY_CACHE_SECONDS, cipher)
        return cipher

    def gather_sighted(self) -> None:
        """From now on, a cache miss also reads the keys of the owners whose sealed values
        were loaded since the previous miss. For a process that deciphers values of many
        customers in turn (the projector, a rebuild): it decodes a batch of events, then
        deciphers them, and the batch's keys come in one read instead of one each."""
        self.gathering = True

    def sight(self, owner_hex: Any) -> None:
        """A sealed value of this owner was loaded (called only while gathering). What is
        not an owner's id here is left for the value's own read to refuse: a value
        altered in the database fails when it is read, never a neighbour's read."""
        if isinstance(owner_hex, str) and len(self._sighted) < SIGHTED_MAX:
            self._sighted.add(owner_hex)

    def _load_with_sighted(self, owner: UUID) -> tuple[str, int | None] | None:
        # Swapped, not cleared: another thread sighting meanwhile adds to the new set.
        sighted, self._sighted = self._sighted, set()
        now = time.monotonic()
        wanted = {owner}
        for owner_hex in sighted:
            try:
                other = UUID(hex=owner_hex)
            except ValueError:
                continue
            cached = self._cache.get(other)
            if cached is None or cached[0] <= now:
                wanted.add(other)
        rows = self._load_many(sorted(wanted))
        expires = now + KEY_CACHE_SECONDS
        for other, row in rows.items():
            # Only keys found are kept (a destroyed one as None, as a single read would);
            # an owner with no row at all is left to be read when asked.
            if other != owner and len(self._cache) < KEY_CACHE_MAX:
                cipher = None if row is None else AESGCM(self._unwrap(other, *row))
                self._cache[other] = (expires, cipher)
        return rows.get(owner)

    def _load_many(self, owners: list[UUID]) -> dict[UUID, tuple[str, int | None] | None]:
        found: dict[UUID, tuple[str, int | None] | None] = {}
        for start in range(0, len(owners), KEYS_PER_READ):
            chunk = owners[start : start + KEYS_PER_READ]
            marks = ", ".join(f":o{i}" for i in range(len(chunk)))
            with self.db.reading() as cursor:
                self.db.execute(
                    cursor,
                    f"SELECT customer_id, wrapped_key, key_epoch FROM {self.t} "
                    f"WHERE customer_id IN ({marks})",
                    {f"o{i}": o.hex for i, o in enumerate(chunk)},
                )
                for row in cursor.fetchall():
                    wrapped = row["wrapped_key"]
                    key = None if wrapped is None else (wrapped, row["key_epoch"])
                    found[UUID(hex=row["customer_id"])] = key
        return found

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

    def shredded_customers(self) -> list[UUID]:
        """Customers whose key was destroyed: each must have an erasure event (audit
        verify reports the ones that do not: a key nulled by hand is a silent erasure)."""
        with self.db.transaction(commit=False) as cursor:
            self.db.execute(
                cursor, f"SELECT customer_id FROM {self.t} WHERE wrapped_key IS NULL"
            )
            return sorted(UUID(hex=row["customer_id"]) for row in cursor.fetchall())

    def customers_without_key(self, customers: set[UUID]) -> list[UUID]:
        """Which of these customers have no key row at all: deleted by hand, their data
        would read "[erased]" with no erasure recorded."""
        with self.db.transaction(commit=False) as cursor:
            self.db.execute(cursor, f"SELECT customer_id FROM {self.t}")
            known = {UUID(hex=row["customer_id"]) for row in cursor.fetchall()}
        return sorted(customers - known)

    def _load(self, owner: UUID) -> tuple[str, int | None] | None:
        return self._load_many([owner]).get(owner)

    def _load_or_create(self, owner: UUID) -> tuple[str, int | None] | None:
        # A rotation may retire the epoch between reading the keystore and inserting;
        # the insert then refuses and the next attempt reads the new epoch.
        for _ in range(3):
            epoch, wrapper = self.keystore.current()
            wrapped = wrap_key(wrapper, owner, AESGCM.generate_key(256))
            row = self._insert_if_absent(owner, wrapped, epoch)
            if row is None:
                continue
            if row["wrapped_key"] is None:
                return None
            return row["wrapped_key"], row["key_epoch"]
        raise KeyRotationRaceError(owner)

    def _insert_if_absent(self, owner: UUID, wrapped: str, epoch: int) -> Any:
        return self._key_inserts.run(partial(self._insert_or_read, owner, wrapped, epoch))

    def _insert_or_read(self, owner: UUID, wrapped: str, epoch: int, cursor: Any) -> Any:
        # Inserted unless the customer has a key already (concurrent first contacts agree
        # on the one inserted first: it is read back) or a rotation retired ``epoch``
        # meanwhile (None: the caller wraps under the new one). On PostgreSQL the share
        # lock on the rotation's row makes a retirement wait for this commit. One
        # statement for a new customer, where there were three.
        lock = " FOR SHARE" if self.db.is_postgres else ""
        self.db.execute(
            cursor,
            f"INSERT INTO {self.t} (customer_id, wrapped_key, key_epoch, created_at) "
            f"SELECT :id, :key, :epoch, :now FROM {self.rotation_table} "
            f"WHERE id = 1 AND retired_below <= :epoch{lock} "
            "ON CONFLICT (customer_id) DO NOTHING RETURNING wrapped_key, key_epoch",
            {"id": owner.hex, "key": wrapped, "epoch": epoch, "now": time.time()},
        )
        row = cursor.fetchone()
        if row is None:
            self.db.execute(
                cursor,
                f"SELECT wrapped_key, key_epoch FROM {self.t} WHERE customer_id = :id",
                {"id": owner.hex},
            )
            row = cursor.fetchone()
        return None if row is None else dict(row)

    def _unwrap(self, owner: UUID, wrapped: str, epoch: int | None) -> bytes:
        wrapper = self._legacy_wrapper if epoch is None else self.keystore.cipher(epoch)
        return unwrap_key(wrapper, owner, wrapped)

    def legacy_wrapper(self) -> AESGCM:
        """The deployment secret's own cipher: what wrapped keys before epochs existed."""
        return self._legacy_wrapper


def wrap_key(wrapper: AESGCM, owner: UUID, key: bytes) -> str:
    nonce = os.urandom(NONCE_BYTES)
    return _b64(nonce + wrapper.encrypt(nonce, key, owner.bytes))


def unwrap_key(wrapper: AESGCM, owner: UUID, wrapped: str) -> bytes:
    raw = _unb64(wrapped)
    return wrapper.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], owner.bytes)


def destroy_key(db: SqlDatabase, cursor: Any, owner: UUID) -> None:
    """Crypto-shredding: the wrapped key is overwritten, in the transaction that records
    the erasure event, so one never happens without the other. On SQLite the freed bytes
    are zeroed in the page too (secure_delete); every other copy (WAL, PostgreSQL's dead
    tuples, backups) wraps under an epoch the next rotation destroys."""
    if not db.is_postgres:
        cursor.execute("PRAGMA secure_delete = ON")
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
        object.__setattr__(self, "_owner", None)
        if keyring.gathering:
            keyring.sight(sealed.get("owner"))

    @property
    def owner(self) -> UUID:  # type: ignore[override]
        # Parsed once: a ticket a worker keeps is rendered again and again, each message
        # body asking for its owner's key by this id (issue 19). Not a secret.
        owner = self._owner
        if owner is None:
            owner = UUID(self._sealed["owner"])
            object.__setattr__(self, "_owner", owner)
        return owner

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


class KeystoreMismatchError(Exception):
    """Customer keys are wrapped by epochs, but the keystore directory has none."""

    def __init__(self, directory: Any):
        super().__init__(
            f"the keystore {directory} holds no epoch key, but customer keys in the database "
            "are wrapped by epoch keys: point ATENDE_KEYSTORE_DIR at the right directory"
        )


class KeyRotationRaceError(Exception):
    """A new customer key could not be wrapped: rotations kept retiring the epoch."""


class TamperedCiphertextError(Exception):
    """A ciphertext failed authentication: the stored event was altered."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)
