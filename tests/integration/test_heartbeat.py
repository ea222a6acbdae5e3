"""The projector's heartbeat table on real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from infrastructure.heartbeat import FORGET_AFTER, ProjectorHeartbeat


def test_the_newest_beat_of_any_projector_is_what_health_reads(atende):
    start = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    atende.heartbeats.beat("host-a", 10, start, start + timedelta(seconds=5))
    atende.heartbeats.beat("host-b", 20, start, start + timedelta(seconds=9))
    atende.heartbeats.beat("host-a", 10, start, start + timedelta(seconds=7))

    newest = atende.heartbeats.newest()
    assert (newest.host, newest.pid) == ("host-b", 20)
    assert newest.age(start + timedelta(seconds=12)) == 3


def test_a_projector_that_stops_cleanly_leaves_no_heartbeat(atende):
    heartbeat = ProjectorHeartbeat(atende.heartbeats)
    heartbeat.beat()
    assert atende.heartbeats.newest().pid == heartbeat.pid

    heartbeat.stop()
    assert atende.heartbeats.newest() is None


def test_beats_of_projectors_long_dead_are_forgotten(atende):
    now = datetime.now(UTC)
    long_ago = now - FORGET_AFTER - timedelta(minutes=1)
    atende.heartbeats.beat("gone", 1, long_ago, long_ago)
    atende.heartbeats.beat("here", 2, now, now)

    rows = atende.db.fetchone(f"SELECT COUNT(*) AS n FROM {atende.heartbeats.t}")
    assert rows["n"] == 1 and atende.heartbeats.newest().host == "here"
