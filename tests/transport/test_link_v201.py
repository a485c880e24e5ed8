"""The link of a 2.0.1 station (T-4, Part 4 3.1.2): it asks for ``ocpp2.0.1`` and only that, and refuses a central
system that answers with another subprotocol or none, as a 1.6 station refuses one without ``ocpp1.6``."""

from __future__ import annotations

from typing import Any

from tests.loopback import until
from tests.transport.conftest import PlainServer, StationRunner
from tests.transport.test_link import ServerFactory

QUICK_RECONNECT = [
    {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": name}, "value": "0"}
    for name in ("RetryBackOffWaitMinimum", "RetryBackOffRandomRange", "RetryBackOffRepeatTimes")
]


def v201(stations: StationRunner, url: str, **settings: Any) -> Any:
    return stations(url, ocpp="2.0.1", ocpp_config=QUICK_RECONNECT, **settings)


async def test_part4_3_1_2_a_2_0_1_station_asks_for_ocpp2_0_1_only(
    plain_server: ServerFactory, stations: StationRunner
) -> None:
    server: PlainServer = await plain_server(subprotocols=["ocpp2.0.1"])
    station = v201(stations, server.url)
    await until(lambda: bool(server.messages))
    assert server.upgrades[0].headers["Sec-WebSocket-Protocol"] == "ocpp2.0.1"
    assert '"BootNotification"' in str(server.messages[0])
    assert station.transport.connected


async def test_T_4_a_central_system_answering_ocpp1_6_to_a_2_0_1_station_is_refused_and_retried(
    plain_server: ServerFactory, stations: StationRunner
) -> None:
    server: PlainServer = await plain_server(subprotocols=["ocpp2.0.1"], force_subprotocol="ocpp1.6")
    station = v201(stations, server.url)
    await until(lambda: len(server.close_codes) >= 3)
    assert server.messages == []  # not a single frame of the wrong version: websockets drops the handshake
    assert not station.transport.connected


async def test_T_4_a_central_system_speaking_only_1_6_does_not_upgrade_a_2_0_1_station(
    plain_server: ServerFactory, stations: StationRunner
) -> None:
    server: PlainServer = await plain_server(subprotocols=["ocpp1.6"])
    station = v201(stations, server.url)
    await until(lambda: len(server.upgrades) >= 3)  # websockets refuses the handshake: no shared subprotocol
    assert server.connections == [] and not station.transport.connected
