"""The ``atende`` command line: main.py parses the command and runs it; the audit and key
commands are their own modules; projector_process.py keeps ``atende project`` running
beside gunicorn's master for ``atende serve``."""
