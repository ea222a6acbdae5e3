"""One table at the end of ``make bench``: every figure a benchmark measured, against its
target, and against the figure the previous closing note quoted (issue 19, item 4).

Each benchmark records its headline figures with ``record``; tests/bench/conftest.py
prints the table once the run is over. A figure more than 10 % worse than the previous
note's is marked FELL: it is fixed before the issue being worked on is resolved. After
quoting the table in a closing note, put its figures in PREVIOUS_NOTE_FILE (each run
merges its figures into var/bench-figures.json, the latest of every figure, to copy from).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

PREVIOUS_NOTE_FILE = Path(__file__).with_name("previous_note.json")
RUN_FILE = Path(__file__).resolve().parents[2] / "var" / "bench-figures.json"
FALL_TOLERANCE = 0.10


@dataclass(frozen=True)
class Figure:
    name: str  # what was measured, e.g. "create atende/bare req/s"
    backend: str  # "sqlite", "postgres", or "-" when it does not apply
    value: float
    target: float
    higher_is_better: bool  # a ratio or a rate; False for a latency, a size, a CPU share

    @property
    def key(self) -> str:
        return f"{self.name} [{self.backend}]"

    @property
    def met(self) -> bool:
        return self.value >= self.target if self.higher_is_better else self.value < self.target

    def fell_from(self, previous: float) -> bool:
        if self.higher_is_better:
            return self.value < previous * (1 - FALL_TOLERANCE)
        return self.value > previous * (1 + FALL_TOLERANCE)


FIGURES: list[Figure] = []


def record(name: str, backend: str, value: float, *, at_least: float | None = None,
           below: float | None = None) -> None:  # fmt: skip
    """A benchmark's headline figure and its target (``at_least`` a ratio or rate,
    ``below`` a latency, size or share)."""
    if (at_least is None) == (below is None):
        raise ValueError("give exactly one of at_least and below")
    target = at_least if at_least is not None else below
    FIGURES.append(Figure(name, backend, value, float(target), at_least is not None))


def previous_note() -> dict[str, float]:
    try:
        return json.loads(PREVIOUS_NOTE_FILE.read_text())["figures"]
    except FileNotFoundError:
        return {}


def table(figures: list[Figure], previous: dict[str, float]) -> str:
    header = f"{'figure':<72} {'value':>9} {'target':>10} {'':<6} {'previous':>9} {'':<4}"
    lines = [header, "-" * len(header)]
    for figure in figures:
        sign = ">=" if figure.higher_is_better else "<"
        before = previous.get(figure.key)
        fell = before is not None and figure.fell_from(before)
        lines.append(
            f"{figure.key:<72} {figure.value:>9.3f} {sign:>3} {figure.target:<6g} "
            f"{'met' if figure.met else 'MISSED':<6} "
            f"{'' if before is None else f'{before:.3f}':>9} {'FELL' if fell else '':<4}"
        )
    fallen = [f.key for f in figures if f.key in previous and f.fell_from(previous[f.key])]
    lines.append("")
    lines.append(
        f"{sum(f.met for f in figures)} of {len(figures)} targets met; "
        + (
            f"FELL more than 10 % since the previous note: {', '.join(fallen)}"
            if fallen
            else "nothing fell more than 10 % since the previous note"
        )
    )
    return "\n".join(lines)


def save_run(figures: list[Figure]) -> None:
    """Merge this run's figures into RUN_FILE: a partial run (one benchmark again)
    updates its own figures and keeps the others' latest."""
    RUN_FILE.parent.mkdir(exist_ok=True)
    try:
        kept = json.loads(RUN_FILE.read_text())["figures"]
    except (FileNotFoundError, ValueError, KeyError):
        kept = {}
    kept.update({f.key: round(f.value, 4) for f in figures})
    RUN_FILE.write_text(json.dumps({"figures": kept}, indent=2, ensure_ascii=False) + "\n")


def p99_ms(seconds: list[float]) -> float:
    """The 99th percentile (nearest rank) of samples in seconds, in milliseconds."""
    ordered = sorted(seconds)
    return ordered[max(1, math.ceil(0.99 * len(ordered))) - 1] * 1000
