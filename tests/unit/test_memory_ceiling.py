"""A worker's memory ceiling (interface/http/server/memory_ceiling.py): its settings, the
hard limit it sets, and what a request that runs out of memory gets (on a bare Falcon app
with Atende's error handlers; tests/e2e/test_worker_memory_ceiling.py has the real server)."""

from __future__ import annotations

import subprocess
import sys

import falcon
import falcon.media
import falcon.testing
import pytest

from interface.http.errors import PROBLEM_JSON, add_error_handlers, serialize_problem
from interface.http.server import memory_ceiling
from interface.http.server.memory_ceiling import (
    MAX_RSS_ENV,
    MEMORY_LIMIT_ENV,
    configured_max_rss,
    configured_memory_limit,
    recycle_reason,
)


class Greedy:
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        raise MemoryError


@pytest.fixture
def client():
    app = falcon.App()
    json = falcon.media.JSONHandler()
    app.resp_options.media_handlers = falcon.media.Handlers({PROBLEM_JSON: json})
    add_error_handlers(app)
    app.set_error_serializer(serialize_problem)
    app.add_route("/greedy", Greedy())
    yield falcon.testing.TestClient(app)
    memory_ceiling._recycle_asked.clear()


def test_a_request_that_runs_out_of_memory_is_503_and_asks_for_a_fresh_worker(client):
    assert recycle_reason(None) is None
    answer = client.simulate_post("/greedy")
    assert answer.status_code == 503
    assert answer.json["type"] == "urn:atende:problem:unavailable"
    assert answer.headers["Retry-After"]
    assert recycle_reason(None) == "a request ran out of memory"


def test_a_worker_under_its_resident_ceiling_stays():
    assert recycle_reason(1_000_000) is None
    assert "is over ATENDE_WORKER_MAX_RSS=1" in recycle_reason(1)


def test_the_settings_default_to_two_gib_of_data_and_one_gib_resident():
    assert configured_memory_limit({}) == 2048
    assert configured_max_rss({}) == 1024


@pytest.mark.parametrize("off", ["off", "OFF", " none ", "0"])
def test_either_setting_can_be_turned_off(off):
    assert configured_memory_limit({MEMORY_LIMIT_ENV: off}) is None
    assert configured_max_rss({MAX_RSS_ENV: off}) is None


@pytest.mark.parametrize("bad", ["lots", "-5", "1.5", "512MB", ""])
def test_a_setting_that_is_not_a_whole_number_of_mib_is_refused_naming_it(bad):
    with pytest.raises(ValueError, match=f"{MAX_RSS_ENV} must be a size in MiB or 'off'"):
        configured_max_rss({MAX_RSS_ENV: bad})


def _data_limit_after(code: str) -> int:
    script = f"import resource; from interface.http.server import memory_ceiling as m; {code}; " \
             "print(resource.getrlimit(resource.RLIMIT_DATA)[0])"  # fmt: skip
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return int(out.stdout)


def test_the_hard_limit_caps_the_data_segment_and_never_raises_a_lower_one():
    assert _data_limit_after("m.limit_data_segment(300)") == 300 * 1024 * 1024
    lower = "resource.setrlimit(resource.RLIMIT_DATA, (200 << 20, resource.RLIM_INFINITY))"
    assert _data_limit_after(f"{lower}; m.limit_data_segment(300)") == 200 * 1024 * 1024
    assert _data_limit_after("m.limit_data_segment(None)") == -1  # RLIM_INFINITY
