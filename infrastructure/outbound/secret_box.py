"""Webhook signing secrets sealed for the log (application.webhooks.SecretBox): AES-GCM
under a key derived from the deployment's secret, with the purpose as associated data,
so a sealed secret copied into another field or another deployment does not open."""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PURPOSE = b"atende/webhook-secret"
PREFIX = "v1:"


class AesGcmSecretBox:
    def __init__(self, key: bytes):
        self._aead = AESGCM(key)

    def seal(self, secret: str) -> str:
        nonce = os.urandom(12)
        sealed = nonce + self._aead.encrypt(nonce, secret.encode(), PURPOSE)
        return PREFIX + base64.urlsafe_b64encode(sealed).decode()

    def open(self, sealed: str) -> str:
        if not sealed.startswith(PREFIX):
            raise ValueError("not a sealed webhook secret")
        raw = base64.urlsafe_b64decode(sealed[len(PREFIX) :])
        return self._aead.decrypt(raw[:12], raw[12:], PURPOSE).decode()
