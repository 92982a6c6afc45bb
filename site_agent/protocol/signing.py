"""Agent update signatures: Ed25519 over the wheel's bytes, with the province's key.

One definition for both ends: the hub verifies at upload (an unsigned or foreign package
is never published), the agent verifies again before installing, against the key it
pinned at enrolment (a hub that was broken into cannot hand out its own packages). Keys
and signatures travel as base64 of their raw bytes (32 and 64).

Pure: bytes in, an exception or nothing out.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


class SignatureRefused(ValueError):
    """The package is unsigned, the signature is malformed, or it was not made with the key."""


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureRefused(f"{what} is not base64") from exc


def public_key(text: str) -> Ed25519PublicKey:
    """The key a base64 text names; raises SignatureRefused when it is not a 32-byte Ed25519 key."""
    raw = _b64(text, "the public key")
    if len(raw) != 32:
        raise SignatureRefused(f"the public key has {len(raw)} bytes, not 32")
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_package(data: bytes, signature: str, key: str) -> None:
    """Raise :class:`SignatureRefused` unless ``signature`` is ``key``'s over ``data``."""
    if not key:
        raise SignatureRefused("no province key to check it against")
    if not signature.strip():
        raise SignatureRefused("the package is not signed")
    raw = _b64(signature, "the signature")
    if len(raw) != 64:
        raise SignatureRefused(f"the signature has {len(raw)} bytes, not 64")
    try:
        public_key(key).verify(raw, data)
    except InvalidSignature as exc:
        raise SignatureRefused("the signature is not the province's") from exc


def sign_package(data: bytes, private: Ed25519PrivateKey) -> str:
    """The base64 signature of ``data`` (the province's release step, the demo and the tests)."""
    return base64.b64encode(private.sign(data)).decode("ascii")


def public_text(private: Ed25519PrivateKey) -> str:
    """The base64 public key of ``private`` (what the hub's ``update_public_key`` holds)."""
    return base64.b64encode(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")
