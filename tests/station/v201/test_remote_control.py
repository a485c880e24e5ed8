"""UnlockConnector (station/v201/unlock.py) and TriggerMessage (station/v201/trigger.py) on the wire the built-in
central system reads, under a virtual clock: what the ``ocpp`` library's central system cannot arrange (a lock that
jams, a transaction through the seam the transactions block joins, a boot held Pending). Part 6's TC_F cases run
in tests/interop/v201/test_remote_control.py."""

from __future__ import annotations

import json
from collections.abc import Callable

import msgspec

from chargebox.protocol import messages as m16
from chargebox.protocol.v201 import messages as m
from chargebox.sim.hardware import HardwarePart, SimulatedHardware
from chargebox.station.v201.boot import BootService
from chargebox.station.v201.unlock import UnlockService
from tests.wire import Wire

Trigger = m.MessageTriggerEnumType


async def booted(wired: Callable[..., Wire], policy: dict[str, object] | None = None, **settings: object) -> Wire:
    wire = wired(policy, ocpp="2.0.1", connectors=2, **settings)
    await wire.connect()
    await wire.until(lambda: wire.station.features.need(BootService).registration is not None)
    await wire.clock.advance(0)
    return wire


async def unlock(wire: Wire, evse: int, connector: int = 1) -> str:
    result = await wire.csms.call(wire.station.id, m.UnlockConnectorRequest(evse_id=evse, connector_id=connector))
    return str(result.response.status)


async def trigger(wire: Wire, message: Trigger, evse: int | None = None, connector: int | None = None) -> str:
    scope: m.EVSEType | msgspec.UnsetType = msgspec.UNSET
    if evse is not None:
        scope = m.EVSEType(id=evse, connector_id=msgspec.UNSET if connector is None else connector)
    result = await wire.csms.call(wire.station.id, m.TriggerMessageRequest(requested_message=message, evse=scope))
    await wire.clock.advance(0)
    return str(result.response.status)


def hardware(wire: Wire) -> SimulatedHardware:
    ports = wire.station.ports.lock
    assert isinstance(ports, SimulatedHardware)
    return ports


async def test_F05_FR_04_FR_05_the_lock_says_whether_it_opened(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    hardware(wire).connectors[2].locked = True
    assert await unlock(wire, 2) == "Unlocked"
    assert not hardware(wire).connectors[2].locked
    hardware(wire).inject_fault(1, HardwarePart.LOCK, True)
    assert await unlock(wire, 1) == "UnlockFailed"


async def test_F05_FR_02_an_authorized_transaction_is_neither_unlocked_nor_stopped(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    wire.station.features.need(UnlockService).authorized.append(lambda evse, connector: (evse, connector) == (1, 1))
    hardware(wire).connectors[1].locked = True
    assert await unlock(wire, 1) == "OngoingAuthorizedTransaction"  # TC_F_05_CS, through the seam
    assert hardware(wire).connectors[1].locked
    assert await unlock(wire, 2) == "Unlocked"


async def test_F05_FR_03_a_connector_the_station_lacks_is_unknown(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    assert [await unlock(wire, 3), await unlock(wire, 1, 2), await unlock(wire, 0, 0)] == ["UnknownConnector"] * 3


async def test_a_fixed_cable_has_no_lock_to_open_not_supported(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired, fixed_cable=True)
    answer = await wire.inject(json.dumps([2, "u1", "UnlockConnector", {"evseId": 1, "connectorId": 1}]))
    assert answer[:3] == [4, "u1", "NotSupported"]


async def test_F06_FR_04_the_answer_goes_before_the_triggered_heartbeat(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    start = len(wire.frames)
    assert await trigger(wire, Trigger.HEARTBEAT, evse=2) == "Accepted"  # F06.FR.03: the EVSE is ignored
    await wire.until(lambda: "Heartbeat" in wire.sent_actions())
    sent = [f for d, f in wire.frames[start:] if d == ">"]
    assert [f[0] for f in sent][:2] == [3, 2] and sent[1][2] == "Heartbeat"


async def test_F06_FR_08_what_no_feature_offers_is_not_implemented(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    not_offered = [Trigger.SIGN_COMBINED_CERTIFICATE, Trigger.PUBLISH_FIRMWARE_STATUS_NOTIFICATION]
    assert [await trigger(wire, message) for message in not_offered] == ["NotImplemented"] * len(not_offered)


async def test_F06_FR_11_a_status_trigger_without_evse_sends_every_connector_s_and_an_unknown_one_is_rejected(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 2)
    assert await trigger(wire, Trigger.STATUS_NOTIFICATION) == "Accepted"
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 4)
    assert await trigger(wire, Trigger.STATUS_NOTIFICATION, evse=3) == "Rejected"
    assert await trigger(wire, Trigger.STATUS_NOTIFICATION, evse=1, connector=2) == "Rejected"
    await wire.clock.advance(5)
    assert len(wire.calls("StatusNotification")) == 4


async def test_B02_FR_02_a_triggered_status_goes_out_while_the_boot_is_pending(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired, {"registration": m16.RegistrationStatus.PENDING})
    assert await trigger(wire, Trigger.STATUS_NOTIFICATION, evse=2, connector=1) == "Accepted"
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 1)
    assert wire.calls("StatusNotification")[0]["evseId"] == 2
    assert await trigger(wire, Trigger.HEARTBEAT) == "Accepted"
    await wire.until(lambda: "Heartbeat" in wire.sent_actions())
    await wire.clock.advance(5)
    assert wire.sent_actions() == ["BootNotification", "StatusNotification", "Heartbeat"]  # nothing else


async def test_F06_FR_17_a_boot_trigger_after_an_accepted_boot_is_rejected(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    assert await trigger(wire, Trigger.BOOT_NOTIFICATION) == "Rejected"
    await wire.clock.advance(5)
    assert wire.sent_actions().count("BootNotification") == 1
