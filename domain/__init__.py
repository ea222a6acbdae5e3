"""Pure model of Atende: aggregates, value objects and their rules (no I/O)."""
