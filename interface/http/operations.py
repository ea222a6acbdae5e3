"""Every route's OpenAPI operation, collected from the resource modules, each of which
declares the operations of its own routes next to them (a module-level ``OPERATIONS``).

The document (``build_document``) and the query-parameter guard (middleware/
query_params.py, given ``OPERATIONS`` by create_app) both read this, so what a route is
documented to take is what it takes. A new resource module goes in ``DECLARING``:
tests/integration/test_openapi_coverage.py fails while any routed operation is missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from types import ModuleType
from typing import Any

from interface.http.csv_answers import CSV_SUFFIX
from interface.http.openapi import document
from interface.http.openapi.operation import Operations
from interface.http.resources import (
    agents,
    audit,
    customers,
    docs,
    events,
    health,
    intake,
    kb,
    me,
    metrics,
    queue,
    reports,
    sla,
    surveys,
    tickets,
    tokens,
    webhooks,
)

# In the order create_app adds their routes.
DECLARING = (
    health,
    metrics,
    events,
    queue,
    tickets,
    sla,
    agents,
    intake,
    customers,
    surveys,
    reports,
    audit,
    tokens,
    webhooks,
    kb,
    me,
    docs,
)


def collect(modules: Iterable[ModuleType]) -> Operations:
    """The modules' operations as one mapping; a route two modules declare is an error."""
    operations: Operations = {}
    for module in modules:
        for route, operation in module.OPERATIONS.items():
            if route in operations:
                raise ValueError(f"{route} is declared twice (again in {module.__name__})")
            operations[route] = operation
    return operations


def with_csv_twins(operations: Operations) -> Operations:
    """Each report that answers CSV by Accept, again at its path + ``.csv``: the same
    operation answering text/csv only (interface/http/csv_answers.py says why)."""
    twins: Operations = {
        (template + CSV_SUFFIX, method): replace(
            operation,
            summary=f"{operation.summary} (CSV)",
            response=None,
            raw_response={"text/csv": {"type": "string"}},
            csv=False,
            description=f"{operation.description} The same report as text/csv; "
            "the columns are the JSON answer's members (nested ones as a.b).".strip(),
        )
        for (template, method), operation in operations.items()
        if operation.csv
    }
    return {**operations, **twins}


OPERATIONS = with_csv_twins(collect(DECLARING))


def build_document() -> dict[str, Any]:
    """The OpenAPI document of every route."""
    return document.build(OPERATIONS)
