"""The SLA clock stops even when a sweep finishes while it is stopping
(infrastructure/scheduler.py). APScheduler's shutdown holds its job stores' lock while it
waits for a running job, and a finishing sweep re-arms, which needs that lock: the two
waited for each other forever. A CI run caught a projector hanging so at the end of the
suite. Run in a subprocess, so that a regression fails here instead of hanging the run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCENARIO = textwrap.dedent(
    """
    import os, threading, time
    from types import SimpleNamespace
    import infrastructure.scheduler as scheduler

    started, release = threading.Event(), threading.Event()

    def slow_sweep(app, view, now):
        started.set()
        release.wait(10)
        return SimpleNamespace(recorded=[], next_due=None)

    scheduler.sweep = slow_sweep
    clock = scheduler.SlaScheduler(app=None, view=None)
    clock.start()  # armed for now: the sweep starts at once
    assert started.wait(10), "the sweep never ran"
    stopping = threading.Thread(target=clock.shutdown)
    stopping.start()
    time.sleep(0.3)  # the shutdown is waiting for the running sweep
    release.set()  # which now finishes and re-arms
    stopping.join(10)
    print("hung" if stopping.is_alive() else "stopped", flush=True)
    os._exit(0)  # a hung job thread would otherwise keep this process alive
    """
)


def test_the_sla_clock_stops_while_a_sweep_that_re_arms_is_finishing():
    ran = subprocess.run(
        [sys.executable, "-c", SCENARIO], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert ran.stdout.strip() == "stopped", (ran.stdout, ran.stderr[-2000:])
