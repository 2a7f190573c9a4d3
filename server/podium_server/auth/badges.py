"""Ed25519-signed badge codes, verifiable offline with the public key alone.

Code: `PB1.<participant id>.<base64url(signature over b"podium-badge:" + id)>`, 94 or so
characters: a QR of version 5-6 that phone cameras read at a door.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..event.model import valid_id
from .tokens import b64d, b64e

_PREFIX = "PB1"
_CONTEXT = b"podium-badge:"
# 64 signature bytes in unpadded base64url.
_SIGNATURE_RE = re.compile(r"^[A-Za-z0-9_-]{86}$")


class BadgeError(ValueError):
    """`reason` is 'malformed' or 'invalid_signature'."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadgeVerifier:
    """Checks badge codes offline against the badge public key (all it holds): a
    scanner's page verifies the same way."""

    def __init__(self, public_key: Ed25519PublicKey) -> None:
        self._public = public_key

    @classmethod
    def from_public_bytes(cls, raw: bytes) -> BadgeVerifier:
        return cls(Ed25519PublicKey.from_public_bytes(raw))

    @property
    def public_bytes(self) -> bytes:
        return self._public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def verify(self, code: object) -> str:
        """The participant id a genuine code names; BadgeError otherwise."""
        if not isinstance(code, str) or len(code) > 256:
            raise BadgeError("malformed")
        parts = code.strip().split(".")
        if len(parts) != 3 or parts[0] != _PREFIX or not valid_id(parts[1]):
            raise BadgeError("malformed")
        if not _SIGNATURE_RE.match(parts[2]):
            raise BadgeError("malformed")
        signature = b64d(parts[2])
        if b64e(signature) != parts[2]:
            # The last character's 4 low bits are padding the decoder ignores: 16 strings
            # would name one signature. Only the encoding we issue is a badge.
            raise BadgeError("invalid_signature")
        try:
            self._public.verify(signature, _CONTEXT + parts[1].encode())
        except InvalidSignature as exc:
            raise BadgeError("invalid_signature") from exc
        return parts[1]


class BadgeSigner(BadgeVerifier):
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        super().__init__(private_key.public_key())
        self._private = private_key

    @classmethod
    def from_secret(cls, secret: bytes) -> BadgeSigner:
        seed = hmac.new(secret, b"podium badge key v1", hashlib.sha256).digest()
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def code_for(self, participant_id: str) -> str:
        if not valid_id(participant_id):
            raise ValueError(f"bad participant id {participant_id!r}")
        signature = self._private.sign(_CONTEXT + participant_id.encode())
        return f"{_PREFIX}.{participant_id}.{b64e(signature)}"
