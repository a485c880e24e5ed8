"""Heartbeat (G02) of a 2.0.1 station, as station/v201/boot.py keeps it: the interval an accepted boot gives
(B01.FR.04, tested in test_boot.py) is OCPPCommCtrlr.HeartbeatInterval, which the central system may set later."""

from __future__ import annotations

from collections.abc import Callable

from chargebox.protocol.v201 import messages as m
from chargebox.station.v201.boot import BootService
from tests.wire import Wire


async def test_G02_FR_02_FR_05_a_heartbeat_interval_set_later_is_kept_and_any_call_restarts_it(
    wired: Callable[..., Wire],
) -> None:
    wire = wired({"heartbeat_interval": 300}, ocpp="2.0.1", connectors=1)
    await wire.connect()
    await wire.until(lambda: wire.station.features.need(BootService).accepted)
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 1)
    entry = m.SetVariableDataType(attribute_value="30", component=m.ComponentType(name="OCPPCommCtrlr"),
                                  variable=m.VariableType(name="HeartbeatInterval"))  # fmt: skip
    result = await wire.csms.call(wire.station.id, m.SetVariablesRequest(set_variable_data=[entry]))
    assert result.response.set_variable_result[0].attribute_status == "Accepted"
    await wire.clock.advance(29)
    assert "Heartbeat" not in wire.sent_actions()
    await wire.clock.advance(1)
    await wire.until(lambda: wire.sent_actions().count("Heartbeat") == 1)  # G02.FR.02: the new interval, at once
    await wire.clock.advance(20)
    await wire.station.plugged(1)  # a StatusNotification: G02.FR.05, the timer starts again
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 2)
    await wire.clock.advance(29)
    assert wire.sent_actions().count("Heartbeat") == 1
    await wire.clock.advance(1)
    await wire.until(lambda: wire.sent_actions().count("Heartbeat") == 2)
