"""A write whose COMMIT PostgreSQL applied but whose answer never came back (the
connection cut in between, for real, by a proxy): the recorder finds its write stored
and answers as for success, instead of retrying into the unique index and failing a
write that happened (item 8 of issue 17 names PostgreSQL: SQLite has no network)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from interface.container import Atende
from interface.wiring import bootstrap
from tests.databases import POSTGRES_URL, fresh_database_url, settings_for
from tests.e2e.tcp_proxy import TcpProxy, through_port
from tests.integration.builders import AGENT, open_ticket


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[Atende, Atende, TcpProxy]]:
    upstream = urlparse(POSTGRES_URL)
    proxy = TcpProxy(upstream.hostname, upstream.port or 5432).start()
    with fresh_database_url("postgres", tmp_path) as url:
        direct = bootstrap(settings_for(url))
        through = through_port(url, proxy.port)
        atende = bootstrap(settings_for(through))
        try:
            yield atende, direct, proxy
        finally:
            atende.close()
            direct.close()
            proxy.cut()


def _opened(atende: Atende) -> int:
    return len([e for e in atende.tickets.events_after(0, 1000) if e.type == "opened"])


def test_a_ticket_whose_commit_answer_was_lost_is_opened_once_and_answered(proxied):
    atende, direct, proxy = proxied
    open_ticket(atende)

    proxy.drop_next_commit_answer()
    result = open_ticket(atende, subject="La respuesta se perdió")

    assert proxy.dropped_commits == 1
    stored = direct.tickets.get_ticket(result.ticket.id)
    assert stored.subject.text == "La respuesta se perdió"
    assert _opened(direct) == 2
    assert direct.audit.verify().ok


def test_a_change_whose_commit_answer_was_lost_is_stored_once(proxied):
    atende, direct, proxy = proxied
    tid = open_ticket(atende).ticket.id

    proxy.drop_next_commit_answer()
    atende.tickets.change(tid, lambda t: t.change_priority("urgent", AGENT))

    assert proxy.dropped_commits == 1
    ticket = direct.tickets.get_ticket(tid)
    assert ticket.priority == "urgent" and ticket.version == 2
    assert direct.audit.verify().ok
