"""DataTransfer, both ways (P01, P02).

Answers: DataTransfer with UnknownVendorId unless the integrator registered a handler for the vendorId (matched
without regard to case, as 1.6's: ``Station.data_transfer.register_vendor``; P01.FR.05). A vendor handler returns
the response itself, so it decides between Accepted, Rejected and UnknownMessageId (P01.FR.06, P01.FR.07); its
``data`` reaches it undecoded (``msgspec.Raw``: any JSON value). Sends: ``send_data_transfer`` (P02).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import msgspec

from chargebox.protocol.v201 import messages as m
from chargebox.rpc import Handler, SendResult
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Service
from chargebox.station.v201.device_model import DeviceModel
from chargebox.station.v201.offer import Block

VendorHandler = Callable[[m.DataTransferRequest], m.DataTransferResponse]


class DataTransferService(Service[m.Action]):
    def __init__(self, *, lane: Lane) -> None:
        self._lane = lane
        self._vendors: dict[str, VendorHandler] = {}

    def handlers(self) -> dict[m.Action, Handler]:
        return {m.Action.DATA_TRANSFER: self.on_data_transfer}

    def register_vendor(self, vendor_id: str, handler: VendorHandler) -> None:
        """``handler`` answers every DataTransfer of ``vendor_id``, UnknownMessageId included."""
        self._vendors[vendor_id.lower()] = handler

    def on_data_transfer(self, request: m.DataTransferRequest) -> m.DataTransferResponse:
        handler = self._vendors.get(request.vendor_id.lower())
        if handler is None:
            return m.DataTransferResponse(status=m.DataTransferStatusEnumType.UNKNOWN_VENDOR_ID)  # P01.FR.05
        return handler(request)

    async def send_data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: object = msgspec.UNSET
    ) -> SendResult[m.DataTransferResponse]:
        """P02: ``data`` is any JSON value (UNSET: none sent)."""
        return await self._lane.call(
            m.DataTransferRequest(
                vendor_id=vendor_id,
                message_id=msgspec.UNSET if message_id is None else message_id,
                data=msgspec.UNSET if data is msgspec.UNSET else msgspec.Raw(msgspec.json.encode(data)),
            )
        )

    def reset(self) -> None:
        """Vendor handlers are wiring, not runtime state: they stay."""


def _build(kernel: Kernel[DeviceModel], _needs: Needs) -> DataTransferService:
    return DataTransferService(lane=kernel.lane)


FEATURE: Final = Feature(
    name="data_transfer",
    profile=Block.DATA_TRANSFER,
    service=DataTransferService,
    build=_build,
    actions=frozenset({m.Action.DATA_TRANSFER}),
)
