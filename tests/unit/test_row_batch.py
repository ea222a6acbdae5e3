"""A batch of row changes, reduced to fewer statements, leaves the rows as applying each
change in turn would; checked against an in-memory model of the SQL."""

from __future__ import annotations

from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from infrastructure.views.batch import RowBatch, grouped

Rows = dict[str, dict[str, Any]]
IDS = ("a", "b", "c")
STATUSES = ("new", "open", "pending")


class InsertOverExistingRow(Exception):
    """What the primary key makes of a second INSERT of a row."""


def insert(rows: Rows, row_id: str, fields: dict[str, Any]) -> None:
    if row_id in rows:
        raise InsertOverExistingRow(row_id)
    rows[row_id] = dict(fields)


def update(rows: Rows, row_id: str, fields: dict[str, Any], guard: str | None) -> None:
    row = rows.get(row_id)
    if row is not None and (guard is None or row.get("status") == guard):
        row.update(fields)


def one_by_one(rows: Rows, changes: list[tuple]) -> Rows:
    rows = {k: dict(v) for k, v in rows.items()}
    for row_id, fields, is_insert, guard in changes:
        if fields is None:
            rows.pop(row_id, None)
        elif is_insert:
            insert(rows, row_id, fields)
        elif fields:
            update(rows, row_id, fields, guard)
    return rows


def batched(rows: Rows, changes: list[tuple]) -> Rows:
    rows = {k: dict(v) for k, v in rows.items()}
    batch = RowBatch()
    for row_id, fields, is_insert, guard in changes:
        batch.add(row_id, fields, insert=is_insert, only_if_status=guard)
    for row_id in batch.deleted():
        rows.pop(row_id, None)
    for round_ in batch.rounds():
        assert len({row_id for row_id, _ in round_}) == len(round_), "a row twice in a round"
        for row_id, op in round_:
            if op.insert:
                insert(rows, row_id, op.fields)
            else:
                update(rows, row_id, op.fields, op.guard)
    return rows


fields = st.dictionaries(
    st.sampled_from(["status", "assignee", "priority"]),
    st.sampled_from([*STATUSES, "x", None]),
    max_size=2,
)
full_row = st.fixed_dictionaries(
    {"status": st.sampled_from(STATUSES), "assignee": st.sampled_from(["x", None])}
)
change = st.one_of(
    st.tuples(st.sampled_from(IDS), fields, st.just(False), st.sampled_from([None, *STATUSES])),
    st.tuples(st.sampled_from(IDS), full_row, st.just(True), st.none()),
    st.tuples(st.sampled_from(IDS), st.none(), st.just(False), st.none()),
)


@given(
    before=st.dictionaries(st.sampled_from(IDS), full_row),
    changes=st.lists(change, max_size=12),
)
def test_a_reduced_batch_leaves_the_rows_as_each_change_in_turn_would(before, changes):
    try:
        expected = one_by_one(before, changes)
    except InsertOverExistingRow:
        assume(False)
    assert batched(before, changes) == expected


def test_a_row_opened_and_worked_on_in_one_batch_is_one_insert():
    batch = RowBatch()
    batch.add("t", {"status": "new", "assignee": None}, insert=True, only_if_status=None)
    batch.add("t", {"assignee": "maria"}, insert=False, only_if_status=None)
    batch.add("t", {"status": "open"}, insert=False, only_if_status="new")
    batch.add("t", {"status": "open"}, insert=False, only_if_status="new")
    [[(row_id, op)]] = list(batch.rounds())
    assert (row_id, op.insert, op.fields) == ("t", True, {"status": "open", "assignee": "maria"})


def test_statements_that_may_run_in_any_order_are_grouped_by_their_text():
    pairs = [("A", {"id": 1}), ("B", {"id": 2}), ("A", {"id": 3})]
    assert grouped(pairs) == [("A", [{"id": 1}, {"id": 3}]), ("B", [{"id": 2}])]
