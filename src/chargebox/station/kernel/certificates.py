"""The station's certificate store as the features of either OCPP version use it (1.6 whitepaper and 2.0.1's
M03 to M05, A02, A03): what may be installed, deleted and listed, the station's own key and its signing request,
and the checks a signed certificate must pass before it replaces the station's.

The versions differ in their messages and in the names of their settings (1.6's CpoName is 2.0.1's
SecurityCtrlr.OrganizationName); the rules are one: each version's feature reads its settings, calls these and
puts the outcome into its own message. Statuses are the spellings both versions share (``Outcome``). The store
(``store/certificates.py``, ``store/keys.py``) is the kernel's: the link reads the central system's roots and the
station's certificate from it for TLS.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from chargebox.clock import Clock
from chargebox.errors import ConfigError
from chargebox.log import Log
from chargebox.station.kernel.tls import TlsUnavailable, read_pem
from chargebox.store import Store
from chargebox.store.certificates import CertificateRecord
from chargebox.store.keys import CHARGE_POINT_CERTIFICATE, PENDING

if TYPE_CHECKING:  # cryptography is imported where a certificate is read: a station that boots needs none (bench/)
    from cryptography import x509

# The store's name for the station's own certificate (1.6: ChargePointCertificate, 2.0.1: ChargingStationCertificate).
STATION_CERTIFICATE: Final = CHARGE_POINT_CERTIFICATE
HASHES: Final = {"SHA256": hashlib.sha256, "SHA384": hashlib.sha384, "SHA512": hashlib.sha512}


class Outcome(enum.StrEnum):
    """An install's or a delete's outcome, spelt as both versions' status enums spell it."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    FAILED = "Failed"
    NOT_FOUND = "NotFound"


class CertificateError(ValueError):
    """Why a certificate or chain is refused (said in the log and the security event)."""


@dataclass(frozen=True, slots=True)
class HashData:
    """OCSP's CertificateHashData of one certificate, as the store and both versions' messages carry it."""

    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str

    def normalised(self) -> HashData:
        """As the station compares it: lower-case hex, the serial number without leading zeros."""
        return HashData(
            self.hash_algorithm, self.issuer_name_hash.lower(), self.issuer_key_hash.lower(),
            self.serial_number.lower().lstrip("0") or "0",
        )  # fmt: skip


def hash_data(cert: x509.Certificate, issuer: x509.Certificate, algorithm: str) -> HashData:
    """RFC 6960 CertID: hashes of the issuer's DER name and of its public key's bit string, and the
    serial number in lower-case hex without leading zeros (whitepaper edition 3's clarification)."""
    digest = HASHES[algorithm]
    return HashData(
        hash_algorithm=algorithm,
        issuer_name_hash=digest(cert.issuer.public_bytes()).hexdigest(),
        issuer_key_hash=digest(_subject_public_key(_spki(issuer.public_key()))).hexdigest(),
        serial_number=format(cert.serial_number, "x"),
    )


class Certificates:
    """One station's certificates and keys, checked before anything is stored."""

    def __init__(self, *, store: Store, clock: Clock, log: Log, csms_root: str, root_types: frozenset[str]) -> None:
        self._store = store
        self._clock = clock
        self._log = log
        self.csms_root = csms_root  # the type under which the central system's TLS roots are kept (Version)
        self.root_types = root_types  # the CA types InstallCertificate may install

    def csms_roots(self) -> list[str]:
        """The installed central-system roots (PEM): what the link trusts (T-44)."""
        return self._store.certificates.pems(self.csms_root)

    def count(self) -> int:
        """Every installed certificate, the station's own included."""
        return self._store.certificates.count()

    # -- install, delete, list (M03 to M05) ---------------------------------------------------

    def install(self, use: str, text: str, *, additional_check: bool, max_entries: int) -> Outcome:
        """A valid CA certificate is Accepted; an invalid one, one past ``max_entries``, or (with
        ``additional_check``) a central-system root not signed by the current one is Rejected; a store
        that fails is Failed."""
        try:
            cert = _one_certificate(text)
            self._check_valid_now(cert)
            if not _is_ca(cert):
                raise CertificateError("not a CA certificate")
            roots = [r for r in self._store.certificates.all() if r.certificate_type in self.root_types]
            same = [r for r in roots if r.certificate_type == use]
            issuer = cert if _self_signed(cert) else _issuer_among(cert, same)
            if issuer is None:
                raise CertificateError("neither self-signed nor issued by an installed root of its type")
            if additional_check and use == self.csms_root and same:
                if not _signed_by(cert, _load(same[-1].pem)):
                    raise CertificateError("AdditionalRootCertificateCheck: not signed by the current root")
            elif len(roots) >= max_entries and not any(_load(r.pem) == cert for r in same):  # M05.FR.06, .17
                raise CertificateError(f"the certificate store is full ({max_entries} CA certificates)")
        except CertificateError as exc:
            self._log.warning("! InstallCertificate %s rejected: %s", use, exc)
            return Outcome.REJECTED
        data = hash_data(cert, issuer, "SHA256")
        try:
            if additional_check and use == self.csms_root:
                for older in same[:-1]:  # M05.FR.09: the new root, and the current one as its fallback
                    self._store.certificates.delete(older.id)
            self._store.certificates.add(
                use, _pem(cert), hash_algorithm=data.hash_algorithm, issuer_name_hash=data.issuer_name_hash,
                issuer_key_hash=data.issuer_key_hash, serial_number=data.serial_number, now=self._now(),
            )  # fmt: skip
        except Exception:  # M05.FR.03: "other failure"
            self._log.exception("! InstallCertificate %s: the store failed", use)
            return Outcome.FAILED
        self._log.info("= installed a %s (serial %s)", use, data.serial_number)
        return Outcome.ACCEPTED

    def delete(self, wanted: HashData, *, security_profile: int) -> Outcome:
        """Accepted, NotFound, or Failed for the station's own certificate (M04.FR.06) and for the last
        central-system root while TLS (profile 2 or 3) depends on it."""
        wanted = wanted.normalised()
        for record in self._store.certificates.all():
            if self._hash_of(record, wanted.hash_algorithm) != wanted:
                continue
            if record.certificate_type == STATION_CERTIFICATE:
                self._log.warning("! DeleteCertificate refused: it is the station's own certificate")
                return Outcome.FAILED
            if (
                record.certificate_type == self.csms_root
                and security_profile >= 2
                and len(self._store.certificates.all(self.csms_root)) == 1
            ):
                self._log.warning("! DeleteCertificate refused: the last %s is in use", self.csms_root)
                return Outcome.FAILED
            self._store.certificates.delete(record.id)
            self._log.info("= deleted a %s (serial %s)", record.certificate_type, record.serial_number)
            return Outcome.ACCEPTED
        return Outcome.NOT_FOUND

    def installed(self, use: str) -> list[HashData]:
        """The hash data of each installed certificate of the type, oldest first."""
        return [_stored_hash(record) for record in self._store.certificates.all(use)]

    # -- the station's own certificate (A02, A03) ---------------------------------------------

    def signing_request(self, *, common_name: str, organisation: str) -> str:
        """A new key pair, kept in the store as the pending one before anything is sent (A02.FR.05: it never
        leaves the station), and the PEM PKCS #10 request for it (A02.FR.02/03)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")
        self._store.private_keys.put(PENDING, key_pem, now=self._now())
        subject = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, common_name), x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                                                                     organisation)]
        )  # fmt: skip
        csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
        return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def check_chain(self, text: str, *, max_bytes: int, common_name: str | None = None) -> list[x509.Certificate]:
        """A chain within ``max_bytes`` whose every link is valid now and signed by the next, whose top leads to an
        installed central-system root, and whose leaf is no CA, is for the pending key and (when given) carries
        ``common_name``; else CertificateError (A02.FR.06, A02.FR.16)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.x509.oid import NameOID

        if len(text.encode()) > max_bytes:
            raise CertificateError(f"the chain is longer than the largest this station takes ({max_bytes} bytes)")
        try:
            chain = x509.load_pem_x509_certificates(text.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise CertificateError(f"not a PEM certificate chain ({exc})") from None
        if _is_ca(chain[0]):  # a certificate that may sign others is no station's own
            subject = chain[0].subject.rfc4514_string()
            raise CertificateError(f"{subject} is a CA certificate (basicConstraints CA=true)")
        for cert in chain:
            self._check_valid_now(cert)
        for cert, issuer in itertools.pairwise(chain):
            if not _signed_by(cert, issuer):
                raise CertificateError(f"{cert.subject.rfc4514_string()} is not signed by the next certificate")
        self._issuer_root(chain[-1])
        if common_name is not None:
            names = [a.value for a in chain[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
            if names != [common_name]:
                raise CertificateError(f"the certificate's common name {names} is not the station's {common_name!r}")
        pending = self._store.private_keys.get(PENDING)
        if pending is None:
            raise CertificateError("no certificate signing request is waiting")
        key = serialization.load_pem_private_key(pending.encode("ascii"), password=None)
        if _spki(chain[0].public_key()) != _spki(key.public_key()):
            raise CertificateError("the certificate is not for the key of the signing request")
        return chain

    def activate(self, chain: list[x509.Certificate]) -> HashData:
        """The checked chain becomes the station's certificate and the pending key its key, in one commit."""
        issuer = chain[1] if len(chain) > 1 else self._issuer_root(chain[-1])
        data = hash_data(chain[0], issuer, "SHA256")
        self._store.private_keys.activate(
            "".join(_pem(cert) for cert in chain), hash_algorithm=data.hash_algorithm,
            issuer_name_hash=data.issuer_name_hash, issuer_key_hash=data.issuer_key_hash,
            serial_number=data.serial_number, now=self._now(),
        )  # fmt: skip
        return data

    def station_certificate_ends(self) -> datetime | None:
        """When the station's certificate stops being valid, None without one (A03.FR.02 renews a month before)."""
        credentials = self._store.private_keys.charge_point_credentials()
        return None if credentials is None else _load(credentials[0]).not_valid_after_utc

    # -- helpers ------------------------------------------------------------------------------

    def _issuer_root(self, top: x509.Certificate) -> x509.Certificate:
        for pem in self.csms_roots():
            root = _load(pem)
            if root == top or _signed_by(top, root):
                return root
        raise CertificateError(f"the chain does not lead to an installed {self.csms_root}")

    def _check_valid_now(self, cert: x509.Certificate) -> None:
        now = self._clock.now()
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise CertificateError(
                f"{cert.subject.rfc4514_string()} is valid only from {cert.not_valid_before_utc:%Y-%m-%d} "
                f"to {cert.not_valid_after_utc:%Y-%m-%d}"
            )

    def _hash_of(self, record: CertificateRecord, algorithm: str) -> HashData:
        """The record's hash data with ``algorithm`` (the store keeps SHA256; SHA384/512 are computed)."""
        from cryptography import x509

        if algorithm == record.hash_algorithm:
            return _stored_hash(record)
        certs = x509.load_pem_x509_certificates(record.pem.encode("ascii"))
        cert = certs[0]
        issuer = certs[1] if len(certs) > 1 else cert
        if not _self_signed(cert) and len(certs) == 1:
            found = _issuer_among(cert, self._store.certificates.all())
            issuer = found if found is not None else cert
        return hash_data(cert, issuer, algorithm)

    def _now(self) -> str:
        return self._clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")


async def ask_for_signing(
    send: Callable[[], Awaitable[bool]], *, clock: Clock, log: Log, wait: float, repeats: int
) -> None:
    """Send a signing request, and again after ``wait`` seconds, doubling, ``repeats`` times while no signed
    certificate cancels this (A02.FR.17-19). ``send`` says False when the central system rejected the request:
    nothing more is sent then."""
    wait = max(wait, 1.0)
    for attempt in range(repeats + 1):
        if not await send():
            log.warning("! the central system rejected the certificate signing request")
            return
        await clock.sleep(wait)  # cancelled by a signed certificate for this key
        if attempt < repeats:
            log.info("= no signed certificate within %gs; asking again (%d of %d)", wait, attempt + 1, repeats)
        wait *= 2
    log.warning("! no signed certificate after %d signing requests", repeats + 1)


def install_factory_root(path: Path, certificate_type: str, store: Store, clock: Clock, log: Log) -> None:
    """Install the CA certificate in ``path`` as the version's CSMS root (``certificate_type``) when the station
    holds none: the factory's trust anchor, there before the first connection. Once the central system installed or
    replaced a root (CT-6) it decides, and a restart does not put the factory's back beside it. ConfigError (one
    line) if the file is not one self-signed CA certificate. A validity period that does not hold by the station's
    clock is a warning, not a refusal: a charger without a real-time clock starts before its time is set."""
    try:
        cert = _one_certificate(read_pem(path, "--install-root"))
        if not _is_ca(cert) or not _self_signed(cert):
            raise CertificateError("not a self-signed CA certificate")
    except (TlsUnavailable, CertificateError) as exc:
        raise ConfigError(str(exc) if isinstance(exc, TlsUnavailable) else f"--install-root {path}: {exc}") from None
    if store.certificates.all(certificate_type):
        return
    now = clock.now()
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        log.warning("! --install-root %s is valid from %s to %s, not at the station's time %s", path,
                    f"{cert.not_valid_before_utc:%Y-%m-%d}", f"{cert.not_valid_after_utc:%Y-%m-%d}",
                    now.isoformat())  # fmt: skip
    data = hash_data(cert, cert, "SHA256")
    store.certificates.add(
        certificate_type, _pem(cert), hash_algorithm=data.hash_algorithm, issuer_name_hash=data.issuer_name_hash,
        issuer_key_hash=data.issuer_key_hash, serial_number=data.serial_number, now=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )  # fmt: skip
    log.info("= installed %s as the %s (serial %s)", path, certificate_type, data.serial_number)


def _stored_hash(record: CertificateRecord) -> HashData:
    return HashData(record.hash_algorithm, record.issuer_name_hash, record.issuer_key_hash, record.serial_number)


def _one_certificate(text: str) -> x509.Certificate:
    from cryptography import x509

    try:
        certs = x509.load_pem_x509_certificates(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise CertificateError(f"not a PEM certificate ({exc})") from None
    if len(certs) != 1:
        raise CertificateError(f"{len(certs)} certificates where one was expected")
    return certs[0]


def _load(pem: str) -> x509.Certificate:
    from cryptography import x509

    return x509.load_pem_x509_certificates(pem.encode("ascii"))[0]


def _pem(cert: x509.Certificate) -> str:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _is_ca(cert: x509.Certificate) -> bool:
    from cryptography import x509

    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False
    except ValueError as exc:  # extensions that do not parse (cryptography reads them on first use)
        raise CertificateError(f"unreadable extensions ({exc})") from None


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _self_signed(cert: x509.Certificate) -> bool:
    return _signed_by(cert, cert)


def _issuer_among(cert: x509.Certificate, records: list[CertificateRecord]) -> x509.Certificate | None:
    for record in records:
        candidate = _load(record.pem)
        if _signed_by(cert, candidate):
            return candidate
    return None


def _spki(key: object) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)  # type: ignore[attr-defined, no-any-return]


def _subject_public_key(spki_der: bytes) -> bytes:
    """The subjectPublicKey BIT STRING's content (without its unused-bits octet) from DER
    SubjectPublicKeyInfo: what RFC 6960 hashes for issuerKeyHash."""
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    load_der_public_key(spki_der)  # a well-formed key, or ValueError
    _, body = _der_item(spki_der, 0)  # SEQUENCE
    offset = body[0]
    _, (_, offset) = _der_item(spki_der, offset)  # AlgorithmIdentifier: skipped
    _, bits = _der_item(spki_der, offset)  # BIT STRING
    return spki_der[bits[0] + 1 : bits[1]]


def _der_item(der: bytes, offset: int) -> tuple[int, tuple[int, int]]:
    """The DER item at ``offset``: (its tag, (content start, content end))."""
    tag, length, pos = der[offset], der[offset + 1], offset + 2
    if length & 0x80:
        count = length & 0x7F
        length, pos = int.from_bytes(der[pos : pos + count], "big"), pos + count
    return tag, (pos, pos + length)
