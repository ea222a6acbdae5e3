"""The projector as a child of gunicorn's master: restarted when it dies, gone when the
master is.

The master starts ``atende project`` beside its workers. Nothing else would notice that
process dying (views going stale, the SLA clock and checkpoints stopping), so a thread in
the master restarts it, waiting longer after each quick death (1 s doubling to a minute).
The other way round, a projector whose master died (``kill -9``) must not live on as an
orphan writing to the database: it watches its parent and stops when it changes.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable

log = logging.getLogger("atende.projector")

SUPERVISOR_ENV = "ATENDE_PROJECTOR_PARENT"
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0
HEALTHY_AFTER = 60.0  # a run this long resets the backoff
PARENT_CHECK_SECONDS = 1.0


class SupervisedProjector:
    """Starts ``atende project`` and keeps it running until ``stop()``."""

    def __init__(self, command: list[str] | None = None):
        atende = os.path.join(os.path.dirname(sys.executable), "atende")
        self.command = command or [atende, "project"]
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="projector-supervisor",
                                        daemon=True)  # fmt: skip

    def start(self) -> None:
        self._spawn()
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()

    def _spawn(self) -> None:
        env = {**os.environ, SUPERVISOR_ENV: str(os.getpid())}
        self.process = subprocess.Popen(self.command, env=env)
        self._started_at = time.monotonic()

    def _watch(self) -> None:
        backoff = FIRST_BACKOFF
        while not self._stopping.wait(0.5):
            process = self.process
            if process is None or process.poll() is None:
                continue
            if time.monotonic() - self._started_at >= HEALTHY_AFTER:
                backoff = FIRST_BACKOFF
            log.error("projector exited (code %s); restarting in %.0f s",
                      process.returncode, backoff)  # fmt: skip
            if self._stopping.wait(backoff):
                return
            self.restarts += 1
            self._spawn()
            backoff = min(backoff * 2, MAX_BACKOFF)


def stop_when_orphaned(stop: Callable[[], None]) -> None:
    """Call ``stop`` once the master that started this projector is gone (a process
    whose parent dies is adopted by another, so its parent pid changes)."""
    parent = os.environ.get(SUPERVISOR_ENV)
    if not parent:
        return  # started by hand or by systemd: whoever started it supervises it

    def watch() -> None:
        while os.getppid() == int(parent):
            time.sleep(PARENT_CHECK_SECONDS)
        log.error("the gunicorn master (pid %s) is gone; the projector stops", parent)
        stop()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
