"""Each resource module declares the OpenAPI operations of its own routes; the OpenAPI
package describes them without importing any resource (no import loop), and one route
declared by two modules is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from interface.http.openapi.operation import Operation
from interface.http.operations import collect

ROOT = Path(__file__).resolve().parents[2]


def test_the_openapi_package_imports_no_resource():
    code = (
        "import sys, interface.http.openapi.document, interface.http.openapi.operation; "
        "print(sorted(m for m in sys.modules if m.startswith('interface.http.resources')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"


def test_a_route_two_modules_declare_is_refused():
    read = Operation("Read a thing", "things", None)
    first = SimpleNamespace(__name__="first", OPERATIONS={("/v1/things", "get"): read})
    second = SimpleNamespace(__name__="second", OPERATIONS={("/v1/things", "get"): read})
    assert collect([first]) == {("/v1/things", "get"): read}
    with pytest.raises(ValueError, match="declared twice"):
        collect([first, second])
