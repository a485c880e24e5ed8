"""DataTransfer, both ways (M-3, C-10).

Answers: DataTransfer with UnknownVendorId unless the integrator registered a handler for the
vendorId (matched case-insensitively, G-1). A vendor handler returns the response itself, so it
decides between Accepted, Rejected and UnknownMessageId.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import msgspec

from chargebox.protocol.messages import Action, DataTransferRequest, DataTransferResponse, DataTransferStatus
from chargebox.rpc import Handler, SendResult
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Service
from chargebox.station.v16.config_keys import Profile

VendorHandler = Callable[[DataTransferRequest], DataTransferResponse]


class DataTransferService(Service):
    def __init__(self, *, lane: Lane) -> None:
        self._lane = lane
        self._vendors: dict[str, VendorHandler] = {}

    def handlers(self) -> dict[Action, Handler]:
        return {Action.DATA_TRANSFER: self.on_data_transfer}

    def register_vendor(self, vendor_id: str, handler: VendorHandler) -> None:
        self._vendors[vendor_id.lower()] = handler

    def on_data_transfer(self, request: DataTransferRequest) -> DataTransferResponse:
        handler = self._vendors.get(request.vendor_id.lower())
        if handler is None:
            return DataTransferResponse(status=DataTransferStatus.UNKNOWN_VENDOR_ID)  # C-10: no data
        return handler(request)

    async def send_data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> SendResult[DataTransferResponse]:
        return await self._lane.call(
            DataTransferRequest(
                vendor_id=vendor_id,
                message_id=msgspec.UNSET if message_id is None else message_id,
                data=msgspec.UNSET if data is None else data,
            )
        )

    def reset(self) -> None:
        """Vendor handlers are wiring, not runtime state: they stay."""


def _build(kernel: Kernel, _needs: Needs) -> DataTransferService:
    return DataTransferService(lane=kernel.lane)


FEATURE: Final = Feature(
    name="data_transfer",
    profile=Profile.CORE,
    service=DataTransferService,
    build=_build,
    actions=frozenset({Action.DATA_TRANSFER}),
)
