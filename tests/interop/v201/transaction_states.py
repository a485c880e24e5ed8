"""Part 6's reusable states for the transaction cases (its section 2.18: Authorized, EVConnectedPreSession,
EnergyTransferStarted, StopAuthorized), driven through a one-EVSE station's hardware against the ``ocpp`` library's
2.0.1 central system, and a central system whose TransactionEvent answers a test scripts (E13's retries: an answer,
a CALLERROR InternalError, or nothing) and whose idTokenInfo status it chooses (E06.FR.04's Invalid).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ocpp.routing import on
from ocpp.v201 import call_result
from ocpp.v201.enums import Action

from chargebox.station.station import Station
from tests.interop.conftest import OcppCsms
from tests.interop.v201.conftest import SUBPROTOCOL, CsmsChargePoint201, StationRunner201, entry, wait_booted

CARD = "04A2B3C4"
ANSWER, CALL_ERROR, SILENCE = "answer", "call-error", "silence"


class ScriptedChargePoint(CsmsChargePoint201):
    """Answers each TransactionEvent as the central system's ``script`` says, in order; then always."""

    _csms: ScriptedCsms

    async def route_message(self, raw_msg: str | bytes) -> None:
        message = json.loads(raw_msg)
        if message[0] == 2 and message[2] == "TransactionEvent" and self._csms.script:
            how = self._csms.script.pop(0)
            if how == SILENCE:
                return
            if how == CALL_ERROR:
                await self._connection.send(json.dumps([4, message[1], "InternalError", "scripted", {}]))
                return
        await super().route_message(raw_msg)

    @on(Action.transaction_event)
    def on_transaction_event(self, **payload: Any) -> call_result.TransactionEvent:
        if "id_token" in payload:  # E01.FR.12: the idToken gets the status the test chose
            return call_result.TransactionEvent(id_token_info={"status": self._csms.id_token_status})
        return call_result.TransactionEvent()


@dataclass
class ScriptedCsms(OcppCsms):
    script: list[str] = field(default_factory=list)
    id_token_status: str = "Accepted"


def scripted_csms() -> ScriptedCsms:
    return ScriptedCsms(subprotocol=SUBPROTOCOL, charge_point_class=ScriptedChargePoint,
                        boot_answers=[("Accepted", 300)])  # fmt: skip


async def booted(csms: OcppCsms, station_factory: StationRunner201, *config: dict[str, Any]) -> tuple[Station, int]:
    """A one-EVSE station, booted with the device-model entries ``config``: (station, last frame's index)."""
    station = station_factory(connectors=1, ocpp_config=list(config))
    return station, await wait_booted(csms, evses=1)


def tx_start(points: str) -> dict[str, Any]:
    return entry("TxCtrlr", "TxStartPoint", points)


def tx_stop(points: str) -> dict[str, Any]:
    return entry("TxCtrlr", "TxStopPoint", points)


async def event(csms: OcppCsms, start: int, **fields: Any) -> tuple[int, dict[str, Any]]:
    """The first TransactionEvent from index ``start`` on whose payload has ``fields``: (index, payload)."""
    index, frame = await csms.frames.wait_for(
        lambda f: f.action == "TransactionEvent" and all(f.payload.get(k) == v for k, v in fields.items()),
        start=start,
    )
    return index, frame.payload


async def energy_transfer_started(csms: OcppCsms, station: Station, start: int) -> tuple[int, dict[str, Any]]:
    """EVConnectedPreSession then Authorized (local): the cable, then the card; (index, the Started event)."""
    await station.plugged(1)
    await station.id_tag_presented(CARD)
    await csms.wait_call("Authorize", start=start)
    return await event(csms, start, eventType="Started")


def events(csms: OcppCsms, start: int = 0) -> list[dict[str, Any]]:
    return [frame.payload for frame in csms.frames.calls("TransactionEvent", start=start)]


def info(payload: dict[str, Any]) -> dict[str, Any]:
    transaction: dict[str, Any] = payload["transactionInfo"]
    return transaction


def contexts(payload: dict[str, Any]) -> set[str]:
    return {value.get("context") for meter in payload.get("meterValue", []) for value in meter["sampledValue"]}
