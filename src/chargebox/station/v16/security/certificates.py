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

from collections.abc import Callable
from datetime import timedelta
from typing import Final

from chargebox.clock import Clock
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
from chargebox.station.kernel.certificates import (
    CertificateError,
    Certificates,
    HashData,
    ask_for_signing,
    install_factory_root,
)
from chargebox.station.kernel.config import Configuration
from chargebox.station.kernel.events import SecurityEvent
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Service, Trigger
from chargebox.station.kernel.settings import StationSettings
from chargebox.station.v16.config_keys import Profile
from chargebox.station.v16.security.extended_trigger import ExtendedTriggerService
from chargebox.store import Store
from chargebox.tasks import Tasks

CENTRAL_SYSTEM_ROOT: Final = CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE.value
ROOT_TYPES: Final = frozenset(use.value for use in CertificateUse)
INVALID_CHARGE_POINT_CERTIFICATE: Final = "InvalidChargePointCertificate"
RENEW_BEFORE: Final = timedelta(days=30)  # CT-3: "within one month of expiry"


class CertificateService(Service):
    def __init__(
        self,
        *,
        certificates: Certificates,
        lane: Lane,
        config: Configuration,
        clock: Clock,
        log: Log,
        charge_point_id: str,
        security_event: SecurityEvent,
        security_profile: Callable[[], int],
        on_certificate: Callable[[], None],
    ) -> None:
        self._certificates = certificates
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
        ends = self._certificates.station_certificate_ends()
        if ends is not None and ends - self._clock.now() <= RENEW_BEFORE:
            self._log.info("= the ChargePointCertificate ends %s; asking for a new one", f"{ends:%Y-%m-%d}")
            self.sign_certificate()

    # -- what the link uses -------------------------------------------------------------------

    def central_system_roots(self) -> list[str]:
        """The installed CentralSystemRootCertificates (PEM), for the TLS context (T-44)."""
        return self._certificates.csms_roots()

    # -- M05 InstallCertificate ---------------------------------------------------------------

    def on_install_certificate(self, request: InstallCertificateRequest) -> InstallCertificateResponse:
        """CT-6: a valid CA certificate → Accepted; invalid, store full, or (with
        AdditionalRootCertificateCheck) a CentralSystemRoot not signed by the current one → Rejected."""
        outcome = self._certificates.install(
            request.certificate_type.value, request.certificate,
            additional_check=self._config.get_bool("AdditionalRootCertificateCheck"),
            max_entries=self._config.get_int("CertificateStoreMaxLength", default=10),
        )  # fmt: skip
        return InstallCertificateResponse(status=InstallCertificateStatus(outcome.value))

    # -- M04 DeleteCertificate, M03 GetInstalledCertificateIds --------------------------------

    def on_delete_certificate(self, request: DeleteCertificateRequest) -> DeleteCertificateResponse:
        """CT-5: Accepted, NotFound, or Failed for the ChargePointCertificate and for the last
        CentralSystemRootCertificate while TLS (profile 2 or 3) depends on it."""
        wanted = request.certificate_hash_data
        outcome = self._certificates.delete(
            HashData(wanted.hash_algorithm.value, wanted.issuer_name_hash, wanted.issuer_key_hash,
                     wanted.serial_number),
            security_profile=self._security_profile(),
        )  # fmt: skip
        return DeleteCertificateResponse(status=DeleteCertificateStatus(outcome.value))

    def on_get_installed_certificate_ids(
        self, request: GetInstalledCertificateIdsRequest
    ) -> GetInstalledCertificateIdsResponse:
        """CT-4: hash data of each installed certificate of the type, or NotFound."""
        found = self._certificates.installed(request.certificate_type.value)
        if not found:
            return GetInstalledCertificateIdsResponse(status=GetInstalledCertificateStatus.NOT_FOUND)
        return GetInstalledCertificateIdsResponse(
            status=GetInstalledCertificateStatus.ACCEPTED,
            certificate_hash_data=[_hash_data(data) for data in found],
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
        csr = self._certificates.signing_request(common_name=self._charge_point_id, organisation=organisation)
        request = SignCertificateRequest(csr=csr)

        async def send() -> bool:
            result = await self._lane.call(request)
            return not (result.ok and result.response is not None and result.response.status is GenericStatus.REJECTED)

        await ask_for_signing(
            send, clock=self._clock, log=self._log,
            wait=float(self._config.get_int("CertSigningWaitMinimum", default=60)),
            repeats=self._config.get_int("CertSigningRepeatTimes", default=3),
        )  # fmt: skip

    def on_certificate_signed(self, request: CertificateSignedRequest) -> Reply[CertificateSignedResponse]:
        """CT-2: a valid chain for the pending key → Accepted, stored as the ChargePointCertificate
        (with the key, at once) for the next connection; anything else → Rejected, the security
        event InvalidChargePointCertificate, and nothing changed."""
        try:
            limit = self._config.get_int("CertificateSignedMaxChainSize", default=10000)
            chain = self._certificates.check_chain(request.certificate_chain, max_bytes=limit)
        except CertificateError as exc:
            self._log.warning("! CertificateSigned rejected: %s", exc)
            self._security_event(INVALID_CHARGE_POINT_CERTIFICATE, str(exc)[:255])
            return Reply(CertificateSignedResponse(status=CertificateSignedStatus.REJECTED))
        self._tasks.cancel()
        data = self._certificates.activate(chain)
        self._log.info("= new ChargePointCertificate (serial %s), used from the next connection", data.serial_number)

        async def then() -> None:
            self._on_certificate()

        return Reply(CertificateSignedResponse(status=CertificateSignedStatus.ACCEPTED), then=then)


def provision(settings: StationSettings, store: Store, clock: Clock, log: Log) -> None:
    """1.6's ``Table.provision``: the factory's root, when the settings name one (``install_root``)."""
    if settings.install_root is not None:
        install_factory_root(settings.install_root, CENTRAL_SYSTEM_ROOT, store, clock, log)


def _hash_data(data: HashData) -> CertificateHashData:
    return CertificateHashData(
        hash_algorithm=HashAlgorithm(data.hash_algorithm), issuer_name_hash=data.issuer_name_hash,
        issuer_key_hash=data.issuer_key_hash, serial_number=data.serial_number,
    )  # fmt: skip


def _build(kernel: Kernel, needs: Needs) -> CertificateService:
    config, security_profile = kernel.config, kernel.version.keys.security_profile
    service = CertificateService(
        certificates=Certificates(
            store=kernel.store,
            clock=kernel.clock,
            log=kernel.log,
            csms_root=kernel.version.csms_root,
            root_types=ROOT_TYPES,
        ),
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
