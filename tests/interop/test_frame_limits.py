"""Frames too deep or too big to decode (checklist 1.4), written raw on a real loopback WebSocket to a running
station: a CALL whose head still gives its id is answered FormationViolation, anything else is dropped (T-15), and
the station stays up on the same connection.

Before the codec bounded them, a 2 KB CALL of 1,000 nested arrays raised RecursionError in the decoder and ended
the station.
"""

from __future__ import annotations

import json

import pytest
from ocpp.v16 import call

from chargebox.protocol import codec
from chargebox.station.station import Station
from tests.interop.conftest import OcppCsms, StationRunner

DEEP = "[" * 1000 + "]" * 1000


@pytest.fixture
async def booted(csms: OcppCsms, station_factory: StationRunner) -> Station:
    station = station_factory()
    await csms.wait_booted(connectors=2)
    return station


async def still_serving(csms: OcppCsms, station_factory: StationRunner, station: Station) -> None:
    """The station answers the next CALL, on the connection it had, and its run task is alive."""
    result = await csms.call(call.GetConfiguration(key=["HeartbeatInterval"]))
    assert result.configuration_key[0]["key"] == "HeartbeatInterval"
    assert len(csms.sessions) == 1
    assert not station_factory.task(station).done()


@pytest.mark.parametrize(
    "frame",
    [
        f'[2,"deep-1","DataTransfer",{{"vendorId":"v","data":{DEEP}}}]',
        f'[2,"deep-1","DataTransfer",{DEEP}]',
        '[2,"deep-1","GetConfiguration",{"key":' + '{"k":' * 1000 + "1" + "}" * 1000 + "}]",
    ],
)
async def test_1_4_deeply_nested_call_is_formation_violation_and_station_stays_up(
    csms: OcppCsms, station_factory: StationRunner, booted: Station, frame: str
) -> None:
    reply = await csms.raw(frame, "deep-1")
    assert reply[:3] == [4, "deep-1", "FormationViolation"]
    await still_serving(csms, station_factory, booted)


async def test_1_4_call_over_the_frame_size_limit_is_formation_violation_and_station_stays_up(
    csms: OcppCsms, station_factory: StationRunner, booted: Station
) -> None:
    frame = json.dumps([2, "big-1", "DataTransfer", {"vendorId": "v", "data": "x" * codec.MAX_FRAME_SIZE}])
    reply = await csms.raw(frame, "big-1")
    assert reply[:3] == [4, "big-1", "FormationViolation"]
    await still_serving(csms, station_factory, booted)


@pytest.mark.parametrize("frame", [DEEP, "[" * 50_000, '[3,"nobody",' + DEEP + "]"])
async def test_T_15_deep_frame_without_a_call_id_is_dropped_and_station_stays_up(
    csms: OcppCsms, station_factory: StationRunner, booted: Station, frame: str
) -> None:
    start = len(csms.frames.frames)
    await csms.sessions[-1].ws.send(frame)
    await still_serving(csms, station_factory, booted)
    answers = [f.data for f in csms.frames.frames[start:] if isinstance(f.data, list) and f.data[:1] in ([3], [4])]
    assert len(answers) == 1  # the GetConfiguration result only: nothing answered the dropped frame
