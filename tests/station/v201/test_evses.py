"""EVSEs and connectors (station/v201/evses.py): their statuses, on the wire the built-in central system reads, under
a virtual clock. Part 6's TC_B_51_CS and TC_B_52_CS are here rather than in tests/interop/v201: what they prove is
how long the station was offline, which a virtual clock moves without waiting."""

from __future__ import annotations

from collections.abc import Callable

from chargebox.protocol.v201.messages import ConnectorStatusEnumType as Status
from chargebox.station.v201.evses import EvsesService
from tests.wire import Wire


def evses(wire: Wire) -> EvsesService:
    return wire.station.features.need(EvsesService)


def statuses(wire: Wire, start: int = 0) -> list[tuple[int, int, str]]:
    calls = wire.calls("StatusNotification")[start:]
    return [(c["evseId"], c["connectorId"], c["connectorStatus"]) for c in calls]


async def booted(wired: Callable[..., Wire], **settings: object) -> Wire:
    wire = wired(ocpp="2.0.1", connectors=2, **settings)
    await wire.connect()
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 2)
    return wire


async def test_B01_FR_05_every_connector_s_status_after_the_boot(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    assert wire.sent_actions() == ["BootNotification", "StatusNotification", "StatusNotification"]
    assert statuses(wire) == [(1, 1, "Available"), (2, 1, "Available")]


async def offline_then_plugged(wire: Wire, offline_for: float) -> int:
    before = len(wire.calls("StatusNotification"))
    await wire.disconnect()
    await wire.station.plugged(1)
    await wire.clock.advance(offline_for)
    await wire.connect()
    await wire.clock.advance(0)
    return before


async def test_TC_B_51_CS_after_an_outage_longer_than_OfflineThreshold_every_status_is_sent(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired, ocpp_config=[_offline_threshold("60")])
    before = await offline_then_plugged(wire, 61)
    await wire.until(lambda: len(wire.calls("StatusNotification")) == before + 2)
    assert statuses(wire, before) == [(1, 1, "Occupied"), (2, 1, "Available")]  # B04.FR.01
    assert wire.calls("BootNotification")[1:] == []  # a reconnect, not a boot


async def test_TC_B_52_CS_after_an_outage_shorter_than_OfflineThreshold_only_the_changed_status_is_sent(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired, ocpp_config=[_offline_threshold("60")])
    before = await offline_then_plugged(wire, 59)
    await wire.until(lambda: len(wire.calls("StatusNotification")) == before + 1)
    await wire.clock.advance(1)
    assert statuses(wire, before) == [(1, 1, "Occupied")]  # B04.FR.02


async def test_G01_a_change_online_is_sent_at_once_and_the_most_important_status_wins(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    service = evses(wire)
    said: dict[tuple[int, int], Status] = {}
    service.sources.append(lambda evse, connector: said.get((evse, connector)))
    await wire.station.plugged(2)
    said[2, 1] = Status.UNAVAILABLE  # availability's word (G03)
    service.refresh(2)
    said[2, 1] = Status.FAULTED
    service.refresh(2)
    del said[2, 1]
    service.refresh()
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 6)
    assert statuses(wire, 2) == [(2, 1, "Occupied"), (2, 1, "Unavailable"), (2, 1, "Faulted"), (2, 1, "Occupied")]
    assert service.evse_status(2) is Status.OCCUPIED and service.station_status() is Status.AVAILABLE


async def test_the_availability_states_are_read_live_from_the_device_model(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    await wire.station.plugged(1)
    model = wire.station.config
    assert [model.get(name) for name in ("Connector@1:1.AvailabilityState", "EVSE@1.AvailabilityState",
                                         "EVSE@2.AvailabilityState", "ChargingStation.AvailabilityState")] == [
        "Occupied", "Occupied", "Available", "Available"]  # fmt: skip


async def test_a_cable_still_in_after_a_reboot_is_reported_occupied(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    wire.station.ports.ev.plug(1)  # type: ignore[attr-defined]
    await wire.station.plugged(1)
    before = len(wire.calls("StatusNotification"))
    await wire.disconnect()
    wire.station.reboot()
    await wire.connect()
    await wire.until(lambda: len(wire.calls("StatusNotification")) == before + 2)
    assert statuses(wire, before) == [(1, 1, "Occupied"), (2, 1, "Available")]
    assert wire.calls("BootNotification")[-1]["reason"] == "LocalReset"  # B01.FR.09: no Reset asked for it


def _offline_threshold(value: str) -> dict[str, object]:
    return {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}, "value": value}
