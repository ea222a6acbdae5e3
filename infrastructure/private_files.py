"""Files Atende keeps beside its database are readable by its own user only (0600).

A SQLite database holds views in plain text (requester names and subjects in the queue),
and the files beside it hold the deployment secret and the audit checkpoints, so nobody
else on the host may read them, whatever the process's umask. SQLite creates the -wal and
-shm files with the database file's own mode, so creating the database 0600 before SQLite
first opens it covers them too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE = 0o600
# What SQLite keeps beside a database file, each with the database's mode.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_database(path: Path) -> None:
    """Create the (empty) database file 0600 unless it exists, and tighten an existing
    one and its companions, which an older Atende may have left readable by others."""
    create_private(path)
    for companion in SQLITE_COMPANIONS:
        restrict(path.with_name(path.name + companion))


def create_private(path: Path) -> None:
    """``path`` exists, is private, and keeps what it held."""
    if not path.exists():
        # Only when it is missing: closing a descriptor of a database this process has
        # open drops the process's SQLite locks on it (POSIX record locks are per process).
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT, PRIVATE))
    restrict(path)


def restrict(path: Path) -> None:
    """Take every permission but the owner's read and write away from ``path``, if it
    exists and has any."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & ~PRIVATE:
        path.chmod(PRIVATE)


def write_private(path: Path, text: str) -> None:
    """Write ``path`` so that it is private before its first byte is written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
    os.fchmod(fd, PRIVATE)  # a file left over by a crash keeps its mode otherwise
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
