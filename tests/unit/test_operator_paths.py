"""The gunicorn configuration path operators may have written into their own command lines
before the layout moved (issue 18) names the same settings and hooks
(tests/e2e/test_operator_paths.py serves through it)."""

from __future__ import annotations

from interface.http import gunicorn_conf as old_config
from interface.http.server import gunicorn_conf as config


def test_the_old_gunicorn_config_path_carries_every_setting_and_hook():
    public = {name: value for name, value in vars(config).items() if not name.startswith("_")}
    for name, value in public.items():
        assert getattr(old_config, name) is value, name
    for hook in ("on_starting", "post_worker_init", "pre_request", "post_request", "child_exit"):
        assert getattr(old_config, hook) is getattr(config, hook)
