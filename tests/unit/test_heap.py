"""Workers freeze what they start with, so full collections skip it; a rebuild collects its
young objects less often while it runs (infrastructure/heap.py)."""

from __future__ import annotations

import gc

import pytest

from infrastructure.heap import fewer_collections, freeze_startup_heap


def test_freezing_the_start_up_heap_moves_what_exists_out_of_the_collectors_way():
    kept = [[n] for n in range(1000)]  # lists are always tracked; small dicts may not be
    try:
        frozen = freeze_startup_heap()
        # Not compared with gc.get_freeze_count() again: a thread left running by an
        # earlier test frees or freezes objects meanwhile, and the count moves.
        assert frozen >= len(kept)
        assert not any(obj is kept[0] for obj in gc.get_objects())
    finally:
        gc.unfreeze()
    assert any(obj is kept[0] for obj in gc.get_objects())


def test_a_batch_job_collects_young_objects_less_often_and_puts_the_thresholds_back():
    before = gc.get_threshold()
    with fewer_collections(50_000):
        assert gc.get_threshold() == (50_000, *before[1:])
    assert gc.get_threshold() == before


def test_the_thresholds_are_put_back_when_the_batch_job_fails():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_collections(50_000):
        raise RuntimeError("the rebuild stopped")
    assert gc.get_threshold() == before
