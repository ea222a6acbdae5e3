"""gunicorn settings for Atende; every value can be overridden from the environment."""

import os

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
