"""The sandbox's identity: generated on first start, kept under ``var/``.

The platform side (微信支付公钥 with its ``PUB_KEY_ID_…``, plus a self-signed
platform certificate for ``GET /v3/certificates``), the demo merchant's API
keypair and certificate serial, and the merchant's APIv3 key. A test harness or
a load generator reads the same files to sign exactly as the platform does.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

IDENTITY_FILE = "sandbox.json"
PLATFORM_KEY_FILE = "platform_private_key.pem"
PLATFORM_PUBLIC_KEY_FILE = "platform_public_key.pem"
PLATFORM_CERT_FILE = "platform_cert.pem"
MERCHANT_KEY_FILE = "merchant_private_key.pem"
MERCHANT_PUBLIC_KEY_FILE = "merchant_public_key.pem"


@dataclass(frozen=True)
class Identity:
    """Everything secret or public the sandbox and the demo merchant share."""

    directory: Path
    mchid: str
    appid: str
    apiv3_key: str  # 32 ASCII characters, used as the AES-256 key bytes
    public_key_id: str  # Wechatpay-Serial in 微信支付公钥 mode
    platform_cert_serial: str  # hex, as /v3/certificates reports it
    merchant_serial_no: str  # the merchant API certificate's serial (Authorization serial_no)
    platform_key: rsa.RSAPrivateKey
    merchant_public_key: rsa.RSAPublicKey
    platform_cert_pem: str

    @property
    def merchant_key_file(self) -> Path:
        return self.directory / MERCHANT_KEY_FILE

    @property
    def platform_public_key_file(self) -> Path:
        return self.directory / PLATFORM_PUBLIC_KEY_FILE

    def platform_public_pem(self) -> str:
        return (
            self.platform_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )


def _pem_private(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem_public(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _self_signed(key: rsa.RSAPrivateKey, serial: int, mchid: str) -> str:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tenpay.com (sandbox twin)"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Tenpay.com Root CA sandbox {mchid}"),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=5 * 365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _random_text(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def load_or_create(directory: Path) -> tuple[Identity, bool]:
    """The identity under ``directory``; creates it on first start. (identity, created)."""
    directory.mkdir(parents=True, exist_ok=True)
    meta_path = directory / IDENTITY_FILE
    created = not meta_path.exists()
    if created:
        platform = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        merchant = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert_serial = secrets.randbits(159) | (1 << 158)
        meta = {
            "mchid": "19" + _random_text(string.digits, 8),
            "appid": "wx" + _random_text(string.ascii_lowercase + string.digits, 16),
            "apiv3_key": _random_text(string.ascii_letters + string.digits, 32),
            "public_key_id": "PUB_KEY_ID_01" + _random_text("0123456789", 30),
            "platform_cert_serial": format(cert_serial, "X"),
            "merchant_serial_no": _random_text("0123456789ABCDEF", 40),
        }
        _write_secret(directory / PLATFORM_KEY_FILE, _pem_private(platform))
        (directory / PLATFORM_PUBLIC_KEY_FILE).write_bytes(_pem_public(platform.public_key()))
        (directory / PLATFORM_CERT_FILE).write_text(
            _self_signed(platform, cert_serial, meta["mchid"])
        )
        _write_secret(directory / MERCHANT_KEY_FILE, _pem_private(merchant))
        (directory / MERCHANT_PUBLIC_KEY_FILE).write_bytes(_pem_public(merchant.public_key()))
        _write_secret(meta_path, json.dumps(meta, indent=2).encode())
    meta = json.loads(meta_path.read_text())
    platform_key = serialization.load_pem_private_key(
        (directory / PLATFORM_KEY_FILE).read_bytes(), password=None
    )
    merchant_public = serialization.load_pem_public_key(
        (directory / MERCHANT_PUBLIC_KEY_FILE).read_bytes()
    )
    assert isinstance(platform_key, rsa.RSAPrivateKey)
    assert isinstance(merchant_public, rsa.RSAPublicKey)
    identity = Identity(
        directory=directory,
        mchid=meta["mchid"],
        appid=meta["appid"],
        apiv3_key=meta["apiv3_key"],
        public_key_id=meta["public_key_id"],
        platform_cert_serial=meta["platform_cert_serial"],
        merchant_serial_no=meta["merchant_serial_no"],
        platform_key=platform_key,
        merchant_public_key=merchant_public,
        platform_cert_pem=(directory / PLATFORM_CERT_FILE).read_text(),
    )
    return identity, created
