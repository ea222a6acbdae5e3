"""``atende keys rotate|status``: the epoch keys that make erasures final."""

from __future__ import annotations

import argparse
from typing import Any


def add_key_commands(commands: Any) -> None:
    keys = commands.add_parser("keys", help="rotate the epoch key that wraps customer keys")
    actions = keys.add_subparsers(required=True, metavar="ACTION")
    rotate = actions.add_parser(
        "rotate",
        help="re-wrap every customer key under a new epoch and destroy the older ones "
        "(the projector does this after erasures, every ATENDE_KEY_ROTATION_INTERVAL)",
    )
    rotate.set_defaults(run=_rotate)
    status = actions.add_parser("status", help="the keystore's epochs; whether a rotation is due")
    status.set_defaults(run=_status)


def _rotate(args: argparse.Namespace) -> int:
    from infrastructure.key_rotation import rotate_keys
    from interface.wiring import bootstrap

    atende = bootstrap()
    try:
        rotation = rotate_keys(atende.keys)
    finally:
        atende.close()
    destroyed = ", ".join(map(str, rotation.destroyed)) or "none"
    print(
        f"epoch {rotation.epoch}: {rotation.rewrapped} customer keys re-wrapped; "
        f"epochs destroyed: {destroyed}"
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    from infrastructure.key_rotation import rotation_due
    from interface.wiring import bootstrap

    atende = bootstrap()
    try:
        epochs = atende.keys.keystore.epochs()
        due = rotation_due(atende.keys)
    finally:
        atende.close()
    print(f"keystore {atende.keys.keystore.directory}: epochs {epochs}")
    print(f"rotation due: {'yes' if due else 'no'}")
    return 0
