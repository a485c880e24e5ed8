"""Firmware signatures (security whitepaper L01, checklist SF-1, SF-5): checking and making them.

The station checks, before it answers SignedUpdateFirmware, that the ``signingCertificate`` was issued by one of
the ManufacturerRootCertificates it holds and is valid now (SF-1); once the image is downloaded, that the
``signature`` (base64) was made over the whole file with that certificate's key and SHA-256 (SF-5): RSA-PSS or
RSA PKCS#1 v1.5 for an RSA key, ECDSA for an EC key (the whitepaper's "ECSchnorr" is ECDSA in every stack we
know). ``sign_file`` makes such a signature (``chargebox firmware-image --sign KEY --cert CERT``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from chargebox.errors import ConfigError
from chargebox.user_files import MAX_PEM_BYTES, read_bytes

if TYPE_CHECKING:  # cryptography is imported where a signature is checked or made: a station that boots needs none
    from cryptography import x509

CHUNK: Final = 1024 * 1024


class SignatureError(ValueError):
    """A certificate or signature that does not hold, with the reason in one line."""


def check_signing_certificate(pem: str, roots: Iterable[str], now: datetime) -> x509.Certificate:
    """SF-1: the certificate, if one of ``roots`` issued it and it is valid at ``now``; else SignatureError."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as exc:
        raise SignatureError(f"signingCertificate is not a PEM certificate: {exc}") from None
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise SignatureError("signingCertificate is not valid now (expired or not yet valid)")
    installed = list(roots)
    if not installed:
        raise SignatureError("no ManufacturerRootCertificate is installed")
    for root_pem in installed:
        try:
            root = x509.load_pem_x509_certificate(root_pem.encode())
            certificate.verify_directly_issued_by(root)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return certificate
    raise SignatureError("signingCertificate was not issued by an installed ManufacturerRootCertificate")


def file_digest(path: Path) -> bytes:
    """SHA-256 of the whole file, read in chunks (an image may be large)."""
    from cryptography.hazmat.primitives import hashes

    digest = hashes.Hash(hashes.SHA256())
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.finalize()


def verify_file(path: Path, signature_b64: str, certificate: x509.Certificate) -> None:
    """SF-5: raise SignatureError unless ``signature_b64`` signs the whole of ``path`` (blocking: a thread)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

    try:
        # RFC 4648 §3.1/3.3: MIME-style line breaks (openssl base64 wraps at 64 columns) are not part of the data
        signature = base64.b64decode("".join(signature_b64.split()), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("signature is not base64") from None
    digest, prehashed = file_digest(path), utils.Prehashed(hashes.SHA256())
    key = certificate.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
            try:
                key.verify(signature, digest, pss, prehashed)
            except InvalidSignature:
                key.verify(signature, digest, padding.PKCS1v15(), prehashed)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ec.ECDSA(prehashed))
        else:
            raise SignatureError(f"signing key type {type(key).__name__} is not RSA or EC")
    except InvalidSignature:
        raise SignatureError("the signature does not match the file") from None


def sign_file(path: Path, key_pem: bytes) -> str:
    """The base64 signature of the whole file: RSA-PSS (SHA-256, salt of the digest's length) or ECDSA."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"not an unencrypted PEM private key: {exc}") from None
    digest, prehashed = file_digest(path), utils.Prehashed(hashes.SHA256())
    if isinstance(key, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
        signature = key.sign(digest, pss, prehashed)
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(digest, ec.ECDSA(prehashed))
    else:
        raise SignatureError(f"key type {type(key).__name__} is not RSA or EC")
    return base64.b64encode(signature).decode()


def sign_image(image: Path, key_path: Path, cert_path: Path) -> Path:
    """``firmware-image --sign KEY --cert CERT``: write ``<image>.sig`` (base64) and check it with the certificate,
    so a key and a certificate that do not belong together fail here, not at the station. Each SignatureError
    names the option it is about."""
    from cryptography import x509

    try:
        key_pem, cert_pem = (
            read_bytes(key_path, "--sign", MAX_PEM_BYTES),
            read_bytes(cert_path, "--cert", MAX_PEM_BYTES),
        )
    except ConfigError as exc:
        raise SignatureError(str(exc)) from None
    try:
        certificate = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise SignatureError(f"--cert {cert_path}: not a PEM certificate: {exc}") from None
    try:
        signature = sign_file(image, key_pem)
    except SignatureError as exc:
        raise SignatureError(f"--sign {key_path}: {exc}") from None
    try:
        verify_file(image, signature, certificate)
    except SignatureError:
        raise SignatureError(f"--cert {cert_path} does not belong to --sign {key_path}") from None
    output = image.with_name(image.name + ".sig")
    output.write_text(signature + "\n")
    return output
