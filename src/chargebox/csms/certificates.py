"""The central system's side of whitepaper A02 (update the ChargePointCertificate at the central system's request):
SignCertificate answered, the CSR signed by the central system's CA, CertificateSigned sent.

With a CA (``csms --ca-cert --ca-key``): a CSR that ``CertificateAuthority.sign`` accepts is answered Accepted and,
once that answer is written (T-23: never a CALL from inside the handler), its certificate goes back in
CertificateSigned; the station's answer to it is kept, the last per station, so a person or a script sees the
outcome (``GET /api/stations/{id}/certificate``). A CSR it refuses is answered Rejected, with the reason in the log.
Without a CA the central system answers Accepted and signs nothing: an operator answers with CertificateSigned from
the control page, as with a CA of their own.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from chargebox.clock import Clock
from chargebox.csms.ca import CertificateAuthority, CsrRefused
from chargebox.protocol import messages as m
from chargebox.rpc import Reply, Rpc

log = logging.getLogger("chargebox.csms")

MAX_KEPT: Final = 1000  # stations whose last certificate is remembered (the control API's MAX_STATIONS)
CALL_TIMEOUT: Final = 30.0


@dataclass(frozen=True, slots=True)
class SignedCertificate:
    """A certificate the CA signed for a station, and what the station answered to its CertificateSigned."""

    charge_point_id: str
    serial_number: str
    not_after: str  # RFC 3339
    status: str  # CertificateSignedStatus, or "NoAnswer" when the CALL failed
    certificate: str  # PEM


class CertificateSigning:
    def __init__(self, authority: CertificateAuthority | None, clock: Clock) -> None:
        self.authority = authority
        self.signed: OrderedDict[str, SignedCertificate] = OrderedDict()  # newest last, at most MAX_KEPT
        self.listeners: list[Callable[[str], None]] = []  # told the charge point id of each new outcome
        self._clock = clock

    def on_sign_certificate(
        self, charge_point_id: str, rpc: Rpc, request: m.SignCertificateRequest
    ) -> m.SignCertificateResponse | Reply[m.SignCertificateResponse]:
        if self.authority is None:
            return m.SignCertificateResponse(status=m.GenericStatus.ACCEPTED)
        try:
            issued = self.authority.sign(request.csr, charge_point_id=charge_point_id, now=self._clock.now())
        except CsrRefused as exc:
            log.warning("! %s: SignCertificate rejected: %s", charge_point_id, exc)
            return m.SignCertificateResponse(status=m.GenericStatus.REJECTED)
        log.info("= %s: signed a certificate (serial %s)", charge_point_id, issued.serial_number)

        async def send() -> None:
            signed = m.CertificateSignedRequest(certificate_chain=issued.certificate)
            result = await rpc.call(signed, timeout=CALL_TIMEOUT)
            status = result.response.status.value if result.ok and result.response is not None else "NoAnswer"
            log.info("= %s: CertificateSigned %s", charge_point_id, status)
            self._keep(
                SignedCertificate(
                    charge_point_id, issued.serial_number, f"{issued.not_after:%Y-%m-%dT%H:%M:%SZ}", status,
                    issued.certificate,
                )
            )  # fmt: skip

        return Reply(m.SignCertificateResponse(status=m.GenericStatus.ACCEPTED), then=send)

    def _keep(self, signed: SignedCertificate) -> None:
        self.signed.pop(signed.charge_point_id, None)
        self.signed[signed.charge_point_id] = signed
        while len(self.signed) > MAX_KEPT:
            self.signed.popitem(last=False)
        for listener in self.listeners:
            listener(signed.charge_point_id)
