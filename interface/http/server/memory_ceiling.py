"""A worker's memory ceiling: the safety net beneath the bounds of every parser (issue 24).

The parsers keep a request under 64 MB of peak memory; this catches whatever they miss
(a leak, fragmentation, a shape nobody thought of) before it takes the machine:

- a hard limit on the worker's data segment (``RLIMIT_DATA``: its heap and private
  writable mappings), so a runaway allocation fails with ``MemoryError`` in the one
  request that made it (answered 503, the worker then recycled) instead of growing until
  the kernel's OOM killer picks a victim, perhaps the database;
- a soft ceiling on resident memory, checked after each request: a worker above it
  finishes the requests it holds and is replaced by a fresh one (gunicorn's graceful
  recycle, as for ``max_requests``, which alone would not notice one huge request).

Both in MiB, from the environment (docs/deployment.md); ``off`` disables one.
"""

from __future__ import annotations

import os
import resource
import threading

MEMORY_LIMIT_ENV = "ATENDE_WORKER_MEMORY_LIMIT"
MAX_RSS_ENV = "ATENDE_WORKER_MAX_RSS"
DEFAULT_MEMORY_LIMIT_MIB = 2048
DEFAULT_MAX_RSS_MIB = 1024
MIB = 1024 * 1024

# Set by the MemoryError handler (interface/http/errors.py): the heap that failed may be
# fragmented beyond use, so the worker is replaced after its request.
_recycle_asked = threading.Event()


def mebibytes(name: str, default: int, environ: dict[str, str] | None = None) -> int | None:
    """A size in MiB from the environment; None when ``off``."""
    text = (os.environ if environ is None else environ).get(name, str(default)).strip().lower()
    if text in ("off", "none", "0"):
        return None
    if not text.isdigit():
        raise ValueError(f"{name} must be a size in MiB or 'off', not {text!r}")
    return int(text)


def configured_memory_limit(environ: dict[str, str] | None = None) -> int | None:
    return mebibytes(MEMORY_LIMIT_ENV, DEFAULT_MEMORY_LIMIT_MIB, environ)


def configured_max_rss(environ: dict[str, str] | None = None) -> int | None:
    return mebibytes(MAX_RSS_ENV, DEFAULT_MAX_RSS_MIB, environ)


def limit_data_segment(limit_mib: int | None) -> None:
    """Cap this process's data segment (never raising one already lower)."""
    if limit_mib is None:
        return
    limit = limit_mib * MIB
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft == resource.RLIM_INFINITY or soft > limit:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def resident_mib() -> float:
    """This process's resident memory now (not its peak)."""
    with open("/proc/self/statm", "rb") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / MIB


def ask_recycle() -> None:
    _recycle_asked.set()


def recycle_reason(max_rss_mib: int | None) -> str | None:
    """Why this worker should be replaced after its current requests, if it should."""
    if _recycle_asked.is_set():
        return "a request ran out of memory"
    if max_rss_mib is not None:
        resident = resident_mib()
        if resident > max_rss_mib:
            return f"resident memory {resident:.0f} MiB is over {MAX_RSS_ENV}={max_rss_mib}"
    return None
