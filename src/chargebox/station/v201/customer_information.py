"""CustomerInformation (N09, N10): what the station holds about a customer, reported in NotifyCustomerInformation
and, with ``clear``, deleted.

The customer is named by exactly one of idToken, customerIdentifier and customerCertificate (N09.FR.09: none or
more than one is Invalid); report and clear both false is Rejected (N09.FR.07, N10.FR.07). What this station holds
is keyed by idToken: the authorization cache's entry (cleared: N10.FR.03/06) and the EVSE where it authorizes or
runs a transaction now (reported; a clear leaves a running transaction its idToken, since its journaled messages
must stay sendable). It keeps nothing by customerIdentifier nor any customer certificate: those are reported as
holding no data (N09.FR.06, N10.FR.04). After the answer, the report goes as NotifyCustomerInformation messages of
at most 512 characters each, seqNo from 0, ``tbc`` on every one but the last.
"""

from __future__ import annotations

from typing import Final

from chargebox.clock import Clock
from chargebox.protocol.v201 import messages as m
from chargebox.rpc import Handler, Reply
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Service
from chargebox.station.v201.authorization import AuthorizationService
from chargebox.station.v201.device_model import DeviceModel
from chargebox.station.v201.offer import Block
from chargebox.station.v201.transactions import TransactionService

DATA_LIMIT: Final = 512  # NotifyCustomerInformationRequest.data
NO_DATA: Final = "No data found for this customer."
CLEARED: Final = "The customer's data was cleared."


class CustomerInformationService(Service[m.Action]):
    def __init__(
        self, *, lane: Lane, clock: Clock, authorization: AuthorizationService, transactions: TransactionService
    ) -> None:
        self._lane = lane
        self._clock = clock
        self._authorization = authorization
        self._transactions = transactions

    def handlers(self) -> dict[m.Action, Handler]:
        return {m.Action.CUSTOMER_INFORMATION: self.on_customer_information}

    def on_customer_information(
        self, request: m.CustomerInformationRequest
    ) -> m.CustomerInformationResponse | Reply[m.CustomerInformationResponse]:
        named = [request.id_token, request.customer_identifier, request.customer_certificate]
        if sum(isinstance(means, m.IdTokenType | str | m.CertificateHashDataType) for means in named) != 1:
            return m.CustomerInformationResponse(status=m.CustomerInformationStatusEnumType.INVALID)  # N09.FR.09
        if not request.report and not request.clear:
            return m.CustomerInformationResponse(status=m.CustomerInformationStatusEnumType.REJECTED)  # N09.FR.07
        token = request.id_token if isinstance(request.id_token, m.IdTokenType) else None
        held = self.held(token) if token is not None else []
        if request.clear and token is not None:
            self._authorization.forget(token)  # N10.FR.03, N10.FR.06
        # N09.FR.05/06, N10.FR.03/04: what was held, or that nothing was; N10.FR.06: that it was cleared
        lines = (held or [NO_DATA]) if request.report else [CLEARED]

        async def then() -> None:
            await self._notify(request.request_id, lines)

        return Reply(m.CustomerInformationResponse(status=m.CustomerInformationStatusEnumType.ACCEPTED), then=then)

    def held(self, token: m.IdTokenType) -> list[str]:
        """Everything the station holds about an idToken, a line each."""
        return [*self._authorization.customer_data(token), *self._transactions.customer_data(token)]

    async def _notify(self, request_id: int, lines: list[str]) -> None:
        chunks = _chunks(lines)
        generated_at = self._clock.now()
        for seq_no, chunk in enumerate(chunks):
            tbc = seq_no < len(chunks) - 1
            notification = m.NotifyCustomerInformationRequest(
                data=chunk, tbc=tbc, seq_no=seq_no, generated_at=generated_at, request_id=request_id
            )
            await self._lane.call(notification)


def _chunks(lines: list[str]) -> list[str]:
    """The lines, joined by newlines into pieces of at most DATA_LIMIT characters (a longer line is cut)."""
    chunks: list[str] = []
    for line in lines:
        for start in range(0, len(line), DATA_LIMIT):
            piece = line[start : start + DATA_LIMIT]
            if chunks and len(chunks[-1]) + 1 + len(piece) <= DATA_LIMIT:
                chunks[-1] += "\n" + piece
            else:
                chunks.append(piece)
    return chunks


def _build(kernel: Kernel[DeviceModel], needs: Needs) -> CustomerInformationService:
    return CustomerInformationService(
        lane=kernel.lane, clock=kernel.clock, authorization=needs(AuthorizationService),
        transactions=needs(TransactionService),
    )  # fmt: skip


FEATURE: Final = Feature(
    name="customer_information",
    profile=Block.DIAGNOSTICS,
    service=CustomerInformationService,
    build=_build,
    actions=frozenset({m.Action.CUSTOMER_INFORMATION}),
    needs=(AuthorizationService, TransactionService),
)
