"""``make bench`` ends with one summary table (tests/bench/summary.py)."""

from __future__ import annotations

from tests.bench.summary import FIGURES, previous_note, save_run, table


def pytest_terminal_summary(terminalreporter) -> None:
    if not FIGURES:
        return
    terminalreporter.write_sep("=", "benchmark summary: every figure against its target")
    terminalreporter.write_line(table(FIGURES, previous_note()))
    save_run(FIGURES)
    terminalreporter.write_line("(merged into var/bench-figures.json)")
