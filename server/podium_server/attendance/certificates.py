"""Certificate ids that carry their own signature, checked by `/verify/{id}`.

`PC1~<event id>~<participant id>~<base32 HMAC-SHA256, 128 bits>`: printable on paper,
typed into a URL, and unforgeable without the deployment secret. `~` never occurs in
an id (see `event.model.valid_id`), so the id splits without ambiguity.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from ..event.model import valid_id

_PREFIX = "PC1"
_SEP = "~"
_CONTEXT = b"podium-certificate:"


class CertificateError(ValueError):
    """`reason`: 'malformed' or 'invalid_signature'."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CertificateRef:
    event_id: str
    participant_id: str
    id: str  # as issued: what a reply names, never the text it was sent (blanks, case)


class CertificateSigner:
    """Issues and checks certificate ids. Owns the certificate key (derived from the
    deployment secret, apart from the token and badge keys)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("certificate key too short")
        self._key = key

    @classmethod
    def from_secret(cls, secret: bytes) -> CertificateSigner:
        return cls(hmac.new(secret, b"podium certificate key v1", hashlib.sha256).digest())

    def _mac(self, event_id: str, participant_id: str) -> str:
        msg = _CONTEXT + f"{event_id}{_SEP}{participant_id}".encode()
        digest = hmac.new(self._key, msg, hashlib.sha256).digest()[:16]
        return base64.b32encode(digest).decode("ascii").rstrip("=")

    def issue(self, event_id: str, participant_id: str) -> str:
        if not valid_id(event_id) or not valid_id(participant_id):
            raise ValueError("event and participant ids must be plain ids")
        return _SEP.join((_PREFIX, event_id, participant_id, self._mac(event_id, participant_id)))

    def verify(self, cert_id: object) -> CertificateRef:
        if not isinstance(cert_id, str) or len(cert_id) > 200:
            raise CertificateError("malformed")
        parts = cert_id.strip().split(_SEP)
        if len(parts) != 4 or parts[0] != _PREFIX:
            raise CertificateError("malformed")
        _, event_id, participant_id, mac = parts
        if not valid_id(event_id) or not valid_id(participant_id):
            raise CertificateError("malformed")
        if not hmac.compare_digest(self._mac(event_id, participant_id), mac.upper()):
            raise CertificateError("invalid_signature")
        return CertificateRef(
            event_id, participant_id, _SEP.join((_PREFIX, event_id, participant_id, mac.upper()))
        )
