"""The projector as a real process: killed mid-backlog it loses and doubles nothing; the
operator's rebuild, in a process of its own, ends where the projector did."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from domain.customer import Contact
from infrastructure.rebuild import rebuild
from interface.wiring import bootstrap
from tests.databases import BACKENDS, SECRET_KEY_TEXT, fresh_database_url, settings_for
from tests.e2e.server import BIN, server_env
from tests.integration.builders import AGENT, open_ticket
from tests.integration.test_queue_rebuild_property import erase_customer_of

BACKLOG_TICKETS = 600


@pytest.fixture(params=BACKENDS)
def backlog(request, tmp_path):
    with fresh_database_url(request.param, tmp_path) as url:
        atende = bootstrap(
            settings_for(url)
        )
        for i in range(BACKLOG_TICKETS):
            tid = open_ticket(atende, tags=[f"t{i % 5}"]).ticket.id
            if i % 3 == 0:
                atende.tickets.change(tid, lambda t: t.assign("maria", AGENT))
        yield atende, {**server_env(url, SECRET_KEY_TEXT), "ATENDE_PROJECTOR_BATCH_SIZE": "10"}
        atende.close()


def _position(atende) -> int:
    return atende.views["queue"].max_tracking_id(atende.tickets.name) or 0


@contextmanager
def _projector(env: dict[str, str], stderr=None) -> Iterator[subprocess.Popen]:
    """`atende project` as a process, killed should the test fail before it stopped:
    a projector left running would outlive its dropped schema."""
    process = subprocess.Popen([str(BIN / "atende"), "project"], env=env, stderr=stderr)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _wait_for(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_projector_killed_mid_backlog_resumes_and_matches_a_rebuild(backlog):
    atende, env = backlog
    head = atende.tickets.head_position()
    with _projector(env) as projector:
        _wait_for(lambda: _position(atende) > 0)
        projector.send_signal(signal.SIGKILL)
        projector.wait()
    killed_at = _position(atende)
    assert 0 < killed_at < head, "the kill came too late to test anything"

    with _projector(env) as projector:
        _wait_for(lambda: _position(atende) == head)
        projector.send_signal(signal.SIGTERM)
        assert projector.wait(timeout=20) == 0
    live = atende.views["queue"].rows()
    assert len(live) == BACKLOG_TICKETS
    rebuild(atende, "queue")
    assert atende.views["queue"].rows() == live


@pytest.fixture(params=BACKENDS)
def customers_log(request, tmp_path):
    """Sixty tickets of twenty customers, two of them erased, and no view caught up."""
    with fresh_database_url(request.param, tmp_path) as url:
        atende = bootstrap(settings_for(url))
        customers = [Contact(name=f"Cliente {i}", email=f"c{i}@example.com") for i in range(20)]
        tickets = [open_ticket(atende, contact=customers[i % 20]).ticket.id for i in range(60)]
        for erased in tickets[3], tickets[7]:
            erase_customer_of(atende, erased)
        yield atende, tickets, server_env(url, SECRET_KEY_TEXT)
        atende.close()


def test_the_operators_rebuild_in_a_fresh_process_matches_what_the_projector_built(
    customers_log,
):
    # The projector deciphers the names as they come; `atende projections rebuild` starts
    # with no key cached and reads each batch's keys together (on PostgreSQL writing each
    # batch behind the next one's decoding).
    atende, tickets, env = customers_log
    head = atende.tickets.head_position()
    with _projector(env) as projector:
        _wait_for(lambda: _position(atende) == head)
        projector.send_signal(signal.SIGTERM)
        assert projector.wait(timeout=20) == 0
    live = atende.views["queue"].rows()
    names = {row["id"]: row["requester_name"] for row in live}
    assert names[str(tickets[3])] == names[str(tickets[23])] == "[erased]"
    assert names[str(tickets[4])] == "Cliente 4"

    rebuilt = subprocess.run(
        [str(BIN / "atende"), "projections", "rebuild", "queue"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip

    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"queue: rebuilt to position {head}" in rebuilt.stderr
    assert atende.views["queue"].rows() == live


# tgkill(2): a signal to one thread of a process. Python's signal module aims only at
# threads of its own process (pthread_kill).
SYS_TGKILL = {"x86_64": 234, "aarch64": 131}


def _signal_a_thread_other_than_main(pid: int, signum: int) -> None:
    machine = os.uname().machine
    assert machine in SYS_TGKILL, f"tgkill's system call number on {machine} is not known here"
    others = [int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid]
    assert others, "the projector runs no threads"
    libc = ctypes.CDLL(None, use_errno=True)
    sent = libc.syscall(SYS_TGKILL[machine], pid, others[0], signum)
    assert sent == 0, os.strerror(ctypes.get_errno())


@pytest.fixture(params=BACKENDS)
def empty_log(request, tmp_path):
    with fresh_database_url(request.param, tmp_path) as url:
        bootstrap(settings_for(url)).close()  # the schema, as a deploy's migration leaves it
        yield server_env(url, SECRET_KEY_TEXT)


def test_the_projector_stops_on_sigterm_whichever_of_its_threads_the_kernel_hands_it_to(
    empty_log, tmp_path: Path
):
    # The kernel may give a process's SIGTERM to any of its threads; Python runs the
    # handler only in the main thread, once that thread runs again.
    log = tmp_path / "projector.log"
    with log.open("wb") as stderr, _projector(empty_log, stderr=stderr) as projector:
        _wait_for(lambda: "projector following" in log.read_text())
        _signal_a_thread_other_than_main(projector.pid, signal.SIGTERM)
        assert projector.wait(timeout=20) == 0
