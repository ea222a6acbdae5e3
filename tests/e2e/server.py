"""A real Atende (``atende serve`` -> gunicorn) in a subprocess on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.databases import (
    SECRET_KEY_TEXT,
    checkpoints_for,
    fresh_database_url,
    keystore_for,
)

BIN = Path(sys.executable).parent
STARTUP_SECONDS = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    database_url: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, workers: int = 2) -> Server:
        # A restart keeps the port, so clients made before it still reach the server.
        self.port = self.port or free_port()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    str(BIN / "atende"),
                    "serve",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    str(workers),
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_until_healthy()
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def create_token(self, role: str, name: str, *options: str) -> str:
        """Through the CLI, as an operator would: the token is the last line printed. An
        agent token is bound to an agent registered for it (offline, no capacity, Quechua
        only: the router never hands it a ticket) unless ``options`` name one."""
        if role == "agent" and "--agent" not in options:
            options = (*options, "--agent", self.register_agent(name))
        out = subprocess.run(
            [str(BIN / "atende"), "tokens", "create", "--role", role, "--name", name, *options],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip().splitlines()[-1]

    def register_agent(self, name: str) -> str:
        """A new agent (offline, no capacity, Quechua only) for a token to act as."""
        admin = self.create_token("admin", f"{name}-registrar")
        answer = requests.post(
            f"{self.base_url}/v1/agents",
            json={"name": name, "email": f"{name}-{uuid.uuid4().hex[:8]}@agents.example.com",
                  "languages": ["qu"], "capacity": 0},
            headers={"Authorization": f"Bearer {admin}"},
            timeout=30,
        )  # fmt: skip
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if requests.get(f"{self.base_url}/v1/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:  # not listening, or still booting
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Atende did not start; its log:\n{self.log_path.read_text()}")


@contextmanager
def running_server(
    backend: str, directory: Path, *, workers: int = 2, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """A fresh database for ``backend`` and an Atende serving it (with ``env`` on top of the
    usual), stopped and the database dropped afterwards."""
    with fresh_database_url(backend, directory) as url:
        environment = {**server_env(url, SECRET_KEY_TEXT), **(env or {})}
        server = Server(url, directory / "server.log", env=environment).start(workers=workers)
        try:
            yield server
        finally:
            server.stop()


def server_env(database_url: str, secret_key: str) -> dict[str, str]:
    return {
        **os.environ,
        "ATENDE_DATABASE_URL": database_url,
        "ATENDE_SECRET_KEY": secret_key,
        "ATENDE_KEYSTORE_DIR": keystore_for(database_url),
        "ATENDE_CHECKPOINT_FILE": checkpoints_for(database_url),
        "ATENDE_ACCESS_LOG": "",
        # The role and bad-input tests send hundreds of refused credentials from one
        # address; the throttle on guessing has a server of its own (test_auth_throttle.py).
        "ATENDE_AUTH_FAILURE_LIMIT": "off",
        # Help-centre counts are recorded only as a worker stops: a flush in the
        # background would land between a test's "nothing stored" head reads (the tests
        # of the counts run servers of their own, tests/e2e/test_kb.py).
        "ATENDE_KB_USAGE_INTERVAL": "1h",
    }
