"""CPU time of a process tree, read from /proc (no psutil): utime + stime of each process
(all its threads), in clock ticks, so two readings give each process's share of one core.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcessCpu:
    pid: int
    name: str  # the command line, shortened
    ticks: int  # utime + stime so far


def _stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    return text[text.rindex(")") + 2 :].split()


def _name(pid: int) -> str:
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    words = [os.path.basename(argv[0].decode())] + [a.decode() for a in argv[1:3]]
    return " ".join(words)[:60]


def process_tree(root: int) -> list[int]:
    """``root`` and every process descended from it."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat_fields(int(entry.name))[1])
            except (OSError, ValueError, IndexError):  # gone meanwhile
                continue
    tree, frontier = [root], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        tree.extend(children)
        frontier = children
    return tree


def read_tree(root: int) -> dict[int, ProcessCpu]:
    readings = {}
    for pid in process_tree(root):
        try:
            fields = _stat_fields(pid)
            # After the name: state ppid ... utime is field 14, stime 15 (1-based, in
            # the whole line), i.e. 11 and 12 here.
            readings[pid] = ProcessCpu(pid, _name(pid), int(fields[11]) + int(fields[12]))
        except (OSError, ValueError, IndexError):
            continue
    return readings


@dataclass(frozen=True)
class CpuShare:
    name: str
    percent: float  # of one core


def idle_cpu(root: int, seconds: float) -> list[CpuShare]:
    """Each process's share of one core over ``seconds`` (processes alive throughout),
    then the total."""
    before, started = read_tree(root), time.monotonic()
    time.sleep(seconds)
    after, elapsed = read_tree(root), time.monotonic() - started
    shares = [
        CpuShare(
            f"{reading.name} (pid {pid})",
            (reading.ticks - before[pid].ticks) / TICKS_PER_SECOND / elapsed * 100,
        )
        for pid, reading in sorted(after.items())
        if pid in before
    ]
    return [*shares, CpuShare("total", sum(s.percent for s in shares))]
