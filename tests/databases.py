"""Fresh, isolated databases for tests: a SQLite file, or a PostgreSQL schema dropped after."""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from infrastructure.settings import Settings, decode_secret_key

POSTGRES_URL = os.environ.get(
    "ATENDE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
SECRET_KEY_TEXT = base64.urlsafe_b64encode(b"atende-test-secret-key-32-bytes!").decode()
BACKENDS = ("sqlite", "postgres")


def require_postgres() -> None:
    """PostgreSQL tests fail loudly, never skip, when the server is not there."""
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            pass
    except psycopg.OperationalError as error:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({error}). Start it with: "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
            pytrace=False,
        )


@contextmanager
def fresh_database_url(backend: str, directory: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'atende.db'}"
        return
    require_postgres()
    schema = f"atende_test_{uuid.uuid4().hex[:12]}"
    url = f"{POSTGRES_URL}?schema={schema}"
    try:
        yield url
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(outside_state(url), ignore_errors=True)


def outside_state(database_url: str) -> Path:
    """Where a PostgreSQL test database keeps what must live outside it (epoch keys,
    anchors): one directory per schema, so a server and the test reading its database
    share it."""
    schema = database_url.rsplit("schema=", 1)[1]
    return Path(tempfile.gettempdir()) / "atende-test-state" / schema


def keystore_for(database_url: str) -> str:
    """The epoch-key directory of a test database (beside a SQLite file: the default)."""
    if database_url.startswith("sqlite:///"):
        return database_url[len("sqlite:///") :] + ".keys"
    return str(outside_state(database_url) / "keys")


def checkpoints_for(database_url: str) -> str:
    """The anchor file of a test database (beside a SQLite file: the default)."""
    if database_url.startswith("sqlite:///"):
        return database_url[len("sqlite:///") :] + ".checkpoints.jsonl"
    return str(outside_state(database_url) / "checkpoints.jsonl")


def settings_for(database_url: str, **overrides: Any) -> Settings:
    """Settings for a test database, as a test server would have them."""
    return Settings(
        database_url=database_url,
        secret_key=decode_secret_key(SECRET_KEY_TEXT),
        keystore_dir=keystore_for(database_url),
        checkpoint_file=checkpoints_for(database_url),
        **overrides,
    )
