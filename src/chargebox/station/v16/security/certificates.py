"""Certificates (checklist 4.5, CT-1..CT-6; whitepaper A02/A03, M03-M05).

Answers: InstallCertificate, DeleteCertificate, GetInstalledCertificateIds, CertificateSigned.
Sends: SignCertificate, with a CSR this service builds for a key it generates and keeps in the
store (the key never leaves the station, CT-1), and again after CertSigningWaitMinimum seconds
(doubling) up to CertSigningRepeatTimes times while no CertificateSigned comes.

What goes into the store is checked first: one PEM certificate that is a CA and valid now for an
install; for a CertificateSigned, a chain within CertificateSignedMaxChainSize whose every link is
signed by the next, whose top is signed by an installed CentralSystemRootCertificate, every one
valid now, and whose leaf is for the key waiting on it. Anything else is Rejected and the store
is unchanged. The new ChargePointCertificate is used from the next connection; on profile 3 the
station reconnects for it at once (``on_certificate``).

``install_factory_root`` is the factory's provisioning (``--install-root``, ``[station] install_root``): the
central system's root installed as a CentralSystemRootCertificate before the station first connects, so a
CertificateSigned chains to it and SecurityProfile 2 may be raised (T-43). Unlike ``--ca-file``, which TLS
trusts beside the store, it is in the store the central system manages (listed, deletable, replaceable).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chargebox.clock import Clock
from chargebox.errors import ConfigError
from chargebox.log import Log
from chargebox.protocol.messages import (
    Action,
    CertificateHashData,
    CertificateSignedRequest,
    CertificateSignedResponse,
    CertificateSignedStatus,
    CertificateUse,
    DeleteCertificateRequest,
    DeleteCertificateResponse,
    DeleteCertificateStatus,
    ExtendedMessageTrigger,
    GenericStatus,
    GetInstalledCertificateIdsRequest,
    GetInstalledCertificateIdsResponse,
    GetInstalledCertificateStatus,
    HashAlgorithm,
    InstallCertificateRequest,
    InstallCertificateResponse,
    InstallCertificateStatus,
    SignCertificateRequest,
)
from chargebox.rpc import Handler, Reply
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.config import Configuration
from chargebox.station.kernel.events import SecurityEvent
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Service, Trigger
from chargebox.station.kernel.settings import StationSettings
from chargebox.station.kernel.tls import TlsUnavailable, read_pem
from chargebox.station.v16.config_keys import Profile
from chargebox.station.v16.security.extended_trigger import ExtendedTriggerService
from chargebox.store import Store
from chargebox.store.certificates import CertificateRecord
from chargebox.store.keys import CHARGE_POINT_CERTIFICATE, PENDING
from chargebox.tasks import Tasks

CENTRAL_SYSTEM_ROOT: Final = CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE.value
ROOT_TYPES: Final = frozenset(use.value for use in CertificateUse)
INVALID_CHARGE_POINT_CERTIFICATE: Final = "InvalidChargePointCertificate"
RENEW_BEFORE: Final = timedelta(days=30)  # CT-3: "within one month of expiry"
_HASHES: Final = {
    HashAlgorithm.SHA256: hashlib.sha256,
    HashAlgorithm.SHA384: hashlib.sha384,
    HashAlgorithm.SHA512: hashlib.sha512,
}


class CertificateError(ValueError):
    """Why a certificate or chain is refused (said in the log and the security event)."""


@dataclass(frozen=True, slots=True)
class HashData:
    """OCSP's CertificateHashData of one certificate, as the store and the messages carry it."""

    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str

    def message(self) -> CertificateHashData:
        return CertificateHashData(
            hash_algorithm=HashAlgorithm(self.hash_algorithm),
            issuer_name_hash=self.issuer_name_hash,
            issuer_key_hash=self.issuer_key_hash,
            serial_number=self.serial_number,
        )


def hash_data(cert: x509.Certificate, issuer: x509.Certificate, algorithm: HashAlgorithm) -> HashData:
    """RFC 6960 CertID: hashes of the issuer's DER name and of its public key's bit string, and the
    serial number in lower-case hex without leading zeros (whitepaper edition 3's clarification)."""
    digest = _HASHES[algorithm]
    key_bits = _spki(issuer.public_key())
    return HashData(
        hash_algorithm=algorithm.value,
        issuer_name_hash=digest(cert.issuer.public_bytes()).hexdigest(),
        issuer_key_hash=digest(_subject_public_key(key_bits)).hexdigest(),
        serial_number=format(cert.serial_number, "x"),
    )


class CertificateService(Service):
    def __init__(
        self,
        *,
        store: Store,
        lane: Lane,
        config: Configuration,
        clock: Clock,
        log: Log,
        charge_point_id: str,
        security_event: SecurityEvent,
        security_profile: Callable[[], int],
        on_certificate: Callable[[], None],
    ) -> None:
        self._store = store
        self._lane = lane
        self._config = config
        self._clock = clock
        self._log = log
        self._charge_point_id = charge_point_id
        self._security_event = security_event
        self._security_profile = security_profile
        self._on_certificate = on_certificate
        self._tasks = Tasks(log, "certificate signing")

    def handlers(self) -> dict[Action, Handler]:
        return {
            Action.INSTALL_CERTIFICATE: self.on_install_certificate,
            Action.DELETE_CERTIFICATE: self.on_delete_certificate,
            Action.GET_INSTALLED_CERTIFICATE_IDS: self.on_get_installed_certificate_ids,
            Action.CERTIFICATE_SIGNED: self.on_certificate_signed,
        }

    def reset(self) -> None:
        self._tasks.cancel()

    async def resume(self) -> None:
        """CT-3 (A03.FR.02): a ChargePointCertificate within a month of its end is renewed unasked."""
        credentials = self._store.private_keys.charge_point_credentials()
        if credentials is None:
            return
        leaf = _load(credentials[0])
        if leaf.not_valid_after_utc - self._clock.now() <= RENEW_BEFORE:
            self._log.info(
                "= the ChargePointCertificate ends %s; asking for a new one", f"{leaf.not_valid_after_utc:%Y-%m-%d}"
            )
            self.sign_certificate()

    # -- what the link uses -------------------------------------------------------------------

    def central_system_roots(self) -> list[str]:
        """The installed CentralSystemRootCertificates (PEM), for the TLS context (T-44)."""
        return self._store.certificates.pems(CENTRAL_SYSTEM_ROOT)

    # -- M05 InstallCertificate ---------------------------------------------------------------

    def on_install_certificate(self, request: InstallCertificateRequest) -> InstallCertificateResponse:
        """CT-6: a valid CA certificate → Accepted; invalid, store full, or (with
        AdditionalRootCertificateCheck) a CentralSystemRoot not signed by the current one → Rejected."""
        use = request.certificate_type.value
        try:
            cert = _one_certificate(request.certificate)
            self._check_valid_now(cert)
            if not _is_ca(cert):
                raise CertificateError("not a CA certificate")
            roots = [r for r in self._store.certificates.all() if r.certificate_type in ROOT_TYPES]
            same = [r for r in roots if r.certificate_type == use]
            issuer = cert if _self_signed(cert) else _issuer_among(cert, same)
            if issuer is None:
                raise CertificateError("neither self-signed nor issued by an installed root of its type")
            if self._config.get_bool("AdditionalRootCertificateCheck") and use == CENTRAL_SYSTEM_ROOT and same:
                current = _load(same[-1].pem)
                if not _signed_by(cert, current):
                    raise CertificateError("AdditionalRootCertificateCheck: not signed by the current root")
            elif len(roots) >= self._config.get_int("CertificateStoreMaxLength", default=10):
                raise CertificateError("the certificate store is full (CertificateStoreMaxLength)")
        except CertificateError as exc:
            self._log.warning("! InstallCertificate %s rejected: %s", use, exc)
            return InstallCertificateResponse(status=InstallCertificateStatus.REJECTED)
        data = hash_data(cert, issuer, HashAlgorithm.SHA256)
        try:
            if self._config.get_bool("AdditionalRootCertificateCheck") and use == CENTRAL_SYSTEM_ROOT:
                for older in same[:-1]:  # M05.FR.09: the new root, and the current one as its fallback
                    self._store.certificates.delete(older.id)
            self._store.certificates.add(
                use, _pem(cert), hash_algorithm=data.hash_algorithm, issuer_name_hash=data.issuer_name_hash,
                issuer_key_hash=data.issuer_key_hash, serial_number=data.serial_number, now=self._now(),
            )  # fmt: skip
        except Exception:  # CT-6: "other failure"
            self._log.exception("! InstallCertificate %s: the store failed", use)
            return InstallCertificateResponse(status=InstallCertificateStatus.FAILED)
        self._log.info("= installed a %s (serial %s)", use, data.serial_number)
        return InstallCertificateResponse(status=InstallCertificateStatus.ACCEPTED)

    # -- M04 DeleteCertificate, M03 GetInstalledCertificateIds --------------------------------

    def on_delete_certificate(self, request: DeleteCertificateRequest) -> DeleteCertificateResponse:
        """CT-5: Accepted, NotFound, or Failed for the ChargePointCertificate and for the last
        CentralSystemRootCertificate while TLS (profile 2 or 3) depends on it."""
        wanted = request.certificate_hash_data
        for record in self._store.certificates.all():
            if self._hash_of(record, wanted.hash_algorithm) != HashData(
                wanted.hash_algorithm.value, wanted.issuer_name_hash.lower(), wanted.issuer_key_hash.lower(),
                wanted.serial_number.lower().lstrip("0") or "0",
            ):  # fmt: skip
                continue
            if record.certificate_type == CHARGE_POINT_CERTIFICATE:
                return DeleteCertificateResponse(status=DeleteCertificateStatus.FAILED)
            if (
                record.certificate_type == CENTRAL_SYSTEM_ROOT
                and self._security_profile() >= 2
                and len(self._store.certificates.all(CENTRAL_SYSTEM_ROOT)) == 1
            ):
                self._log.warning("! DeleteCertificate refused: the last CentralSystemRootCertificate is in use")
                return DeleteCertificateResponse(status=DeleteCertificateStatus.FAILED)
            self._store.certificates.delete(record.id)
            self._log.info("= deleted a %s (serial %s)", record.certificate_type, record.serial_number)
            return DeleteCertificateResponse(status=DeleteCertificateStatus.ACCEPTED)
        return DeleteCertificateResponse(status=DeleteCertificateStatus.NOT_FOUND)

    def on_get_installed_certificate_ids(
        self, request: GetInstalledCertificateIdsRequest
    ) -> GetInstalledCertificateIdsResponse:
        """CT-4: hash data of each installed certificate of the type, or NotFound."""
        records = self._store.certificates.all(request.certificate_type.value)
        if not records:
            return GetInstalledCertificateIdsResponse(status=GetInstalledCertificateStatus.NOT_FOUND)
        return GetInstalledCertificateIdsResponse(
            status=GetInstalledCertificateStatus.ACCEPTED,
            certificate_hash_data=[self._stored_hash(r).message() for r in records],
        )

    # -- A02/A03 SignCertificate, CertificateSigned -------------------------------------------

    def sign_certificate(self) -> None:
        """CT-1: a new key pair and a SignCertificate for it (ExtendedTriggerMessage
        SignChargePointCertificate, or the operator); retried while no CertificateSigned comes."""
        self._tasks.cancel()
        self._tasks.spawn(self._sign())

    async def _sign(self) -> None:
        organisation = self._config.configured("CpoName")
        if not organisation:
            self._log.warning("! cannot request a ChargePointCertificate: CpoName is not set (CT-1)")
            return
        key = ec.generate_private_key(ec.SECP256R1())
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")
        self._store.private_keys.put(PENDING, key_pem, now=self._now())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COMMON_NAME, self._charge_point_id),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                    ]
                )
            )
            .sign(key, hashes.SHA256())
        )
        request = SignCertificateRequest(csr=csr.public_bytes(serialization.Encoding.PEM).decode("ascii"))
        wait = float(max(self._config.get_int("CertSigningWaitMinimum", default=60), 1))
        repeats = self._config.get_int("CertSigningRepeatTimes", default=3)
        for attempt in range(repeats + 1):
            result = await self._lane.call(request)
            if result.ok and result.response is not None and result.response.status is GenericStatus.REJECTED:
                self._log.warning("! the central system rejected the certificate signing request")
                return
            await self._clock.sleep(wait)  # cancelled by a CertificateSigned for this key
            if attempt < repeats:
                self._log.info("= no CertificateSigned within %gs; asking again (%d of %d)", wait, attempt + 1, repeats)
            wait *= 2
        self._log.warning("! no CertificateSigned after %d signing requests", repeats + 1)

    def on_certificate_signed(self, request: CertificateSignedRequest) -> Reply[CertificateSignedResponse]:
        """CT-2: a valid chain for the pending key → Accepted, stored as the ChargePointCertificate
        (with the key, at once) for the next connection; anything else → Rejected, the security
        event InvalidChargePointCertificate, and nothing changed."""
        try:
            chain = self._check_chain(request.certificate_chain)
        except CertificateError as exc:
            self._log.warning("! CertificateSigned rejected: %s", exc)
            self._security_event(INVALID_CHARGE_POINT_CERTIFICATE, str(exc)[:255])
            return Reply(CertificateSignedResponse(status=CertificateSignedStatus.REJECTED))
        self._tasks.cancel()
        data = hash_data(chain[0], chain[1] if len(chain) > 1 else self._issuer_root(chain[-1]), HashAlgorithm.SHA256)
        self._store.private_keys.activate(
            "".join(_pem(cert) for cert in chain), hash_algorithm=data.hash_algorithm,
            issuer_name_hash=data.issuer_name_hash, issuer_key_hash=data.issuer_key_hash,
            serial_number=data.serial_number, now=self._now(),
        )  # fmt: skip
        self._log.info("= new ChargePointCertificate (serial %s), used from the next connection", data.serial_number)

        async def then() -> None:
            self._on_certificate()

        return Reply(CertificateSignedResponse(status=CertificateSignedStatus.ACCEPTED), then=then)

    def _check_chain(self, text: str) -> list[x509.Certificate]:
        limit = self._config.get_int("CertificateSignedMaxChainSize", default=10000)
        if len(text.encode()) > limit:
            raise CertificateError(f"the chain is longer than CertificateSignedMaxChainSize ({limit} bytes)")
        try:
            chain = x509.load_pem_x509_certificates(text.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise CertificateError(f"not a PEM certificate chain ({exc})") from None
        if _is_ca(chain[0]):  # CT-2: a certificate that may sign others is no charge point's own
            subject = chain[0].subject.rfc4514_string()
            raise CertificateError(f"{subject} is a CA certificate (basicConstraints CA=true)")
        for cert in chain:
            self._check_valid_now(cert)
        for cert, issuer in itertools.pairwise(chain):
            if not _signed_by(cert, issuer):
                raise CertificateError(f"{cert.subject.rfc4514_string()} is not signed by the next certificate")
        self._issuer_root(chain[-1])
        pending = self._store.private_keys.get(PENDING)
        if pending is None:
            raise CertificateError("no certificate signing request is waiting")
        key = serialization.load_pem_private_key(pending.encode("ascii"), password=None)
        if _spki(chain[0].public_key()) != _spki(key.public_key()):
            raise CertificateError("the certificate is not for the key of the signing request")
        return chain

    def _issuer_root(self, top: x509.Certificate) -> x509.Certificate:
        for pem in self.central_system_roots():
            root = _load(pem)
            if root == top or _signed_by(top, root):
                return root
        raise CertificateError("the chain does not lead to an installed CentralSystemRootCertificate")

    def _check_valid_now(self, cert: x509.Certificate) -> None:
        now = self._clock.now()
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise CertificateError(
                f"{cert.subject.rfc4514_string()} is valid only from {cert.not_valid_before_utc:%Y-%m-%d} "
                f"to {cert.not_valid_after_utc:%Y-%m-%d}"
            )

    def _stored_hash(self, record: CertificateRecord) -> HashData:
        return HashData(record.hash_algorithm, record.issuer_name_hash, record.issuer_key_hash, record.serial_number)

    def _hash_of(self, record: CertificateRecord, algorithm: HashAlgorithm) -> HashData:
        """The record's hash data with ``algorithm`` (the store keeps SHA256; SHA384/512 are computed)."""
        if algorithm.value == record.hash_algorithm:
            return self._stored_hash(record)
        certs = x509.load_pem_x509_certificates(record.pem.encode("ascii"))
        cert = certs[0]
        issuer = certs[1] if len(certs) > 1 else cert
        if not _self_signed(cert) and len(certs) == 1:
            found = _issuer_among(cert, self._store.certificates.all())
            issuer = found if found is not None else cert
        return hash_data(cert, issuer, algorithm)

    def _now(self) -> str:
        return self._clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def provision(settings: StationSettings, store: Store, clock: Clock, log: Log) -> None:
    """1.6's ``Table.provision``: the factory's root, when the settings name one (``install_root``)."""
    if settings.install_root is not None:
        install_factory_root(settings.install_root, store, clock, log)


def install_factory_root(path: Path, store: Store, clock: Clock, log: Log) -> None:
    """Install the CA certificate in ``path`` as a CentralSystemRootCertificate when the station holds none:
    the factory's trust anchor, there before the first connection. Once the central system installed or replaced
    a root (CT-6) it decides, and a restart does not put the factory's back beside it. ConfigError (one line) if
    the file is not one self-signed CA certificate. A validity period that does not hold by the station's clock is
    a warning, not a refusal: a charger without a real-time clock starts before its time is set."""
    try:
        cert = _one_certificate(read_pem(path, "--install-root"))
        if not _is_ca(cert) or not _self_signed(cert):
            raise CertificateError("not a self-signed CA certificate")
    except (TlsUnavailable, CertificateError) as exc:
        raise ConfigError(str(exc) if isinstance(exc, TlsUnavailable) else f"--install-root {path}: {exc}") from None
    if store.certificates.all(CENTRAL_SYSTEM_ROOT):
        return
    now = clock.now()
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        log.warning("! --install-root %s is valid from %s to %s, not at the station's time %s", path,
                    f"{cert.not_valid_before_utc:%Y-%m-%d}", f"{cert.not_valid_after_utc:%Y-%m-%d}",
                    now.isoformat())  # fmt: skip
    data = hash_data(cert, cert, HashAlgorithm.SHA256)
    store.certificates.add(
        CENTRAL_SYSTEM_ROOT, _pem(cert), hash_algorithm=data.hash_algorithm, issuer_name_hash=data.issuer_name_hash,
        issuer_key_hash=data.issuer_key_hash, serial_number=data.serial_number, now=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )  # fmt: skip
    log.info("= installed %s as the CentralSystemRootCertificate (serial %s)", path, data.serial_number)


def _one_certificate(text: str) -> x509.Certificate:
    try:
        certs = x509.load_pem_x509_certificates(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise CertificateError(f"not a PEM certificate ({exc})") from None
    if len(certs) != 1:
        raise CertificateError(f"{len(certs)} certificates where one was expected")
    return certs[0]


def _load(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificates(pem.encode("ascii"))[0]


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False
    except ValueError as exc:  # extensions that do not parse (cryptography reads them on first use)
        raise CertificateError(f"unreadable extensions ({exc})") from None


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
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
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)  # type: ignore[attr-defined, no-any-return]


def _subject_public_key(spki_der: bytes) -> bytes:
    """The subjectPublicKey BIT STRING's content (without its unused-bits octet) from DER
    SubjectPublicKeyInfo: what RFC 6960 hashes for issuerKeyHash."""
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    load_der_public_key(spki_der)  # a well-formed key, or ValueError
    _, body = _der_item(spki_der, 0)  # SEQUENCE
    offset = body[0]
    offset, _ = _der_skip(spki_der, offset)  # AlgorithmIdentifier
    _, bits = _der_item(spki_der, offset)  # BIT STRING
    return spki_der[bits[0] + 1 : bits[1]]


def _der_item(der: bytes, offset: int) -> tuple[int, tuple[int, int]]:
    """The DER item at ``offset``: (its tag, (content start, content end))."""
    tag, length, pos = der[offset], der[offset + 1], offset + 2
    if length & 0x80:
        count = length & 0x7F
        length, pos = int.from_bytes(der[pos : pos + count], "big"), pos + count
    return tag, (pos, pos + length)


def _der_skip(der: bytes, offset: int) -> tuple[int, None]:
    _, (_, end) = _der_item(der, offset)
    return end, None


def _build(kernel: Kernel, needs: Needs) -> CertificateService:
    config, security_profile = kernel.config, kernel.version.keys.security_profile
    service = CertificateService(
        store=kernel.store,
        lane=kernel.lane,
        config=config,
        clock=kernel.clock,
        log=kernel.log,
        charge_point_id=kernel.settings.charge_point_id,
        security_event=kernel.security_events.report,
        security_profile=lambda: config.get_int(security_profile),
        on_certificate=kernel.link.reconnect_for_certificate,
    )

    async def sign(_connector_id: int | None) -> None:
        service.sign_certificate()  # CT-1: a new key pair and its SignCertificate

    needs(ExtendedTriggerService).add({ExtendedMessageTrigger.SIGN_CHARGE_POINT_CERTIFICATE: Trigger(send=sign)})
    return service


# The certificates and the charge point's keys are the kernel's tables: the link reads them for TLS.
FEATURE: Final = Feature(
    name="certificates",
    profile=Profile.SECURITY,
    service=CertificateService,
    build=_build,
    actions=frozenset({Action.INSTALL_CERTIFICATE, Action.DELETE_CERTIFICATE, Action.GET_INSTALLED_CERTIFICATE_IDS,
                       Action.CERTIFICATE_SIGNED}),
    keys=frozenset({"AdditionalRootCertificateCheck", "CertificateSignedMaxChainSize", "CertificateStoreMaxLength",
                    "CertSigningRepeatTimes", "CertSigningWaitMinimum", "CpoName"}),
    needs=(ExtendedTriggerService,),
)  # fmt: skip
