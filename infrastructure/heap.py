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


def freeze_startup_heap() -> int:
    """Call once the process has built what it keeps; returns how many objects froze."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
