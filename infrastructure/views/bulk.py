"""On PostgreSQL, the rows one view statement applies to in a batch, as one statement.

A view writes a batch as one executemany per statement (infrastructure/views/batch.py).
psycopg's executemany is Python for every row (converting, dumping, queueing it in the
pipeline): some 19 µs of the client's CPU a row, most of a rebuild's write time. The same
rows sent as one JSON array, which the server unpacks with ``jsonb_to_recordset``, cost a
``json.dumps`` (C) and one statement: a fifth of the client's CPU for 20,000 rows, the
server doing the rest on its own core (issue 19).

Only statements whose rows are independent have a bulk form: in a group they touch
distinct rows (``RowBatch.rounds``, ``TagBatch``), so one set-based statement leaves
what running them one by one would. A view registers each form beside the statement it
replaces; statements without one (updates, whose guards and columns vary) stay
executemany. SQLite's executemany is C already and keeps it.

Text the database cannot store (NUL, lone surrogates) fails the JSON as it would the
row: a ``DataError`` or ``UnicodeEncodeError``, which the follower answers by writing
the batch again with such text replaced (infrastructure/projector.py, views.storable).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache

from infrastructure.views.batch import Params

# The group's rows, as the statement reads them: one parameter, a JSON array of objects.
ROWS_PARAM = "rows"
# The stdlib's encoder, not orjson: a lone surrogate then fails as UnicodeEncodeError when
# psycopg encodes the text, which the follower's fallback answers (orjson raises a
# TypeError of its own, which it would not).
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def rows_param(rows: Sequence[Params]) -> dict[str, str]:
    """The one parameter of a bulk statement."""
    return {ROWS_PARAM: _dumps(rows)}


def typed_rows(columns: dict[str, str]) -> str:
    """The rows as a relation ``r`` with these columns and types (for parameters that
    are no column of the table written, or whose column types are known)."""
    declared = ", ".join(f"{name} {kind}" for name, kind in columns.items())
    return f"jsonb_to_recordset(CAST(:{ROWS_PARAM} AS jsonb)) AS r({declared})"


def table_rows(table: str) -> str:
    """The rows as a relation ``r`` of the table's own row type: each key a column,
    converted as the column says, missing keys NULL."""
    return f"jsonb_populate_recordset(NULL::{table}, CAST(:{ROWS_PARAM} AS jsonb)) AS r"


@lru_cache(maxsize=64)
def delete_by(table: str, column: str) -> str:
    """``DELETE FROM table WHERE column = :id`` for every row's ``id``."""
    return f"DELETE FROM {table} WHERE {column} IN (SELECT r.id FROM {typed_rows({'id': 'text'})})"
