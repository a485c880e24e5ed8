"""The link as the ``ocpp`` library's central system sees it.

Reconnect after the central system went away (T-33, T-34, S-7) and HTTP Basic authentication (T-5, T-6, T-41, T-42).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest
from ocpp.v16 import call
from ocpp.v16.enums import ConfigurationStatus

from chargebox.station.station import Station
from tests.interop.conftest import OcppCsms, StationRunner, basic
from tests.loopback import until

PASSWORD = "0123456789abcdef"
NEW_PASSWORD = "fedcba9876543210fedcba9876543210"


@pytest.fixture
async def restarted(csms: OcppCsms, station_factory: StationRunner) -> AsyncIterator[tuple[OcppCsms, Station]]:
    """An accepted station whose central system went away, and came back on the same port (a new process).

    While it was away, connector 1 got a cable (Available -> Preparing).
    """
    station = station_factory()
    await csms.wait_booted(connectors=2)
    # the last StatusNotification's answer must reach the station before the server goes, or the
    # station rightly sends that status again (it never learnt it arrived)
    await until(lambda: all(c.reported is not None for c in station.connectors.connectors))
    await csms.stop()
    await until(lambda: not station.transport.connected)
    station.connectors.plugged(1)
    again = OcppCsms()
    await again.start(csms.port)
    try:
        yield again, station
    finally:
        await again.stop()


async def test_T_33_reconnects_by_itself(restarted: tuple[OcppCsms, Station]) -> None:
    csms, station = restarted
    session = await csms.wait_session()
    assert session.path == "/CP-1"
    await until(lambda: station.transport.connected)
    result = await csms.call(call.GetConfiguration(key=["HeartbeatInterval"]))
    assert result.configuration_key[0]["value"] == "300"


async def test_T_34_reconnect_sends_no_boot_notification(restarted: tuple[OcppCsms, Station]) -> None:
    csms, _ = restarted
    _, first = await csms.frames.wait_for(lambda f: f.is_call)
    assert first.action != "BootNotification"  # a boot would be the first CALL on the new connection
    await csms.call(call.GetConfiguration(key=["HeartbeatInterval"]))
    assert csms.frames.calls("BootNotification") == []


async def test_S_7_reconnect_reports_what_changed_while_offline(restarted: tuple[OcppCsms, Station]) -> None:
    csms, _ = restarted
    _, first = await csms.frames.wait_for(lambda f: f.is_call)
    assert first.action == "StatusNotification"
    assert first.payload["connectorId"] == 1
    assert first.payload["status"] == "Preparing"
    await csms.call(call.GetConfiguration(key=["HeartbeatInterval"]))
    assert [c.payload["connectorId"] for c in csms.frames.calls("StatusNotification")] == [1]  # only what changed


async def test_T_6_basic_credentials_get_the_station_in(csms: OcppCsms, station_factory: StationRunner) -> None:
    csms.passwords = {PASSWORD}
    station_factory(password=PASSWORD)
    session = await csms.wait_session()
    assert session.authorization == basic("CP-1", PASSWORD)
    await csms.wait_booted(connectors=2)
    assert csms.refused == []


async def test_T_5_T_6_wrong_password_is_retried_with_back_off_and_never_gets_in(
    csms: OcppCsms, station_factory: StationRunner
) -> None:
    csms.passwords = {PASSWORD}
    station_factory(password="not-the-right-password")
    await until(lambda: len(csms.refused) >= 4, timeout=3)
    assert csms.sessions == []
    assert {header for _, header in csms.refused} == {basic("CP-1", "not-the-right-password")}
    times = [at for at, _ in csms.refused[:4]]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # ReconnectPolicy(initial=0.05, maximum=0.2, jitter=0.1): about 0.05, 0.1, 0.2 seconds apart, never
    # sooner (a load on the machine can only make them later)
    for gap, delay in zip(gaps, [0.05, 0.1, 0.2], strict=True):
        assert gap >= delay * 0.9 - 0.005


async def test_T_42_TC_073_CS_new_authorization_key_is_used_on_reconnect(
    csms: OcppCsms, station_factory: StationRunner
) -> None:
    csms.passwords = {PASSWORD, NEW_PASSWORD}
    station_factory(password=PASSWORD)
    await csms.wait_booted(connectors=2)
    result = await csms.call(call.ChangeConfiguration(key="AuthorizationKey", value=NEW_PASSWORD))
    assert result.status == ConfigurationStatus.accepted
    session = await csms.wait_session(count=2)
    assert session.authorization == basic("CP-1", NEW_PASSWORD)
    assert csms.sessions[0].authorization == basic("CP-1", PASSWORD)


async def test_T_41_too_short_authorization_key_is_rejected_and_kept(
    csms: OcppCsms, station_factory: StationRunner
) -> None:
    csms.passwords = {PASSWORD}
    station = station_factory(password=PASSWORD)
    await csms.wait_booted(connectors=2)
    result = await csms.call(call.ChangeConfiguration(key="AuthorizationKey", value="short"))
    assert result.status == ConfigurationStatus.rejected
    assert station.config.configured("AuthorizationKey") == PASSWORD
    await csms.call(call.GetConfiguration(key=["HeartbeatInterval"]))
    assert len(csms.sessions) == 1  # no reconnect
