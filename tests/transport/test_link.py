"""chargebox.transport against plain websockets servers (checklist 1.1 and 1.5): URL, subprotocol, back-off,
compression, keep-alive. Real sockets on 127.0.0.1, the real clock, short polls."""

from __future__ import annotations

import asyncio
import base64
import itertools
import random
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import pytest

from chargebox.errors import CsmsUnreachable
from chargebox.sim.simulator import simulated_station
from chargebox.station.station import StationSettings
from chargebox.transport import LinkSettings, ReconnectPolicy, csms_url_problem
from tests.loopback import until
from tests.transport.conftest import WAIT, DeadPeer, PlainServer, StationRunner

ServerFactory = Callable[..., Any]


# -- T-2: the URL -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("csms_url", "charge_point_id", "url"),
    [
        ("ws://csms.example/ocpp", "RDAM 123", "ws://csms.example/ocpp/RDAM%20123"),
        ("ws://csms.example/ocpp/", "CP-1", "ws://csms.example/ocpp/CP-1"),
        ("wss://csms.example", "a/b?c#d", "wss://csms.example/a%2Fb%3Fc%23d"),
    ],
)
def test_T_2_url_is_endpoint_slash_percent_encoded_id(csms_url: str, charge_point_id: str, url: str) -> None:
    assert LinkSettings(csms_url=csms_url, charge_point_id=charge_point_id).url == url


async def test_T_2_server_sees_percent_encoded_id_as_the_path(
    plain_server: ServerFactory, stations: StationRunner
) -> None:
    server: PlainServer = await plain_server()
    stations(server.url, charge_point_id="RDAM 123")
    await until(lambda: server.connections)
    assert server.upgrades[0].path == "/RDAM%20123"


# -- T-3, T-4: the subprotocol ----------------------------------------------------------------


async def test_T_3_handshake_offers_ocpp16(plain_server: ServerFactory, stations: StationRunner) -> None:
    server: PlainServer = await plain_server()
    stations(server.url)
    await until(lambda: server.upgrades)
    offered = [p.strip() for p in server.upgrades[0].headers["Sec-WebSocket-Protocol"].split(",")]
    assert "ocpp1.6" in offered


async def test_T_3_ocpp16_is_agreed_and_used(plain_server: ServerFactory, stations: StationRunner) -> None:
    server: PlainServer = await plain_server()
    station = stations(server.url)
    await until(lambda: server.messages)
    assert server.connections[0].subprotocol == "ocpp1.6"
    assert station.transport.connected
    assert '"BootNotification"' in str(server.messages[0])


async def test_T_4_server_without_subprotocol_is_closed_and_retried(
    plain_server: ServerFactory, stations: StationRunner
) -> None:
    server: PlainServer = await plain_server(subprotocols=None)
    stations(server.url)
    await until(lambda: len(server.close_codes) >= 3)
    assert server.connections[0].subprotocol is None
    assert server.messages == []  # not a single OCPP frame on a link without ocpp1.6
    assert server.close_codes[:3] == [1002, 1002, 1002]


async def test_T_4_server_with_another_subprotocol_is_refused_and_retried(
    plain_server: ServerFactory, stations: StationRunner
) -> None:
    server: PlainServer = await plain_server(force_subprotocol="ocpp2.0.1")
    station = stations(server.url)
    await until(lambda: len(server.upgrades) >= 3)
    assert server.messages == []
    assert not station.transport.connected


# -- T-5: back-off ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [HTTPStatus.UNAUTHORIZED, HTTPStatus.NOT_FOUND])
async def test_T_5_http_error_is_retried_with_growing_delays(
    plain_server: ServerFactory, stations: StationRunner, status: HTTPStatus
) -> None:
    server: PlainServer = await plain_server(status=status)
    stations(server.url, reconnect=ReconnectPolicy(initial=0.05, factor=2, maximum=0.4, jitter=0))
    await until(lambda: len(server.upgrades) >= 5, timeout=3)
    gaps = [b.at - a.at for a, b in itertools.pairwise(server.upgrades[:5])]
    # 0.05, 0.1, 0.2, 0.4 seconds, plus the time of a loopback attempt: never sooner (no flooding), and
    # later only by what a loaded machine adds (a loose bound: scheduling delays are not the rule)
    for gap, delay in zip(gaps, [0.05, 0.1, 0.2, 0.4], strict=True):
        assert gap >= delay - 0.01
    assert sum(gaps) <= 0.75 + 1.0
    assert server.connections == []


def test_T_5_reconnect_delays_grow_by_factor_up_to_maximum_without_jitter() -> None:
    policy = ReconnectPolicy(initial=1, factor=2, maximum=10, jitter=0)
    delays = list(itertools.islice(policy.delays(random.Random(1)), 7))
    assert delays == [1, 2, 4, 8, 10, 10, 10]


def test_T_5_reconnect_delays_are_spread_by_jitter_around_a_bounded_delay() -> None:
    policy = ReconnectPolicy(initial=1, factor=2, maximum=10, jitter=0.25)
    delays = list(itertools.islice(policy.delays(random.Random(42)), 200))
    base = [1, 2, 4, 8] + [10] * 196
    for delay, nominal in zip(delays, base, strict=True):
        assert nominal * 0.75 <= delay <= nominal * 1.25
    capped = delays[4:]
    assert max(capped) <= 10 * 1.25  # bounded: the maximum, spread by at most the jitter
    assert len(set(capped)) == len(capped)  # spread: no two stations come back at the same instant
    assert min(capped) < 9 and max(capped) > 11
    assert abs(sum(capped) / len(capped) - 10) < 0.5


def test_T_5_reconnect_delays_depend_on_the_random_source() -> None:
    policy = ReconnectPolicy(initial=1, factor=2, maximum=10, jitter=0.25)

    def first(seed: int) -> list[float]:
        return list(itertools.islice(policy.delays(random.Random(seed)), 5))

    assert first(7) == first(7)
    assert first(7) != first(8)


async def test_T_5_max_attempts_makes_run_raise_csms_unreachable(plain_server: ServerFactory) -> None:
    server: PlainServer = await plain_server(status=HTTPStatus.NOT_FOUND)
    station = simulated_station(
        StationSettings(
            charge_point_id="CP-1",
            csms_url=server.url,
            reconnect=ReconnectPolicy(initial=0.01, maximum=0.02, jitter=0, max_attempts=3),
        )
    )
    try:
        with pytest.raises(CsmsUnreachable):
            await asyncio.wait_for(station.run(), WAIT)
    finally:
        await station.stop()
    assert len(server.upgrades) == 3


@pytest.mark.parametrize("max_attempts", [1, 2])
async def test_T_33_max_attempts_counts_only_consecutive_failures_not_ended_sessions(
    plain_server: ServerFactory, stations: StationRunner, max_attempts: int
) -> None:
    server: PlainServer = await plain_server()
    station = stations(
        server.url, reconnect=ReconnectPolicy(initial=0.2, maximum=0.2, jitter=0, max_attempts=max_attempts)
    )
    run = stations.running[station]
    await until(lambda: server.connections)
    if max_attempts > 1:
        server.status = HTTPStatus.SERVICE_UNAVAILABLE  # one failed attempt between two good sessions
    await server.connections[0].close()  # the central system ends a good session
    if max_attempts > 1:
        await until(lambda: len(server.upgrades) == 2)
        server.status = None
    await until(lambda: len(server.connections) == 2)
    await server.connections[1].close()
    await until(lambda: len(server.connections) == 3)
    assert not run.done()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ws://csms.example/ocpp", None),
        ("WS://[::1]:9000/ocpp", None),
        ("wss://csms.example", None),  # security profiles 2 and 3 (T-40)
        ("http://csms.example", "must be a ws:// or wss:// URL"),
        ("ws://", "has no host name"),
        ("ws://h:abc", "not a valid URL"),
        ("ws://h:99999", "not a valid URL"),
        ("ws://[::1", "not a valid URL"),
        ("ws://h/ocpp?x=1", "must not have a query"),
        ("ws://h/ocpp#x", "fragment"),
        ("ws://user:pw@h/ocpp", "must not hold credentials"),
        ("ws://h/\tocpp", "control characters"),
    ],
)
def test_T_2_csms_url_takes_the_id_as_its_last_path_segment(url: str, problem: str | None) -> None:
    found = csms_url_problem(url)
    assert found == problem if problem is None else problem in (found or "")


# -- T-6, T-7: headers ------------------------------------------------------------------------


async def test_T_6_basic_authorization_header_on_every_attempt(
    plain_server: ServerFactory, stations: StationRunner
) -> None:
    server: PlainServer = await plain_server(status=HTTPStatus.UNAUTHORIZED)
    stations(server.url, charge_point_id="RDAM 123", password="0123456789abcdef")
    await until(lambda: len(server.upgrades) >= 2)
    expected = "Basic " + base64.b64encode(b"RDAM 123:0123456789abcdef").decode()  # the id itself, not encoded
    assert [u.headers.get("Authorization") for u in server.upgrades[:2]] == [expected, expected]


async def test_T_6_no_authorization_header_without_a_password(
    plain_server: ServerFactory, stations: StationRunner
) -> None:
    server: PlainServer = await plain_server()
    stations(server.url)
    await until(lambda: server.upgrades)
    assert "Authorization" not in server.upgrades[0].headers


async def test_T_7_permessage_deflate_not_offered_by_default(
    plain_server: ServerFactory, stations: StationRunner
) -> None:
    server: PlainServer = await plain_server()
    stations(server.url)
    await until(lambda: server.upgrades)
    assert "permessage-deflate" not in server.upgrades[0].headers.get("Sec-WebSocket-Extensions", "")


async def test_T_7_permessage_deflate_offered_when_compression_is_on(
    plain_server: ServerFactory, stations: StationRunner
) -> None:
    server: PlainServer = await plain_server()
    stations(server.url, compression=True)
    await until(lambda: server.upgrades)
    assert "permessage-deflate" in server.upgrades[0].headers.get("Sec-WebSocket-Extensions", "")


# -- T-30, T-31: keep-alive -------------------------------------------------------------------


async def test_T_30_pings_every_websocket_ping_interval(plain_server: ServerFactory, stations: StationRunner) -> None:
    server: PlainServer = await plain_server()
    stations(server.url, ocpp_config={"WebSocketPingInterval": 1})
    await until(lambda: len(server.pings) >= 2, timeout=3)
    connected = server.upgrades[0].at
    assert server.pings[0] - connected == pytest.approx(1, abs=0.3)
    assert server.pings[1] - server.pings[0] == pytest.approx(1, abs=0.3)
    assert len(server.connections) == 1  # answered pings keep the link


async def test_T_30_ping_interval_change_takes_effect_at_once(
    plain_server: ServerFactory, stations: StationRunner
) -> None:
    server: PlainServer = await plain_server()
    stations(server.url, ocpp_config={"WebSocketPingInterval": 0})
    await until(lambda: server.messages)  # the BootNotification: the link is up
    await server.connections[0].send('[2,"c-1","ChangeConfiguration",{"key":"WebSocketPingInterval","value":"1"}]')
    await until(lambda: any('"c-1"' in str(m) for m in server.messages))
    changed = asyncio.get_running_loop().time()
    assert [str(m) for m in server.messages if '"c-1"' in str(m)] == ['[3,"c-1",{"status":"Accepted"}]']
    await until(lambda: server.pings, timeout=2)
    assert server.pings[0] - changed == pytest.approx(1, abs=0.3)


@pytest.mark.parametrize("interval", [0, 60])
async def test_T_31_answers_server_pings_with_pongs(
    plain_server: ServerFactory, stations: StationRunner, interval: int
) -> None:
    server: PlainServer = await plain_server()
    stations(server.url, ocpp_config={"WebSocketPingInterval": interval})
    await until(lambda: server.messages)
    pong = await server.connections[0].ping(b"are you there")
    latency = await asyncio.wait_for(pong, WAIT)
    assert latency >= 0


async def test_T_31_no_pong_closes_the_link_and_reconnects(
    plain_server: ServerFactory, stations: StationRunner
) -> None:
    server: PlainServer = await plain_server(answer_pings=False)
    stations(server.url, ocpp_config={"WebSocketPingInterval": 1})
    await until(lambda: len(server.connections) >= 2, timeout=4)
    assert server.pings  # it did ping, got nothing back, and gave up on the link
    assert server.close_codes  # the first link was closed by the station


async def test_T_31_dead_peer_is_dropped_and_reconnected_within_two_ping_intervals(
    stations: StationRunner, dead_peer: DeadPeer
) -> None:
    # A half-open link: nothing comes back, not a pong, not a close frame. One interval to the ping, one to
    # give up on the pong: then the link must go, not wait for a closing handshake nobody will answer.
    stations(dead_peer.url, ocpp_config={"WebSocketPingInterval": 1})
    await until(lambda: dead_peer.accepted)
    await until(lambda: len(dead_peer.accepted) >= 2, timeout=4)
    assert dead_peer.accepted[1] - dead_peer.accepted[0] <= 2 + 1
