"""Verify's ranges walked in processes of their own (application/chain_ranges.py).

Verifying is CPU work in Python, so threads would take turns on one core; each worker is
a process with its own connection to the database. They are spawned, not forked: verify
runs inside gunicorn workers and the CLI alike, and a fork would copy their open
connections and locks. Each spawn costs an interpreter's start (about a second), which is
why short logs are walked in one range, in the calling process.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from application.chain_ranges import Bounds, RangeWalk, walk_range
from domain.audit_chain import Checkpoint
from infrastructure.audit_log import AuditLog
from infrastructure.sql import SqlDatabase


class ProcessRanges:
    """A ``RangeRunner``: one process a range, all at once."""

    def __init__(self, env: dict[str, str], app_name: str, events_table: str):
        # Only what a worker needs to open the database: its connection settings.
        self.env, self.app_name, self.events_table = env, app_name, events_table

    def __call__(
        self,
        ranges: Sequence[Bounds],
        checkpoints: dict[int, Checkpoint],
        seal_key: bytes | None,
        anchored_at: int,
    ) -> list[RangeWalk]:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=len(ranges), mp_context=context) as pool:
            futures = [
                pool.submit(
                    _walk_in_worker,
                    self.env,
                    self.app_name,
                    self.events_table,
                    checkpoints,
                    seal_key,
                    anchored_at,
                    bounds,
                )
                for bounds in ranges
            ]
            return [future.result() for future in futures]


def _walk_in_worker(
    env: dict[str, str],
    app_name: str,
    events_table: str,
    checkpoints: dict[int, Checkpoint],
    seal_key: bytes | None,
    anchored_at: int,
    bounds: Bounds,
) -> RangeWalk:
    factory = InfrastructureFactory.construct(Environment(app_name, env))
    try:
        log = AuditLog(SqlDatabase(factory.datastore), events_table)
        return walk_range(log, checkpoints, seal_key, anchored_at, bounds)
    finally:
        factory.close()
