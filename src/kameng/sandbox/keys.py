"""RSA keypairs a sandbox generates on first start and keeps under var/.

Tests, the demo and a load generator read the same files, so anyone can sign
exactly as the gateway (or the merchant) does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass(frozen=True, slots=True)
class KeyPair:
    private_path: Path
    public_path: Path

    def private_pem(self) -> str:
        return self.private_path.read_text()

    def public_pem(self) -> str:
        return self.public_path.read_text()


def ensure_keypair(directory: Path, name: str, *, bits: int = 2048) -> KeyPair:
    """``directory/name_private.pem`` (PKCS#8) and ``name_public.pem`` (SPKI); made once."""
    pair = KeyPair(directory / f"{name}_private.pem", directory / f"{name}_public.pem")
    if pair.private_path.exists() and pair.public_path.exists():
        return pair
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_private(pair.private_path, private)
    pair.public_path.write_bytes(public)
    return pair


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
