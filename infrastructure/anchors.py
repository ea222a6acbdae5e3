"""Anchors: signed checkpoints of the hash chain's head, kept outside the database.

Whoever can write the database can rewrite a row and recompute every hash after it; what
they cannot do is change an anchor that lives elsewhere and is signed with a key they do
not hold. Anchors are signed with Ed25519 (a key derived from the deployment secret), so a
third party checks an export offline with the deployment's *public* key alone
(`atende audit public-key`), and appended to a file outside the database
(`ATENDE_CHECKPOINT_FILE`, required on PostgreSQL; fsynced before it counts).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from domain.audit_chain import ED25519


class AnchorSigner:
    """Signs with the deployment's Ed25519 key; anyone with the public key verifies."""

    def __init__(self, secret_key: bytes):
        seed = hmac.new(secret_key, b"atende/anchor-signing", hashlib.sha256).digest()
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = public_key_text(self._private.public_key())

    def sign(self, payload: bytes) -> str:
        return ED25519 + base64.b64encode(self._private.sign(payload)).decode("ascii")

    def verifies(self, payload: bytes, signature: str) -> bool:
        return is_signed(self.public_key, payload, signature)


def public_key_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def is_signed(public_key: str, payload: bytes, signature: str) -> bool:
    """Whether ``signature`` is the deployment's Ed25519 signature of ``payload``."""
    if not signature.startswith(ED25519):
        return False
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key))
        key.verify(base64.b64decode(signature[len(ED25519) :]), payload)
    except (InvalidSignature, ValueError):
        return False
    return True


class AnchorFile:
    """An append-only JSON Lines file of anchors, outside the database's reach."""

    def __init__(self, path: Path):
        self.path = path

    def append(self, anchor: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(anchor, sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)  # also when an older Atende created it with the umask's mode
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())  # an anchor counts once it is on disk

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]
