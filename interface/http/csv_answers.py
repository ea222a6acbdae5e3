"""Reports answer CSV to ``Accept: text/csv``, and at their path + ``.csv`` whatever
Accept says: one header row, then one row per item of the JSON answer (nested members as
``a.b`` columns, null as an empty cell).

The ``.csv`` twin is an operation of its own because generated clients parse an answer by
the one media type they expect: a route that answers JSON or CSV by Accept gives them no
way to ask for CSV (issue 21)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

import falcon

CSV = "text/csv"


CSV_SUFFIX = ".csv"


def wants_csv(req: falcon.Request) -> bool:
    """The ``.csv`` twin, or a client that prefers CSV (no Accept, or ``*/*``, is JSON)."""
    return getattr(req.context, "csv", False) or req.client_prefers((falcon.MEDIA_JSON, CSV)) == CSV


class CsvTwin:
    """``<route>.csv``: the route's own ``on_get`` (its hooks and all), answering CSV."""

    def __init__(self, resource: Any):
        self.resource = resource

    def on_get(self, req: falcon.Request, resp: falcon.Response, **params: Any) -> None:
        req.context.csv = True
        self.resource.on_get(req, resp, **params)


def add_route_and_csv_twin(app: falcon.App, template: str, resource: Any) -> None:
    app.add_route(template, resource)
    app.add_route(template + CSV_SUFFIX, CsvTwin(resource))


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
