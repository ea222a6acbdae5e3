"""gunicorn settings for Atende; every value can be overridden from the environment."""

import os
import subprocess
import sys

bind = os.environ.get("ATENDE_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("ATENDE_WORKERS", "2"))
# Threaded workers: a slow client or a bounded wait (read-your-writes) holds one
# thread, not a whole worker.
worker_class = "gthread"
threads = int(os.environ.get("ATENDE_THREADS", "8"))
timeout = 30
graceful_timeout = 20
keepalive = 5
# Bound request heads (Falcon bounds bodies).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = os.environ.get("ATENDE_ACCESS_LOG", "-") or None
errorlog = "-"
# No preload: each worker builds its own Application after the fork, so database
# pools are never shared between processes.
preload_app = False
# gunicorn >= 25 opens a control socket at a fixed per-user path; several Atende
# instances on one host (tests, API + bench) would fight over it.
control_socket_disable = True


# The projector (views, later the SLA scheduler) runs beside the API as one process per
# deployment, started and stopped with gunicorn's master unless ATENDE_PROJECTOR=off
# (then run `atende project` once per deployment, e.g. on one host).
def on_starting(server):
    if os.environ.get("ATENDE_PROJECTOR", "on") != "off":
        atende = os.path.join(os.path.dirname(sys.executable), "atende")
        server.atende_projector = subprocess.Popen([atende, "project"])


def on_exit(server):
    projector = getattr(server, "atende_projector", None)
    if projector is not None and projector.poll() is None:
        projector.terminate()
        try:
            projector.wait(timeout=15)
        except subprocess.TimeoutExpired:
            projector.kill()
