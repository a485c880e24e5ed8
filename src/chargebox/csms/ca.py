"""A small certificate authority for the built-in central system (``chargebox ca``, ``csms --ca-cert --ca-key``).

What a test set-up of the security whitepaper needs, made with the ``cryptography`` package and nothing else:

- the CA itself (``CertificateAuthority.create``): a self-signed root, which stations trust as their
  CentralSystemRootCertificate (``simulate --ca-file``, or InstallCertificate) and the central system checks client
  certificates against (profile 3);
- the central system's TLS certificate (``issue_server``), for the names stations reach it by (T-44: the station
  checks that the certificate names the host of its URL);
- a charge point's first certificate (``issue_charge_point``: CN the charge point id, TC_087_CS; O the CPO's name),
  for a station that starts on profile 3;
- the answer to SignCertificate (``sign``): a certificate for the CSR's key, once the CSR is checked, sent back in
  CertificateSigned (whitepaper A02; the station checks it as CT-2 says).

Every key is EC P-256 (TC_087_CS: at least 224 bits for elliptic curves), so the whitepaper's
``ECDHE-ECDSA-AES128-GCM-SHA256`` suite is the one negotiated over TLS 1.2. A CA is one root, no intermediate: this
is a central system for tests and development, not a PKI to run a network on.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from chargebox.errors import ConfigError, UserError
from chargebox.user_files import MAX_PEM_BYTES, read_text

CA_DAYS: Final = 3650
LEAF_DAYS: Final = 365
BACKDATE: Final = timedelta(minutes=5)  # a station whose clock is a little behind still finds a new one valid
CA_CERT_FILE: Final = "ca.pem"
CA_KEY_FILE: Final = "ca.key"
MIN_EC_BITS: Final = 224  # TC_087_CS
MIN_RSA_BITS: Final = 2048  # TC_087_CS

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class CsrRefused(ValueError):
    """Why a certificate signing request is not signed (SignCertificate is then answered Rejected)."""


@dataclass(frozen=True, slots=True)
class Issued:
    """A certificate this CA made, as PEM, with its key when the CA made that too (not for a CSR)."""

    certificate: str
    key: str | None
    serial_number: str  # lower-case hex, as CertificateHashData writes it
    not_after: datetime


class CertificateAuthority:
    """A root certificate and its key; issues the certificates above."""

    def __init__(self, certificate: x509.Certificate, key: PrivateKey) -> None:
        if _spki(certificate.public_key()) != _spki(key.public_key()):
            raise ValueError("the CA's key is not the key of its certificate")
        self.certificate = certificate
        self._key = key

    @classmethod
    def create(cls, organization: str, *, now: datetime, days: int = CA_DAYS) -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, f"{organization} root CA"[:64]),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            ]
        )
        certificate = (
            _builder(name, name, key.public_key(), now, days)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(ca=True), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(certificate, key)

    @classmethod
    def load(cls, cert_file: Path, key_file: Path) -> CertificateAuthority:
        """The CA of ``--ca-cert`` and ``--ca-key``; UserError naming the option of a file that is not usable."""
        cert_text = read_text(cert_file, "--ca-cert", MAX_PEM_BYTES, encoding="ascii")
        key_text = read_text(key_file, "--ca-key", MAX_PEM_BYTES, encoding="ascii")
        try:
            certificate = x509.load_pem_x509_certificates(cert_text.encode("ascii"))[0]
        except ValueError:
            raise ConfigError(f"--ca-cert {cert_file}: not a PEM certificate") from None
        try:
            key = serialization.load_pem_private_key(key_text.encode("ascii"), password=None)
        except (ValueError, TypeError):
            raise ConfigError(f"--ca-key {key_file}: not an unencrypted PEM private key") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise ConfigError(f"--ca-key {key_file}: an EC or RSA key is needed")
        if not _is_ca(certificate):
            raise ConfigError(f"--ca-cert {cert_file}: not a CA certificate (basicConstraints CA)")
        try:
            return cls(certificate, key)
        except ValueError:
            raise ConfigError(f"--ca-key {key_file}: not the key of --ca-cert {cert_file}") from None

    @property
    def pem(self) -> str:
        return _pem(self.certificate)

    def issue_server(self, names: Sequence[str], *, now: datetime, days: int = LEAF_DAYS) -> Issued:
        """A TLS server certificate for ``names`` (host names or IP addresses; the first is its CN)."""
        if not names:
            raise ValueError("a server certificate needs at least one name")
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64])])
        builder = (
            self._leaf(subject, key.public_key(), now, days, ExtendedKeyUsageOID.SERVER_AUTH)
            .add_extension(x509.SubjectAlternativeName([_general_name(name) for name in names]), critical=False)
        )  # fmt: skip
        return self._issued(builder, key)

    def issue_firmware_signing(self, name: str, *, now: datetime, days: int = LEAF_DAYS) -> Issued:
        """A firmware signing certificate (code signing), with its key: what a station whose
        ManufacturerRootCertificate is this CA takes a signed image from (2.0.1 L01, the 1.6 whitepaper)."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name[:64])])
        return self._issued(self._leaf(subject, key.public_key(), now, days, ExtendedKeyUsageOID.CODE_SIGNING), key)

    def issue_charge_point(
        self, charge_point_id: str, organization: str, *, now: datetime, days: int = LEAF_DAYS
    ) -> Issued:
        """A ChargePointCertificate for profile 3, with its key (a station's first one, from the factory)."""
        key = ec.generate_private_key(ec.SECP256R1())
        builder = self._leaf(_charge_point_name(charge_point_id, organization), key.public_key(), now, days)
        return self._issued(builder, key)

    def sign(self, csr_pem: str, *, charge_point_id: str, now: datetime, days: int = LEAF_DAYS) -> Issued:
        """The certificate SignCertificate asks for: the CSR's own signature holds, its CN is the charge point id
        of the connection it came on (TC_087_CS: a station may not have another's certificate signed), its key is
        strong enough. The subject is the CSR's CN and O, nothing else of the CSR is copied."""
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise CsrRefused("not a PEM certificate signing request") from None
        try:
            valid = csr.is_signature_valid
        except (ValueError, InvalidSignature, x509.UnsupportedGeneralNameType):
            valid = False
        if not valid:
            raise CsrRefused("the request's signature does not hold")
        common_names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if [str(attribute.value) for attribute in common_names] != [charge_point_id]:
            raise CsrRefused(f"its CN must be the charge point id {charge_point_id!r}")
        organizations = csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        if len(organizations) != 1 or not str(organizations[0].value):
            raise CsrRefused("its O must be the CPO's name (CpoName)")
        public_key = csr.public_key()
        if not _strong(public_key):
            raise CsrRefused(f"its key is too weak (EC of {MIN_EC_BITS} bits or RSA of {MIN_RSA_BITS} at least)")
        assert isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey)
        name = _charge_point_name(charge_point_id, str(organizations[0].value))
        return self._issued(self._leaf(name, public_key, now, days), None)

    def write(self, directory: Path) -> tuple[Path, Path]:
        """``DIR/ca.pem`` and ``DIR/ca.key`` (0600), never over an existing CA."""
        return write_pair(directory, "ca", self.pem, _key_pem(self._key))

    def _leaf(
        self,
        subject: x509.Name,
        public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
        now: datetime,
        days: int,
        usage: x509.ObjectIdentifier = ExtendedKeyUsageOID.CLIENT_AUTH,
    ) -> x509.CertificateBuilder:
        return (
            _builder(subject, self.certificate.subject, public_key, now, days)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
        )

    def _issued(self, builder: x509.CertificateBuilder, key: PrivateKey | None) -> Issued:
        certificate = builder.sign(self._key, hashes.SHA256())
        return Issued(
            certificate=_pem(certificate),
            key=_key_pem(key) if key is not None else None,
            serial_number=format(certificate.serial_number, "x"),
            not_after=certificate.not_valid_after_utc,
        )


def load_ca_directory(directory: Path) -> CertificateAuthority:
    """The CA ``chargebox ca init DIR`` made."""
    if not (directory / CA_KEY_FILE).exists():
        raise UserError(f"{directory}: no CA here ({CA_KEY_FILE} is missing; chargebox ca init {directory})")
    return CertificateAuthority.load(directory / CA_CERT_FILE, directory / CA_KEY_FILE)


def write_pair(directory: Path, stem: str, certificate: str, key: str | None) -> tuple[Path, Path]:
    """``DIR/STEM.pem`` (0644) and ``DIR/STEM.key`` (0600, created so: never readable by others, even a moment),
    refusing to replace either: a key overwritten by mistake is a certificate lost."""
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    for path in (cert_path, key_path):
        if path.exists():
            raise UserError(f"{path}: already there (remove it first to make a new one)")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if key is not None:
            _create(key_path, key, 0o600)
        _create(cert_path, certificate, 0o644)
    except OSError as exc:
        raise UserError(f"{directory}: cannot write: {exc.strerror or exc}") from exc
    return cert_path, key_path


def _create(path: Path, text: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(text)


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    now: datetime,
    days: int,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """Signatures (the TLS handshake's, with ECDHE), and for a CA certificates and CRLs."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _charge_point_name(charge_point_id: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, charge_point_id),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _strong(key: object) -> bool:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.curve.key_size >= MIN_EC_BITS
    if isinstance(key, rsa.RSAPublicKey):
        return key.key_size >= MIN_RSA_BITS
    return False


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _key_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def _spki(key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey | object) -> bytes:
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        return b""
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
