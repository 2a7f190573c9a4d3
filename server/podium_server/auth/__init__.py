"""Tokens and roles; Ed25519 badge codes."""

from .badges import BadgeError, BadgeSigner, BadgeVerifier
from .tokens import ROLES, Claims, TokenSigner, load_or_create_secret, parse_ttl

__all__ = [
    "ROLES",
    "BadgeError",
    "BadgeSigner",
    "BadgeVerifier",
    "Claims",
    "TokenSigner",
    "load_or_create_secret",
    "parse_ttl",
]
