"""The event: programme, sessions, roster; loaders and the built-in demo."""

from .model import (
    ORG_TYPES,
    PARTICIPANT_MODES,
    SESSION_MODES,
    CertificatePolicy,
    CheckinPolicy,
    Event,
    Participant,
    Session,
)

__all__ = [
    "ORG_TYPES",
    "PARTICIPANT_MODES",
    "SESSION_MODES",
    "CertificatePolicy",
    "CheckinPolicy",
    "Event",
    "Participant",
    "Session",
]
