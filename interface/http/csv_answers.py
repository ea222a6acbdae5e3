"""Reports answer CSV to ``Accept: text/csv``: one header row, then one row per item of
the JSON answer (nested members as ``a.b`` columns, null as an empty cell)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

import falcon

CSV = "text/csv"


def wants_csv(req: falcon.Request) -> bool:
    """JSON unless the client prefers CSV (no Accept, or ``*/*``, is JSON)."""
    return req.client_prefers((falcon.MEDIA_JSON, CSV)) == CSV


def flatten(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested members as ``a.b`` columns."""
    flat: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def send_csv(
    resp: falcon.Response, header: list[str], rows: Iterable[list[Any]], name: str
) -> None:
    """``rows`` under ``header``, as a download named ``name.csv``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    resp.content_type = f"{CSV}; charset=utf-8"
    resp.downloadable_as = f"{name}.csv"
    resp.text = out.getvalue()


def send_items_csv(
    resp: falcon.Response, columns: Iterable[str], items: Iterable[dict[str, Any]], name: str
) -> None:
    """Items (flattened) under ``columns``, in that order."""
    header = list(columns)
    send_csv(resp, header, ([flatten(item).get(c) for c in header] for item in items), name)
