"""Commands that lose a race with another writer: read again, apply again, save again.

A command reads an aggregate, applies itself and saves the new events at the versions
after the one it read. When another writer saved first, the store refuses the save
(IntegrityError: the version is taken) and nothing of it is written; the command then
applies to the aggregate as the other writer left it. After a few lost races in a row
it gives up with ConcurrentWriteConflict (a 409).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from eventsourcing.persistence import IntegrityError

from application.errors import ConcurrentWriteConflict

T = TypeVar("T")  # what the command answers


@dataclass(frozen=True)
class Save(Generic[T]):
    """What an attempt that changed its aggregate hands back: ``write`` saves it and
    answers the command, or raises IntegrityError when another writer saved first."""

    write: Callable[[], T]


def save_with_retries(
    attempt: Callable[[], T | Save[T]],
    *,
    what: str,
    retries: int,
    backoff_seconds: float = 0.0,
    on_conflict: Callable[[], None] | None = None,
) -> T:
    """Run ``attempt`` (read the aggregate afresh and apply the command) and then its
    Save's write, again while the write loses the race, at most ``retries`` times. An
    attempt that answers without a Save (the command changed nothing) wrote nothing:
    that is the answer.

    ``on_conflict`` runs after each lost race, to raise rather than try again (a stale
    If-Match). ``backoff_seconds``: before the n-th retry, wait a random time up to n
    times it, so writers racing for one aggregate spread out. Giving up raises
    ConcurrentWriteConflict("<what> kept changing; try again").
    """
    for retry in range(retries):
        if retry and backoff_seconds:
            time.sleep(random.uniform(0, backoff_seconds * retry))
        step = attempt()
        if not isinstance(step, Save):
            return step
        try:
            return step.write()
        except IntegrityError:
            if on_conflict is not None:
                on_conflict()
    raise ConcurrentWriteConflict(f"{what} kept changing; try again")
