"""Erasure is final against someone holding the database files and the deployment secret:
after the rotation that follows an erasure, the erased customer's wrapped key is in no
database file (SQLite db and WAL, PostgreSQL's pages), and the epoch key that wrapped any
copy left elsewhere (WAL, backups) exists nowhere. Run on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from domain.customer import Contact
from domain.personal import ERASED
from infrastructure.crypto import KeystoreMismatchError, unwrap_key, wrap_key
from infrastructure.key_rotation import rotate_keys, rotation_due
from infrastructure.keystore import EpochDestroyedError, Keystore
from infrastructure.settings import Settings
from interface.wiring import bootstrap
from tests.integration.builders import AGENT, open_ticket


def _key_row(atende, customer: UUID) -> dict[str, Any]:
    with atende.db.transaction(commit=False) as cursor:
        atende.db.execute(
            cursor,
            f"SELECT wrapped_key, key_epoch FROM {atende.db.table('customer_keys')} "
            "WHERE customer_id = :id",
            {"id": customer.hex},
        )
        return dict(cursor.fetchone())


def _raw_storage(atende) -> bytes:
    """Every byte the database holds for the key table: SQLite's file and WAL, or each
    PostgreSQL page of the relation as the server has it (pageinspect)."""
    if not atende.db.is_postgres:
        path = Path(atende.settings.sqlite_path())
        wal = path.with_name(path.name + "-wal")
        return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    table = atende.db.table("customer_keys")
    with atende.db.datastore.get_connection() as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        pages = conn.execute(
            f"SELECT pg_relation_size('{table}') / current_setting('block_size')::int AS n"
        ).fetchone()["n"]
        return b"".join(
            bytes(conn.execute("SELECT get_raw_page(%s, %s) AS p", (table, n)).fetchone()["p"])
            for n in range(pages)
        )


def _customer_of(atende, email: str) -> UUID:
    contact = Contact(name="Ana Souza", email=email)
    return open_ticket(atende, contact=contact).ticket.customer_id


def test_an_erased_customers_wrapped_key_is_in_no_database_file_after_the_rotation(atende):
    customer = _customer_of(atende, "ana@example.com")
    _customer_of(atende, "bruno@example.com")
    wrapped = _key_row(atende, customer)["wrapped_key"].encode("ascii")
    assert wrapped in _raw_storage(atende)  # the scan does see a key that is there

    atende.eraser.erase(customer, AGENT)
    rotate_keys(atende.keys)

    assert wrapped not in _raw_storage(atende)


def test_the_epoch_that_wrapped_an_erased_key_is_destroyed_by_the_rotation(atende):
    customer = _customer_of(atende, "ana@example.com")
    before = _key_row(atende, customer)
    keystore = atende.keys.keystore
    old_epoch_file = keystore.directory / f"epoch-{before['key_epoch']:06d}.key"
    assert old_epoch_file.exists()

    atende.eraser.erase(customer, AGENT)
    rotation = rotate_keys(atende.keys)

    assert before["key_epoch"] in rotation.destroyed
    assert not old_epoch_file.exists()
    # A copy of the old row (a WAL, a backup) plus the secret opens nothing any more.
    fresh = Keystore(keystore.directory, atende.settings.secret_key)
    with pytest.raises(EpochDestroyedError):
        fresh.cipher(before["key_epoch"])


def test_customers_who_were_not_erased_stay_readable_across_rotations(atende, settings):
    erased = _customer_of(atende, "ana@example.com")
    kept = open_ticket(atende, contact=Contact(name="Bruno Lima", email="bruno@example.com"))
    atende.eraser.erase(erased, AGENT)

    first, second = rotate_keys(atende.keys), rotate_keys(atende.keys)

    assert second.epoch == first.epoch + 1 and second.rewrapped >= 1
    assert _key_row(atende, kept.ticket.customer_id)["key_epoch"] == second.epoch
    other_process = bootstrap(settings)
    try:
        ticket = other_process.tickets.get_ticket(kept.ticket.id)
        assert ticket.requester["name"].text == "Bruno Lima"
        assert ticket.subject.text == "Sin internet"
    finally:
        other_process.close()


def test_an_erased_customer_reads_erased_after_the_rotation(atende):
    result = open_ticket(atende)
    atende.eraser.erase(result.ticket.customer_id, AGENT)
    rotate_keys(atende.keys)
    assert atende.tickets.get_ticket(result.ticket.id).subject.text == ERASED


def test_a_rotation_is_due_only_after_an_erasure_since_the_last_one(atende):
    customer = _customer_of(atende, "ana@example.com")
    assert not rotation_due(atende.keys)
    atende.eraser.erase(customer, AGENT)
    assert rotation_due(atende.keys)
    rotate_keys(atende.keys)
    assert not rotation_due(atende.keys)


def test_keys_wrapped_by_the_secret_before_epochs_existed_are_rewrapped(atende):
    result = open_ticket(atende)
    customer = result.ticket.customer_id
    row = _key_row(atende, customer)
    key = unwrap_key(atende.keys.keystore.cipher(row["key_epoch"]), customer, row["wrapped_key"])
    legacy = _wrap_the_old_way(atende, customer, key)
    assert rotation_due(atende.keys)

    rotate_keys(atende.keys)

    after = _key_row(atende, customer)
    assert after["key_epoch"] is not None and after["wrapped_key"] != legacy
    atende.keys.forget(customer)
    assert atende.tickets.get_ticket(result.ticket.id).subject.text == "Sin internet"


def _wrap_the_old_way(atende, customer: UUID, key: bytes) -> str:
    legacy = wrap_key(atende.keys.legacy_wrapper(), customer, key)
    with atende.db.transaction(commit=True) as cursor:
        atende.db.execute(
            cursor,
            f"UPDATE {atende.db.table('customer_keys')} SET wrapped_key = :k, key_epoch = NULL "
            "WHERE customer_id = :id",
            {"k": legacy, "id": customer.hex},
        )
    return legacy


class _StaleKeystore(Keystore):
    """A process that read the keystore just before another one rotated it."""

    stale_epoch: int | None = None

    def current(self):
        if self.stale_epoch is not None:
            epoch, self.stale_epoch = self.stale_epoch, None
            return epoch, self.cipher(epoch)
        return super().current()


def test_a_key_wrapped_by_an_epoch_a_rotation_retired_is_wrapped_again_not_lost(atende):
    stale = _StaleKeystore(atende.keys.keystore.directory, atende.settings.secret_key)
    stale.stale_epoch = atende.keys.keystore.epochs()[-1]
    stale.cipher(stale.stale_epoch)  # in its memory, as a running process has it
    rotation = rotate_keys(atende.keys)  # retires stale_epoch after the process read it
    atende.keys.keystore = stale

    result = open_ticket(atende)

    assert _key_row(atende, result.ticket.customer_id)["key_epoch"] == rotation.epoch
    assert atende.tickets.get_ticket(result.ticket.id).subject.text == "Sin internet"


def test_starting_with_an_empty_keystore_beside_epoch_wrapped_keys_is_refused(atende, settings):
    open_ticket(atende)
    for path in atende.keys.keystore.directory.iterdir():
        path.unlink()
    with pytest.raises(KeystoreMismatchError):
        bootstrap(settings)


def test_the_keystore_is_private_to_its_owner(atende):
    directory = atende.keys.keystore.directory
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    for path in directory.iterdir():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_postgresql_without_a_keystore_directory_is_refused_at_start():
    settings = Settings(database_url="postgresql://postgres@127.0.0.1:5432/test")
    with pytest.raises(RuntimeError, match="ATENDE_KEYSTORE_DIR"):
        settings.keystore_path()


def test_no_key_is_lost_when_new_customers_arrive_during_rotations(atende, settings):
    """Writers in another process wrap new keys while this one rotates again and again."""
    writer = bootstrap(settings)
    stop = threading.Event()

    def open_tickets() -> list[UUID]:
        opened: list[UUID] = []
        while not stop.is_set() or len(opened) < 20:
            n = len(opened)
            contact = Contact(name=f"Cliente {n}", email=f"cliente{n}@example.com")
            opened.append(open_ticket(writer, contact=contact).ticket.id)
        return opened

    with ThreadPoolExecutor(max_workers=1) as pool:
        writing = pool.submit(open_tickets)
        try:
            for _ in range(5):
                rotate_keys(atende.keys)
        finally:
            stop.set()
        opened = writing.result()  # raises what the writer raised
    writer.close()

    reader = bootstrap(settings)  # nothing cached: every key read from the database
    try:
        for ticket_id in opened:
            assert reader.tickets.get_ticket(ticket_id).subject.text == "Sin internet"
    finally:
        reader.close()
