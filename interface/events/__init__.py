"""The events Atende records, described for integrators (the catalogue)."""
