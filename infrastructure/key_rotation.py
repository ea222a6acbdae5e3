"""Rotating the epoch key, which is what makes an erasure final in every copy the database
keeps of a destroyed customer key.

Erasure overwrites the customer's wrapped key in its row, but the database still holds
older copies of that row: SQLite's WAL and freed pages, PostgreSQL's dead tuples, its WAL
and every backup. Each copy is wrapped by the epoch key current when it was written. A
rotation makes a new epoch, re-wraps every live customer key under it, and only then
destroys the older epoch keys (files outside the database, infrastructure/keystore.py), so
those copies become undecipherable. The projector runs it every
``ATENDE_KEY_ROTATION_INTERVAL`` when an erasure happened since the last one: that interval
is the erasure's window.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from infrastructure.crypto import KeyRing, unwrap_key, wrap_key
from infrastructure.sqlite_lock import sqlite_write_lock

BATCH = 500
CHECKPOINT_TRIES = 20  # a reader's snapshot lasts one request or one projector batch
CHECKPOINT_PAUSE = 0.25
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rotation:
    epoch: int  # the epoch every live key is now wrapped by
    rewrapped: int
    destroyed: list[int]  # the epochs whose keys no longer exist


def rotation_due(keyring: KeyRing) -> bool:
    """An erasure since the last rotation, keys still wrapped the pre-epoch way, or a
    rotation that stopped half-way."""
    row = keyring.db.fetchone(
        f"SELECT (SELECT MAX(erased_at) FROM {keyring.t}) AS erased, "
        f"(SELECT COUNT(*) FROM {keyring.t} WHERE wrapped_key IS NOT NULL "
        "AND key_epoch IS NULL) AS legacy, r.rotated_at, r.retired_below "
        f"FROM {keyring.rotation_table} r WHERE r.id = 1"
    )
    erased_since = row["erased"] is not None and row["erased"] > row["rotated_at"]
    interrupted = any(e < row["retired_below"] for e in keyring.keystore.epochs())
    return erased_since or row["legacy"] > 0 or interrupted


def rotate_keys(keyring: KeyRing, now: float | None = None) -> Rotation:
    """Re-wrap every live customer key under a new epoch, then destroy the older ones."""
    keystore = keyring.keystore
    epoch = keystore.epochs()[-1] + 1
    keystore.create(epoch)
    _retire_below(keyring, epoch, time.time() if now is None else now)
    rewrapped = _rewrap_all(keyring, epoch)
    # Compacted before the older epochs are destroyed, so an epoch file gone means the
    # whole rotation is done (what an operator or a test can watch for). A crash in
    # between leaves older epochs below retired_below: rotation_due runs it again.
    _compact(keyring)
    destroyed = keystore.destroy_below(epoch)
    return Rotation(epoch, rewrapped, destroyed)


def _retire_below(keyring: KeyRing, epoch: int, now: float) -> None:
    # Waits (PostgreSQL) for wraps holding the share lock: after this commits, no new
    # key can be written under an older epoch, so the re-wrap below misses none.
    keyring.db.run(
        f"UPDATE {keyring.rotation_table} SET retired_below = :epoch, rotated_at = :now "
        "WHERE id = 1",
        {"epoch": epoch, "now": now},
    )


def _rewrap_all(keyring: KeyRing, epoch: int) -> int:
    new_wrapper = keyring.keystore.cipher(epoch)
    total = 0
    while True:
        rows = _stale_keys(keyring, epoch)
        if not rows:
            return total
        updates = [
            {
                "id": row["customer_id"],
                "old": row["wrapped_key"],
                "epoch": epoch,
                "new": wrap_key(new_wrapper, _owner(row), _unwrap(keyring, row)),
            }
            for row in rows
        ]
        with keyring.db.transaction(commit=True) as cursor:
            _secure_delete(keyring, cursor)
            # Guarded by the old value: a key erased meanwhile stays erased.
            keyring.db.executemany(
                cursor,
                f"UPDATE {keyring.t} SET wrapped_key = :new, key_epoch = :epoch "
                "WHERE customer_id = :id AND wrapped_key = :old",
                updates,
            )
        total += len(updates)


def _stale_keys(keyring: KeyRing, epoch: int) -> list[Any]:
    with keyring.db.transaction(commit=False) as cursor:
        keyring.db.execute(
            cursor,
            f"SELECT customer_id, wrapped_key, key_epoch FROM {keyring.t} "
            "WHERE wrapped_key IS NOT NULL AND (key_epoch IS NULL OR key_epoch < :epoch) "
            f"ORDER BY customer_id LIMIT {BATCH}",
            {"epoch": epoch},
        )
        return cursor.fetchall()


def _unwrap(keyring: KeyRing, row: Any) -> bytes:
    old = row["key_epoch"]
    wrapper = keyring.legacy_wrapper() if old is None else keyring.keystore.cipher(old)
    return unwrap_key(wrapper, _owner(row), row["wrapped_key"])


def _owner(row: Any) -> UUID:
    return UUID(hex=row["customer_id"])


def _secure_delete(keyring: KeyRing, cursor: Any) -> None:
    if not keyring.db.is_postgres:
        cursor.execute("PRAGMA secure_delete = ON")


def _compact(keyring: KeyRing) -> None:
    """Drop the database's own stale copies of the key rows where it can: SQLite's WAL
    is checkpointed and truncated; PostgreSQL's key table is rewritten (VACUUM FULL, a
    brief exclusive lock on a small table) so no dead tuple keeps an old wrapped key."""
    db = keyring.db
    if db.is_postgres:
        with db.datastore.get_connection() as conn:
            conn.execute(f"VACUUM FULL {keyring.t}")
        return
    for _ in range(CHECKPOINT_TRIES):
        if _truncate_wal(db):
            return
        time.sleep(CHECKPOINT_PAUSE)
    # The older epochs are destroyed all the same: what the WAL still holds is then
    # undecipherable, and the next checkpoint overwrites it.
    log.warning("key rotation: readers kept the WAL from being truncated")


def _truncate_wal(db: Any) -> bool:
    """One TRUNCATE checkpoint; False when a reader on an older snapshot kept it from
    finishing (SQLite reports it as busy=1, not as an error).

    Under Atende's write lock: a writer that had read before the checkpoint could not
    upgrade its transaction afterwards (SQLite answers "database is locked" at once)."""
    try:
        with (
            sqlite_write_lock(db.datastore),
            db.datastore.get_connection(commit=True) as conn,
        ):
            cursor = conn.cursor()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy = cursor.fetchone()[0]
    except sqlite3.Error:
        return False
    return busy == 0


def add_key_rotation_job(scheduler: Any, atende: Any) -> None:
    """Rotate when an erasure happened since the last rotation, checked every
    ATENDE_KEY_ROTATION_INTERVAL on the projector's follow-up scheduler."""

    def rotate_if_due() -> None:
        try:
            if rotation_due(atende.keys):
                rotation = rotate_keys(atende.keys)
                log.info(
                    "key rotation: epoch %s, %s keys re-wrapped, epochs destroyed %s",
                    rotation.epoch, rotation.rewrapped, rotation.destroyed,
                )
        except Exception:  # logged; the next interval tries again
            log.exception("key rotation failed")

    scheduler.add_job(
        rotate_if_due, "interval", seconds=atende.settings.key_rotation_interval.total_seconds(),
        id="key-rotation", coalesce=True, max_instances=1,
    )  # fmt: skip
