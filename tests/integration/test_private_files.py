"""Every file Atende writes beside a SQLite database is readable by its user only, whatever
the umask: the database holds plaintext views, the files beside it keys and checkpoints."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from infrastructure.settings import Settings
from interface.container import Atende
from interface.wiring import bootstrap
from tests.integration.builders import open_ticket


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The usual umask, under which a file is created readable by everyone."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def modes(paths: list[Path]) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in paths}


def written_files(settings: Settings) -> list[Path]:
    database = settings.sqlite_path()
    return [
        database,
        database.with_name(database.name + "-wal"),
        database.with_name(database.name + "-shm"),
        database.with_suffix(".key"),
        settings.checkpoint_path(),
        *settings.keystore_path().iterdir(),
    ]


def use(settings: Settings) -> Atende:
    """Start Atende, write a ticket and sign a checkpoint: every file it keeps exists."""
    atende = bootstrap(settings)
    open_ticket(atende)
    assert atende.audit.checkpoint() is not None
    return atende


def test_a_fresh_sqlite_deployment_creates_every_file_0600(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'atende.db'}")
    atende = use(settings)
    try:
        files = written_files(settings)
        assert modes(files) == {f.name: 0o600 for f in files}
    finally:
        atende.close()


def test_files_an_older_atende_left_readable_are_made_private_at_start(tmp_path):
    database = tmp_path / "atende.db"
    with sqlite3.connect(database) as conn:  # as SQLite makes them under the umask
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE older (x)")
        key = database.with_suffix(".key")
        key.write_text("q" * 43)
        checkpoints = database.with_name(database.name + ".checkpoints.jsonl")
        checkpoints.touch()
        assert set(modes([database, key, checkpoints]).values()) == {0o644}
        settings = Settings(database_url=f"sqlite:///{database}")
        atende = use(settings)
    try:
        files = written_files(settings)
        assert modes(files) == {f.name: 0o600 for f in files}
    finally:
        atende.close()
