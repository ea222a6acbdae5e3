"""Epoch keys: the wrapping keys of customer keys, kept outside the database.

A customer's data key is stored in the database wrapped by the current *epoch key*. Epoch
keys are files in a keystore directory, each sealed by the deployment secret, never rows:
a database keeps old copies of what it wrote (SQLite's WAL, PostgreSQL's dead tuples and
WAL, backups), so a key destroyed in the database is not destroyed at all. Rotation
(infrastructure/key_rotation.py) re-wraps every live customer key under a new epoch and
deletes the old epoch's file; from then on, every copy of an erased customer's wrapped key
that any database file still holds wraps under a key that exists nowhere.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
_EPOCH_FILE = re.compile(r"epoch-(\d{6,})\.key")


class Keystore:
    """A directory of epoch keys sealed by the deployment secret (0600 files, 0700 dir)."""

    def __init__(self, directory: Path, secret_key: bytes):
        self.directory = directory
        self._sealer = AESGCM(secret_key)
        self._ciphers: dict[int, AESGCM] = {}

    def open(self) -> None:
        """Create the directory and the first epoch if there is none yet."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.epochs():
            with contextlib.suppress(FileExistsError):  # another process made it first
                self.create(1)

    def epochs(self) -> list[int]:
        names = (_EPOCH_FILE.fullmatch(p.name) for p in self.directory.iterdir())
        return sorted(int(m.group(1)) for m in names if m)

    def current(self) -> tuple[int, AESGCM]:
        """The newest epoch: what new customer keys are wrapped with. Read from the
        directory every time, so a rotation in another process is seen at once."""
        epochs = self.epochs()
        if not epochs:
            raise KeystoreEmptyError(self.directory)
        newest = epochs[-1]
        return newest, self.cipher(newest)

    def cipher(self, epoch: int) -> AESGCM:
        cached = self._ciphers.get(epoch)
        if cached is not None:
            return cached
        try:
            sealed = base64.b64decode(self._path(epoch).read_text())
        except FileNotFoundError:
            raise EpochDestroyedError(epoch) from None
        key = self._sealer.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _aad(epoch))
        cipher = AESGCM(key)
        self._ciphers[epoch] = cipher
        return cipher

    def create(self, epoch: int) -> None:
        """Write a new epoch key: complete and durable before anyone can list it."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = nonce + self._sealer.encrypt(nonce, AESGCM.generate_key(256), _aad(epoch))
        tmp = self.directory / f".epoch-{epoch:06d}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(base64.b64encode(sealed).decode("ascii"))
            out.flush()
            os.fsync(out.fileno())
        os.link(tmp, self._path(epoch))  # fails if that epoch exists: never overwrite one
        tmp.unlink()
        self._sync_directory()

    def destroy_below(self, epoch: int) -> list[int]:
        """Overwrite and delete every epoch older than ``epoch``; returns which."""
        gone = [e for e in self.epochs() if e < epoch]
        for old in gone:
            path = self._path(old)
            size = path.stat().st_size
            with open(path, "r+b") as out:
                out.write(os.urandom(size))
                out.flush()
                os.fsync(out.fileno())
            path.unlink()
            self._ciphers.pop(old, None)
        self._sync_directory()
        return gone

    def _path(self, epoch: int) -> Path:
        return self.directory / f"epoch-{epoch:06d}.key"

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _aad(epoch: int) -> bytes:
    # Binds each sealed key to its epoch number: renaming files cannot swap epochs.
    return f"atende/epoch/{epoch}".encode()


class EpochDestroyedError(Exception):
    """A customer key is wrapped by an epoch whose key no longer exists."""


class KeystoreEmptyError(Exception):
    """The keystore directory holds no epoch key (wrong directory, or it was wiped)."""
