"""gunicorn started the way an operator's own unit file may still say, with the module
paths of before the layout moved (issue 18): it serves Atende as ``atende serve`` does."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import requests

from tests.databases import SECRET_KEY_TEXT, fresh_database_url
from tests.e2e.server import BIN, Server, free_port, server_env

STARTUP_SECONDS = 30


def test_gunicorn_with_the_old_config_and_app_paths_serves_atende(server: Server, tmp_path: Path):
    backend = "sqlite" if server.database_url.startswith("sqlite") else "postgres"
    port = free_port()
    with fresh_database_url(backend, tmp_path) as url:
        env = {**server_env(url, SECRET_KEY_TEXT), "ATENDE_PROJECTOR": "off"}
        command = [
            str(BIN / "gunicorn"),
            "--config", "python:interface.http.gunicorn_conf",
            "--bind", f"127.0.0.1:{port}",
            "--workers", "1",
            "interface.http.app:get_app()",
        ]  # fmt: skip
        with open(tmp_path / "gunicorn.log", "wb") as log:
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            assert _health(port) == 200, (tmp_path / "gunicorn.log").read_text()
        finally:
            process.terminate()
            process.wait(timeout=20)


def _health(port: int) -> int | None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            return requests.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code
        except requests.RequestException:
            time.sleep(0.1)
    return None
