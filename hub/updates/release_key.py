"""The province's release key on the signing PC: make one, sign a wheel with it.

The private key is a PEM file (mode 0600) kept off the hub, on the PC of whoever
publishes agent updates; the hub only ever holds the public key (``update_public_key``).
``python -m hub release-key new FILE`` prints the public key to configure;
``python -m hub release-key sign FILE WHEEL`` prints the signature to upload with it.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from site_agent.protocol.signing import public_text, sign_package


def new_key(path: Path) -> str:
    """Write a fresh private key to ``path`` (refusing to overwrite one); returns its public key."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return public_text(key)


def load_key(path: Path) -> Ed25519PrivateKey:
    key = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def sign_file(key_path: Path, wheel: Path) -> str:
    return sign_package(wheel.read_bytes(), load_key(key_path))


def public_of(key_path: Path) -> str:
    return public_text(load_key(key_path))
