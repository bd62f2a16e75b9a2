"""The platform's side of the v3 signatures and AES-GCM envelopes.

Deliberately separate from the shop's adapter (which uses wechatpayv3): the
sandbox is the second, independent reading of the protocol.
"""

from __future__ import annotations

import base64
import re
import secrets
import string

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEME = "WECHATPAY2-SHA256-RSA2048"
_AUTH_FIELD = re.compile(r'(\w+)="([^"]*)"')
_NONCE_ALPHABET = string.ascii_letters + string.digits


def nonce(n: int = 32) -> str:
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(n))


def rsa_sign(key: rsa.RSAPrivateKey, message: str) -> str:
    signature = key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def rsa_verify(key: rsa.RSAPublicKey, message: str, signature_b64: str) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        key.verify(signature, message.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def parse_authorization(header: str) -> dict[str, str] | None:
    """``WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",…`` -> its fields."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme != SCHEME:
        return None
    fields = dict(_AUTH_FIELD.findall(rest))
    wanted = ("mchid", "nonce_str", "signature", "timestamp", "serial_no")
    return fields if all(fields.get(k) for k in wanted) else None


def request_message(
    method: str, path_and_query: str, timestamp: str, nonce_str: str, body: str
) -> str:
    return f"{method}\n{path_and_query}\n{timestamp}\n{nonce_str}\n{body}\n"


def response_message(timestamp: str, nonce_str: str, body: str) -> str:
    return f"{timestamp}\n{nonce_str}\n{body}\n"


def encrypt_resource(apiv3_key: str, plaintext: str, associated_data: str) -> dict[str, str]:
    """AEAD_AES_256_GCM with the APIv3 key; the nonce is 12 printable characters."""
    iv = nonce(12)
    sealed = AESGCM(apiv3_key.encode()).encrypt(
        iv.encode(), plaintext.encode(), associated_data.encode()
    )
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(sealed).decode(),
        "associated_data": associated_data,
        "nonce": iv,
    }
