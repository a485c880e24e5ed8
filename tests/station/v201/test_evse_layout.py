"""An EVSE of several connectors (``StationSettings.evses``, a template's or the station file's ``[station] evses``),
under a virtual clock on the wire the built-in central system reads: each connector's status after the boot, a
transaction at the second connector of an EVSE naming it, its sibling Unavailable meanwhile (E01.FR.14), and a layout
the station cannot take refused in one line before anything is built."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chargebox.clock import VirtualClock
from chargebox.errors import ConfigError
from chargebox.station.v201.evses import EvsesService
from tests.station.v201.test_evses import statuses
from tests.wire import Wire, make_station

CARD = "04A2B3C4"


async def booted(wired: Callable[..., Wire]) -> Wire:
    wire = wired(ocpp="2.0.1", evses=(2, 1))
    await wire.connect()
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 3)
    return wire


async def test_B01_FR_05_every_connector_of_every_EVSE_reports_its_status_after_the_boot(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    assert statuses(wire) == [(1, 1, "Available"), (1, 2, "Available"), (2, 1, "Available")]
    service = wire.station.features.need(EvsesService)
    assert service.exists(1, 2) and not service.exists(2, 2) and not service.exists(3)
    assert wire.station.kernel.connector_count == 2  # the hardware's ports: one per EVSE
    missing = await wire.station.plugged(2, 2)
    assert (missing.result, missing.reason) == ("refused", "EVSE 2 has no connector 2")
    model = wire.station.kernel.config  # a Connector component for each connector, an EVSE one for each EVSE
    assert [model.has(f"Connector@{e}:{c}.ConnectorType") for e, c in ((1, 1), (1, 2), (2, 1), (2, 2))] == [
        True, True, True, False
    ]  # fmt: skip
    assert not model.has("EVSE@3.AvailabilityState")
    await wire.station.plugged(1, 2)
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 5)
    names = ("Connector@1:1", "Connector@1:2", "EVSE@1", "ChargingStation")
    states = [model.get(f"{name}.AvailabilityState") for name in names]
    assert states == ["Unavailable", "Occupied", "Occupied", "Available"]


async def test_E01_FR_14_a_transaction_at_connector_2_names_it_and_its_sibling_is_unavailable_until_the_cable_goes(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    station = wire.station
    await station.plugged(1, 2)
    outcome = await station.id_tag_presented(CARD)
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 1)
    assert outcome.result == "started"
    assert wire.calls("TransactionEvent")[0]["evse"] == {"id": 1, "connectorId": 2}
    assert statuses(wire, 3) == [(1, 1, "Unavailable"), (1, 2, "Occupied")]
    refused = await station.plugged(1, 1)  # E01.FR.14: no other connector of that EVSE while one is used
    assert refused.result == "refused" and "connector 2 of EVSE 1 is in use" in refused.reason
    await station.unplugged(1)
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 2 and len(wire.calls("StatusNotification")) == 7)
    assert wire.calls("TransactionEvent")[1]["eventType"] == "Ended"
    assert statuses(wire, 5) == [(1, 1, "Available"), (1, 2, "Available")]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"evses": (2, 1), "connectors": 2}, r"^evses \[2, 1\] and connectors 2 \(--connectors\) both given"),
        ({"evses": ()}, r"^evses: \[\] is not 1 to 128 EVSEs of 1 to 8 connectors each$"),
        ({"evses": (1, 0)}, r"^evses: \[1, 0\] is not 1 to 128 EVSEs"),
        ({"evses": (9,)}, r"^evses: \[9\] is not 1 to 128 EVSEs"),
        ({"evses": (1,) * 129}, r"is not 1 to 128 EVSEs"),
    ],
)
def test_a_layout_the_station_cannot_take_is_one_line_before_anything_is_built(
    settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make_station(VirtualClock(), ocpp="2.0.1", **settings)


def test_a_1_6_station_refuses_an_EVSE_layout() -> None:
    with pytest.raises(ConfigError, match=r"^evses \[2\]: an OCPP 2.0.1 station's EVSE layout; a 1.6 station has"):
        make_station(VirtualClock(), ocpp="1.6", evses=(2,))
