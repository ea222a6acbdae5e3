"""Anchors through a real server: the projector anchors new events within the interval,
verify (CLI and HTTP) reports the unanchored window, and the public key printed by
`atende audit public-key` checks every anchor in the file without the secret."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.audit_chain import Checkpoint
from infrastructure.anchors import is_signed
from tests.databases import checkpoints_for
from tests.e2e.api import Api
from tests.e2e.server import BIN, Server, running_server

WAIT_SECONDS = 30


@pytest.fixture(scope="module")
def anchoring_server(server: Server, tmp_path_factory) -> Iterator[Server]:
    backend = "sqlite" if server.database_url.startswith("sqlite") else "postgres"
    directory = tmp_path_factory.mktemp(f"anchors-{backend}")
    env = {"ATENDE_CHECKPOINT_INTERVAL": "1s"}
    with running_server(backend, directory, workers=1, env=env) as running:
        yield running


def _anchors(server: Server) -> list[dict]:
    path = Path(checkpoints_for(server.database_url))
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _atende(server: Server, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "atende"), *args], env=server.env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip


def test_new_events_are_anchored_outside_the_database_within_the_interval(anchoring_server):
    server = anchoring_server
    api = Api(server.base_url, server.create_token("integrator", "anchors"))
    position = api.open_ticket()["position"]
    deadline = time.monotonic() + WAIT_SECONDS
    while not any(a["position"] >= position for a in _anchors(server)):
        assert time.monotonic() < deadline, "no anchor covered the new ticket"
        time.sleep(0.2)

    verified = _atende(server, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "Anchored up to position" in verified.stdout

    auditor = Api(server.base_url, server.create_token("auditor", "anchors-auditor"))
    report = auditor.get("/v1/audit/verify").json()
    assert report["ok"] and report["unanchored"]["anchored_position"] >= position


def test_the_public_key_alone_checks_every_anchor_in_the_file(anchoring_server):
    printed = _atende(anchoring_server, "audit", "public-key")
    assert printed.returncode == 0, printed.stderr
    public_key = printed.stdout.strip()
    anchors = [Checkpoint(**a) for a in _anchors(anchoring_server)]
    assert anchors
    assert all(is_signed(public_key, a.payload(), a.signature) for a in anchors)
