"""The ``atende`` command line: main.py parses the command and runs it; the audit and key
commands are their own modules; projector_process.py keeps ``atende project`` running
beside gunicorn's master for ``atende serve``."""


def main(argv: list[str] | None = None) -> int:
    """``atende`` for console scripts installed before the command moved to
    interface.cli.main (setup.cfg names that now): they import ``interface.cli:main``
    until ``pip install -e .`` rewrites them. Remove once every install has been redone."""
    from interface.cli.main import main as run

    return run(argv)
