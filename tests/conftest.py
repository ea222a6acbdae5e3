"""Fixtures shared by every tier: the same test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from infrastructure.settings import Settings
from interface.container import Atende
from interface.wiring import bootstrap
from tests.databases import BACKENDS, fresh_database_url, settings_for


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(backend: str, tmp_path) -> Iterator[str]:
    with fresh_database_url(backend, tmp_path) as url:
        yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url)


@pytest.fixture
def atende(settings: Settings) -> Iterator[Atende]:
    built = bootstrap(settings)
    yield built
    built.close()
    # A rebuild freezes the heap it starts with (infrastructure/rebuild.py): given back,
    # so what this test held is collected like any garbage once it is.
    gc.unfreeze()
