"""gunicorn settings for Atende; every value can be overridden from the environment."""

import os
import shutil
import tempfile

from interface.http.server import memory_ceiling as ceiling

bind = os.environ.get("ATENDE_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("ATENDE_WORKERS", "2"))
# Threaded workers: a slow client or a bounded wait (read-your-writes) holds one
# thread, not a whole worker.
worker_class = "gthread"
threads = int(os.environ.get("ATENDE_THREADS", "8"))
timeout = 30
graceful_timeout = 20
keepalive = 5
# Each worker's memory ceiling (interface/http/server/memory_ceiling.py): a hard limit on
# its heap, and a resident size above which it is replaced after its request. Read here,
# in the master, so a bad value stops the start with its name instead of every worker.
WORKER_MEMORY_LIMIT_MIB = ceiling.configured_memory_limit()
WORKER_MAX_RSS_MIB = ceiling.configured_max_rss()
# Bound request heads (Falcon bounds bodies).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = os.environ.get("ATENDE_ACCESS_LOG", "-") or None
errorlog = "-"
# Every log line is a JSON object (interface/http/server/json_logs.py), access lines with the
# request id, route template, status, duration and principal.
logger_class = "interface.http.server.json_logs.JsonLogger"
# No preload: each worker builds its own Application after the fork, so database
# pools are never shared between processes.
preload_app = False
# gunicorn >= 25 opens a control socket at a fixed per-user path; several Atende
# instances on one host (tests, API + bench) would fight over it.
control_socket_disable = True


# The projector (views, the SLA clock, follow-ups, checkpoints, key rotation) runs beside
# the API as one process per deployment, started, restarted when it dies, and stopped with
# gunicorn's master (interface/cli/projector_process.py) unless ATENDE_PROJECTOR=off (then run
# `atende project` once per deployment, under a supervisor of your own).
def on_starting(server):
    prepare_metrics_directory(server)
    if os.environ.get("ATENDE_PROJECTOR", "on") != "off":
        from interface.cli.projector_process import SupervisedProjector

        server.atende_projector = SupervisedProjector()
        server.atende_projector.start()


def on_exit(server):
    projector = getattr(server, "atende_projector", None)
    if projector is not None:
        projector.stop()
    if getattr(server, "atende_metrics_directory_is_ours", False):
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


# Metrics (issue 8): workers and the projector count into files in one directory, which
# /metrics sums (prometheus_client's multiprocess mode). It must be in the environment
# before any of them imports prometheus_client, so it is set here, in the master, before
# the projector starts and the workers fork. An operator's own directory is emptied on
# start (counts from a previous run would be summed in); otherwise a temporary one is used.
def prepare_metrics_directory(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="atende-metrics-")
        server.atende_metrics_directory_is_ours = True


def post_worker_init(worker):
    # The worker has built its app: keep collections off that start-up heap.
    from infrastructure.heap import freeze_startup_heap
    from interface.http.server import gunicorn_errors, memory_ceiling

    gunicorn_errors.install()  # gunicorn's own 400/431... answers as problem+json
    freeze_startup_heap()
    # After the build: the limit is for requests, not for loading the language model.
    memory_ceiling.limit_data_segment(WORKER_MEMORY_LIMIT_MIB)


def post_request(worker, req, environ, resp):
    from interface.http.server.memory_ceiling import recycle_reason

    reason = recycle_reason(WORKER_MAX_RSS_MIB)
    if reason and worker.alive:
        worker.log.warning("Recycling worker %s after its current requests: %s", worker.pid, reason)
        worker.alive = False  # gunicorn's graceful exit; the master starts a fresh worker


def pre_request(worker, req):
    # A body Atende refuses unread (413) is not drained by gunicorn past a few KiB: the
    # connection then closes, so the answer must say so, or pooled clients reuse it.
    from interface.http.middleware.media import refused_unread

    length = next((v for n, v in req.headers if n == "CONTENT-LENGTH"), None)
    declared = int(length) if length is not None and length.isdigit() else None
    if refused_unread(req.path, declared, _settings()):
        req.must_close = True


def _settings():
    from infrastructure.settings import Settings

    if not hasattr(_settings, "cached"):
        _settings.cached = Settings.from_env()
    return _settings.cached


def worker_exit(server, worker):
    # The help centre's last counts (issue 23): recorded, not lost with the worker.
    from interface.http.kb_usage import flush_all

    flush_all()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    # Drops the dead worker's live gauges; its counters stay summed in.
    multiprocess.mark_process_dead(worker.pid)
