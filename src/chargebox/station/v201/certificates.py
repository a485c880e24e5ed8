"""Certificates (M03 to M05) and the station's own certificate (A02, A03), on the kernel's certificate store.

Answers: InstallCertificate, GetInstalledCertificateIds, DeleteCertificate, CertificateSigned. Sends:
SignCertificate (ChargingStationCertificate) when TriggerMessage SignChargingStationCertificate asks for it or a
month before the certificate ends (A03.FR.02), with a CSR for a key the station makes and keeps in the store
(A02.FR.05); again after CertSigningWaitMinimum seconds, doubling, CertSigningRepeatTimes times while no
CertificateSigned comes (A02.FR.17-19).

The rules are the kernel's (``kernel/certificates.py``, shared with 1.6): a CA certificate valid now for an
install, never the station's own certificate nor the last CSMSRootCertificate in use on profile 2 or 3 for a
delete, and for a CertificateSigned a chain within MaxCertificateChainSize whose every link is valid now and
signed by the next, that leads to an installed CSMSRootCertificate, whose leaf is for the waiting key and names
the station (its CN is SecurityCtrlr.Identity). An installed CSMSRootCertificate is what the link trusts: the
``Version`` names it (``csms_root``), and ``CsmsRoots`` chooses them per attempt (the link's ``RootTrust``): all of
them, or, with SecurityCtrlr.AdditionalRootCertificateCheck true (the station's configuration), the newest alone and
the one it replaced as its fallback (M05.FR.12 to M05.FR.16). The new certificate is used from the next connection;
on profile 3 the station reconnects for it at once (A02.FR.08).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Final

from chargebox.clock import Clock
from chargebox.log import Log
from chargebox.protocol.v201 import messages as m
from chargebox.rpc import Handler, Reply
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.certificates import (
    CertificateError,
    Certificates,
    HashData,
    ask_for_signing,
    install_factory_root,
)
from chargebox.station.kernel.events import SecurityEvent
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Permit, Service, Trigger, Triggers
from chargebox.station.kernel.settings import StationSettings
from chargebox.station.v201.device_model import DeviceModel
from chargebox.station.v201.offer import Block
from chargebox.station.v201.variables import Mutability, declare
from chargebox.store import Store
from chargebox.store.certificates import CertificateRecord, CertificatesTable
from chargebox.tasks import Tasks

CSMS_ROOT: Final = m.InstallCertificateUseEnumType.CSMS_ROOT_CERTIFICATE.value
ROOT_TYPES: Final = frozenset(use.value for use in m.InstallCertificateUseEnumType)
INVALID_CHARGING_STATION_CERTIFICATE: Final = "InvalidChargingStationCertificate"  # A02.FR.07, A03.FR.07
RENEW_BEFORE: Final = timedelta(days=30)  # A03.FR.02: a month before it expires
MAX_ENTRIES: Final = 20  # CA certificates the store takes (CertificateEntries' maxLimit; M05.FR.06)

ORGANIZATION_NAME: Final = declare(
    "SecurityCtrlr", "OrganizationName",
    description="The O of the station certificate's signing request (A00.FR.509); set by the CSO",
)  # fmt: skip
IDENTITY: Final = declare(
    "SecurityCtrlr", "Identity", mutability=Mutability.READ_ONLY,
    description="The station's identity: its Basic authentication user name and its certificate's CN",
)  # fmt: skip
CERTIFICATE_ENTRIES: Final = declare(
    "SecurityCtrlr", "CertificateEntries", max_limit=MAX_ENTRIES,
    description="The CA certificates installed now; maxLimit: the most the station takes (M05.FR.06)",
)  # fmt: skip
ADDITIONAL_ROOT_CERTIFICATE_CHECK: Final = declare(
    "SecurityCtrlr", "AdditionalRootCertificateCheck", default="false",
    description="A new CSMSRootCertificate must be signed by the current one (M05.FR.10), which stays its fallback",
)  # fmt: skip
MAX_CERTIFICATE_CHAIN_SIZE: Final = declare(
    "SecurityCtrlr", "MaxCertificateChainSize", default="10000",
    description="The largest CertificateSigned chain the station takes, in bytes (A02.FR.16)",
)  # fmt: skip
CERT_SIGNING_WAIT_MINIMUM: Final = declare(
    "SecurityCtrlr", "CertSigningWaitMinimum", default="60", min_limit=1,
    description="Seconds before a SignCertificate without CertificateSigned is sent again, doubling (A02.FR.17)",
)  # fmt: skip
CERT_SIGNING_REPEAT_TIMES: Final = declare(
    "SecurityCtrlr", "CertSigningRepeatTimes", default="3", min_limit=0,
    description="How many times an unanswered SignCertificate is sent again (A02.FR.19)",
)  # fmt: skip


class CertificateService(Service[m.Action]):
    def __init__(
        self,
        *,
        certificates: Certificates,
        lane: Lane,
        model: DeviceModel,
        clock: Clock,
        log: Log,
        security_profile_key: str,
        security_event: SecurityEvent,
        on_certificate: Callable[[], None],
    ) -> None:
        self._certificates = certificates
        self._lane = lane
        self._model = model
        self._clock = clock
        self._log = log
        self._security_profile_key = security_profile_key
        self._security_event = security_event
        self._on_certificate = on_certificate
        self._tasks = Tasks(log, "certificate signing")

    def handlers(self) -> dict[m.Action, Handler]:
        return {
            m.Action.INSTALL_CERTIFICATE: self.on_install_certificate,
            m.Action.GET_INSTALLED_CERTIFICATE_IDS: self.on_get_installed_certificate_ids,
            m.Action.DELETE_CERTIFICATE: self.on_delete_certificate,
            m.Action.CERTIFICATE_SIGNED: self.on_certificate_signed,
        }

    def triggers(self, permit: Permit) -> Triggers:
        async def sign(_evse: int | None) -> None:
            self.sign_certificate()

        def accepts(_evse: int | None) -> bool:
            return bool(self._model.get(ORGANIZATION_NAME.key))  # without it there is no request to make

        return {m.MessageTriggerEnumType.SIGN_CHARGING_STATION_CERTIFICATE: Trigger(send=sign, accepts=accepts)}

    def reset(self) -> None:
        self._tasks.cancel()

    async def resume(self) -> None:
        """A03.FR.02: a station certificate within a month of its end is renewed unasked."""
        ends = self._certificates.station_certificate_ends()
        if ends is not None and ends - self._clock.now() <= RENEW_BEFORE and self._model.get(ORGANIZATION_NAME.key):
            self._log.info("= the ChargingStationCertificate ends %s; asking for a new one", f"{ends:%Y-%m-%d}")
            self.sign_certificate()

    def certificate_entries(self) -> str:
        """SecurityCtrlr.CertificateEntries: the certificates installed now."""
        return str(self._certificates.count())

    # -- M05 InstallCertificate, M03 GetInstalledCertificateIds, M04 DeleteCertificate --------

    def on_install_certificate(self, request: m.InstallCertificateRequest) -> m.InstallCertificateResponse:
        """M05.FR.02/03/06/07: Accepted, Rejected for an invalid certificate or a full store, Failed."""
        outcome = self._certificates.install(
            request.certificate_type.value, request.certificate,
            additional_check=self._model.get_bool(ADDITIONAL_ROOT_CERTIFICATE_CHECK.key), max_entries=MAX_ENTRIES,
        )  # fmt: skip
        return m.InstallCertificateResponse(status=m.InstallCertificateStatusEnumType(outcome.value))

    def on_get_installed_certificate_ids(
        self, request: m.GetInstalledCertificateIdsRequest
    ) -> m.GetInstalledCertificateIdsResponse:
        """M03.FR.02-04: the hash data of every certificate of the asked types (all types when none is named)."""
        types = request.certificate_type or list(m.GetCertificateIdUseEnumType)
        chains = [
            m.CertificateHashDataChainType(certificate_type=use, certificate_hash_data=_hash_data(data))
            for use in dict.fromkeys(types)
            for data in self._certificates.installed(use.value)
        ]
        if not chains:
            return m.GetInstalledCertificateIdsResponse(status=m.GetInstalledCertificateStatusEnumType.NOT_FOUND)
        return m.GetInstalledCertificateIdsResponse(
            status=m.GetInstalledCertificateStatusEnumType.ACCEPTED, certificate_hash_data_chain=chains
        )

    def on_delete_certificate(self, request: m.DeleteCertificateRequest) -> m.DeleteCertificateResponse:
        """M04.FR.02-04, M04.FR.06: Accepted, NotFound, Failed for the station's own certificate and for the last
        CSMSRootCertificate while profile 2 or 3 needs it."""
        wanted = request.certificate_hash_data
        outcome = self._certificates.delete(
            HashData(wanted.hash_algorithm.value, wanted.issuer_name_hash, wanted.issuer_key_hash,
                     wanted.serial_number),
            security_profile=self._model.get_int(self._security_profile_key),
        )  # fmt: skip
        return m.DeleteCertificateResponse(status=m.DeleteCertificateStatusEnumType(outcome.value))

    # -- A02/A03 SignCertificate, CertificateSigned -------------------------------------------

    def sign_certificate(self) -> None:
        """A02.FR.02/03: a new key pair and a SignCertificate for it, asked again while no CertificateSigned
        comes (a new request replaces the one waiting)."""
        self._tasks.cancel()
        self._tasks.spawn(self._sign())

    async def _sign(self) -> None:
        organisation = self._model.get(ORGANIZATION_NAME.key)
        if not organisation:
            self._log.warning("! cannot request a ChargingStationCertificate: SecurityCtrlr.OrganizationName is unset")
            return
        csr = self._certificates.signing_request(common_name=self._identity(), organisation=organisation)
        request = m.SignCertificateRequest(
            csr=csr, certificate_type=m.CertificateSigningUseEnumType.CHARGING_STATION_CERTIFICATE
        )

        async def send() -> bool:
            result = await self._lane.call(request)
            answer = result.response if result.ok else None
            return answer is None or answer.status is not m.GenericStatusEnumType.REJECTED

        await ask_for_signing(
            send, clock=self._clock, log=self._log,
            wait=float(self._model.get_int(CERT_SIGNING_WAIT_MINIMUM.key, 60)),
            repeats=self._model.get_int(CERT_SIGNING_REPEAT_TIMES.key, 3),
        )  # fmt: skip

    def on_certificate_signed(self, request: m.CertificateSignedRequest) -> Reply[m.CertificateSignedResponse]:
        """A02.FR.06-08: a valid chain for the waiting key is Accepted, kept with the key in one commit and used
        from the next connection; anything else is Rejected, reported as InvalidChargingStationCertificate, and
        the station asks no more until it is asked to (A02.FR.20)."""
        try:
            if request.certificate_type == m.CertificateSigningUseEnumType.V2G_CERTIFICATE:
                raise CertificateError("this station has no ISO 15118 certificate to renew")
            chain = self._certificates.check_chain(
                request.certificate_chain, max_bytes=self._model.get_int(MAX_CERTIFICATE_CHAIN_SIZE.key, 10000),
                common_name=self._identity(),
            )  # fmt: skip
        except CertificateError as exc:
            self._log.warning("! CertificateSigned rejected: %s", exc)
            self._tasks.cancel()  # A02.FR.20
            self._security_event(INVALID_CHARGING_STATION_CERTIFICATE, str(exc)[:255])
            return Reply(m.CertificateSignedResponse(status=m.CertificateSignedStatusEnumType.REJECTED))
        self._tasks.cancel()
        data = self._certificates.activate(chain)
        self._log.info("= new ChargingStationCertificate (serial %s) for the next connection", data.serial_number)

        async def then() -> None:
            self._on_certificate()  # A02.FR.08: on profile 3, reconnect with it now

        return Reply(m.CertificateSignedResponse(status=m.CertificateSignedStatusEnumType.ACCEPTED), then=then)

    def _identity(self) -> str:
        return self._model.get(IDENTITY.key) or ""


def provision(settings: StationSettings, store: Store, clock: Clock, log: Log) -> None:
    """2.0.1's ``Table.provision``: the factory's CSMSRootCertificate, when the settings name one (``install_root``),
    there before the link's first TLS connection (security profiles 2 and 3), as 1.6's CentralSystemRootCertificate
    is."""
    if settings.install_root is not None:
        root = m.InstallCertificateUseEnumType.CSMS_ROOT_CERTIFICATE.value
        install_factory_root(settings.install_root, root, store, clock, log)


def _hash_data(data: HashData) -> m.CertificateHashDataType:
    return m.CertificateHashDataType(
        hash_algorithm=m.HashAlgorithmEnumType(data.hash_algorithm), issuer_name_hash=data.issuer_name_hash,
        issuer_key_hash=data.issuer_key_hash, serial_number=data.serial_number,
    )  # fmt: skip


class CsmsRoots:
    """The CSMS roots each connection attempt verifies against (the link's ``RootTrust``). With
    AdditionalRootCertificateCheck the newest root alone (M05.FR.12), the one it replaced only after the newest
    refused the central system's certificate (M05.FR.14; on a migration's way back, M05.FR.16), and the replaced one
    is deleted once the newest verified a connection (M05.FR.13). Without it, every CSMS root at once."""

    def __init__(self, *, certificates: CertificatesTable, model: DeviceModel, log: Log) -> None:
        self._certificates = certificates
        self._model = model
        self._log = log
        self._fallback = False  # the next attempt verifies against the replaced root

    def roots(self) -> tuple[list[str], bool]:
        records = self._certificates.all(CSMS_ROOT)
        if not self._checked(records):
            return [record.pem for record in records], self._check()
        return [record.pem for record in (records[:-1] if self._fallback else records[-1:])], True

    def refused(self) -> None:
        if self._checked(self._certificates.all(CSMS_ROOT)):
            self._fallback = not self._fallback  # the other root next; after both, the newest again

    def verified(self) -> None:
        records = self._certificates.all(CSMS_ROOT)
        if self._fallback or not self._checked(records):
            return
        for older in records[:-1]:  # M05.FR.13
            self._certificates.delete(older.id)
        self._log.info("= connected with the new CSMSRootCertificate: its fallback is deleted")

    def _check(self) -> bool:
        return self._model.get_bool(ADDITIONAL_ROOT_CERTIFICATE_CHECK.key)

    def _checked(self, records: list[CertificateRecord]) -> bool:
        """A new root with its fallback, under AdditionalRootCertificateCheck."""
        return self._check() and len(records) > 1


def _build(kernel: Kernel[DeviceModel], _needs: Needs) -> CertificateService:
    certificates = Certificates(
        store=kernel.store, clock=kernel.clock, log=kernel.log, csms_root=kernel.version.csms_root,
        root_types=ROOT_TYPES,
    )  # fmt: skip
    service = CertificateService(
        certificates=certificates, lane=kernel.lane, model=kernel.config, clock=kernel.clock, log=kernel.log,
        security_profile_key=kernel.version.keys.security_profile, security_event=kernel.security_events.report,
        on_certificate=kernel.link.reconnect_for_certificate,
    )  # fmt: skip
    identity = kernel.settings.charge_point_id
    kernel.config.provide(IDENTITY.key, lambda: identity)
    kernel.config.provide(CERTIFICATE_ENTRIES.key, service.certificate_entries)
    kernel.link.trust(CsmsRoots(certificates=kernel.store.certificates, model=kernel.config, log=kernel.log))
    return service


# The certificates and the station's keys are the kernel's tables: the link reads them for TLS.
FEATURE: Final = Feature(
    name="certificates",
    profile=Block.CERTIFICATE_MANAGEMENT,
    service=CertificateService,
    build=_build,
    actions=frozenset({m.Action.INSTALL_CERTIFICATE, m.Action.GET_INSTALLED_CERTIFICATE_IDS,
                       m.Action.DELETE_CERTIFICATE, m.Action.CERTIFICATE_SIGNED}),
    variables=(ORGANIZATION_NAME, IDENTITY, CERTIFICATE_ENTRIES, ADDITIONAL_ROOT_CERTIFICATE_CHECK,
               MAX_CERTIFICATE_CHAIN_SIZE, CERT_SIGNING_WAIT_MINIMUM, CERT_SIGNING_REPEAT_TIMES),
)  # fmt: skip
