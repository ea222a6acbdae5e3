"""Keeps the garbage collector off the objects a process starts with.

A worker imports falcon, marshmallow, apispec, eventsourcing and the app, and builds its
routes and schemas: about 80,000 tracked objects that live as long as the process. Every
full collection walks all of them, 40 ms on the two-core machine the benchmarks run on,
and a request that allocates much (rebuilding a ticket with a thousand messages builds
thousands of dicts) sets one off every few dozen requests: that was the as-of p99.
``gc.freeze()`` moves what exists now into a permanent generation that collections skip
(https://docs.python.org/3/library/gc.html#gc.freeze); collecting first keeps garbage
from being frozen with it.

A long batch job (a view's rebuild, infrastructure/rebuild.py) freezes what it starts with
for the same reason: its batches' objects set off full collections that would walk it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def freeze_startup_heap() -> int:
    """Call once the process has built what it keeps; returns how many objects froze."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


# A rebuild's batch allocates a few hundred objects an event (its notifications, the
# decoded events, their rows) and keeps most of them until the batch is written. At the
# default threshold (700) a young collection runs every few events, finds them still
# alive, and promotes them to be walked again by the older generations: 0.2-0.3 s of a
# 3.2 s rebuild of 100,000 events on PostgreSQL. A threshold this high lets most of
# each batch die before a collection ever sees it; collections still run, so garbage
# in cycles is still reclaimed.
BATCH_JOB_YOUNG_THRESHOLD = 100_000


@contextmanager
def fewer_collections(young_threshold: int = BATCH_JOB_YOUNG_THRESHOLD) -> Iterator[None]:
    """Collect the young generation only every ``young_threshold`` allocations while in
    the block; the thresholds before it are put back after."""
    before = gc.get_threshold()
    gc.set_threshold(young_threshold, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
