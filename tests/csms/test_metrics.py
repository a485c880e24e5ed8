"""``GET /metrics`` of ``csms --control`` (csms/metrics.py), scraped from a real server on loopback while a real
station, and a bare WebSocket peer, talk to the central system."""

from __future__ import annotations

import websockets

from chargebox.protocol.dialect import OCPP16
from chargebox.sim.simulator import Simulator
from tests.csms.test_control import Csms, csms, station
from tests.loopback import until
from tests.scrape import scrape

__all__ = ["csms", "station"]  # the fixtures, imported


async def test_the_central_system_counts_its_stations_and_its_messages_by_action_and_direction(
    csms: Csms, station: Simulator
) -> None:
    await until(lambda: station.station.lane.backlog() == [])
    figures = await scrape(csms.http, csms.base)
    assert figures.value("chargebox_csms_stations_connected", ocpp="1.6") == 1
    assert figures.messages("received", "CALL", "BootNotification") == 1
    assert figures.messages("sent", "CALLRESULT", "BootNotification") == 1
    assert figures.messages("sent", "CALL") == 0

    status, answer = await csms.call("CP-1", {"action": "TriggerMessage", "payload": {"requestedMessage": "Heartbeat"}})
    assert (status, answer["result"]) == (200, "CALLRESULT")
    await until(lambda: station.station.lane.backlog() == [])
    figures = await scrape(csms.http, csms.base)
    assert figures.messages("sent", "CALL", "TriggerMessage") == 1
    assert figures.messages("received", "CALLRESULT", "TriggerMessage") == 1
    assert figures.value("chargebox_round_trip_seconds_count", action="TriggerMessage") == 1
    assert figures.messages("received", "CALL", "Heartbeat") >= 1

    await station.stop()
    await until(lambda: not csms.system.sessions)
    figures = await scrape(csms.http, csms.base)
    assert figures.value("chargebox_csms_stations_connected") == 0


async def test_a_peer_s_unusable_frames_are_counted_with_the_callerror_that_answered_them(csms: Csms) -> None:
    url = f"ws://127.0.0.1:{csms.ws_port}/BARE"
    async with websockets.connect(url, subprotocols=[websockets.Subprotocol(OCPP16.subprotocol)]) as ws:
        await ws.send('[2,"1","NoSuchAction",{}]')
        assert '"NotImplemented"' in str(await ws.recv())
        await ws.send('[2,"2","Heartbeat",{"extra":1}]')
        assert '"FormationViolation"' in str(await ws.recv())  # its payload breaks the schema
        figures = await scrape(csms.http, csms.base)
    assert figures.value("chargebox_frames_rejected_total") == 2
    assert figures.value("chargebox_callerrors_total", direction="sent", code="NotImplemented", action="unknown") == 1
    assert figures.value("chargebox_callerrors_total", direction="sent", code="FormationViolation") == 1
    assert figures.messages("sent", "CALLERROR") == 2
