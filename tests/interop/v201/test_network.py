"""Network connection profiles (B09, B10) against the ``ocpp`` library's 2.0.1 central systems: Part 6's TC_B_43,
TC_B_45, TC_B_46 and TC_B_49, with a second central system on another port where a case migrates to one.

TC_B_50_CS (a migration to a central system whose certificate chains to a new CSMS root, installed by
InstallCertificate) and TC_B_47_CS (with AdditionalRootCertificateCheck, back to the old profile and the fallback
root when the new root refuses the new central system) run over real TLS in test_tls.py.
"""

from __future__ import annotations

import socket
from typing import Any

from ocpp.v201 import call
from ocpp.v201.enums import ResetEnumType

from chargebox.station.station import Station
from tests.interop.conftest import OcppCsms
from tests.interop.v201.conftest import StationRunner201, csms201, entry, wait_booted
from tests.loopback import until

PRIORITY = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "NetworkConfigurationPriority"}}
ACTIVE = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "ActiveNetworkProfile"}}


def profile(url: str, *, security_profile: int = 0, timeout: int = 30) -> dict[str, Any]:
    return {"ocpp_version": "OCPP20", "ocpp_transport": "JSON", "ocpp_csms_url": url, "message_timeout": timeout,
            "security_profile": security_profile, "ocpp_interface": "Wired0"}  # fmt: skip


def unused_port() -> int:
    """A loopback port nobody listens on (a central system that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def migrate(csms: OcppCsms, slot: int, url: str, **options: Any) -> None:
    """B09 then B10: the new profile in ``slot``, first in NetworkConfigurationPriority, and a reset to use it."""
    result = await csms.call(call.SetNetworkProfile(configuration_slot=slot, connection_data=profile(url, **options)))
    assert result.status == "Accepted"  # B09.FR.01
    result = await csms.call(call.SetVariables(set_variable_data=[{**PRIORITY, "attribute_value": f"{slot},0"}]))
    assert result.set_variable_result[0]["attribute_status"] == "RebootRequired"  # B10.FR.01
    assert (await csms.call(call.Reset(type=ResetEnumType.on_idle))).status == "Accepted"


async def variable(csms: OcppCsms, data: dict[str, Any]) -> str:
    return str((await csms.call(call.GetVariables(get_variable_data=[data]))).get_variable_result[0]["attribute_value"])


async def test_TC_B_43_CS_a_profile_for_a_slot_the_station_does_not_have_is_rejected(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station_factory()
    await wait_booted(csms, evses=2)
    result = await csms.call(call.SetNetworkProfile(configuration_slot=999, connection_data=profile(csms.url)))
    assert result.status == "Rejected"  # B09.FR.02, B09.FR.05


async def test_TC_B_45_CS_migrates_to_the_new_profile_after_the_reset(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station = station_factory()
    await wait_booted(csms, evses=2)
    second = csms201()
    await second.start()
    try:
        await migrate(csms, 1, second.url, timeout=25)
        await wait_booted(second, evses=2)  # B10.FR.04: the first entry of the priority after the reboot
        assert await variable(second, ACTIVE) == "1"
        assert await variable(second, PRIORITY) == "1,0"
        assert station.rpc.call_timeout == 25  # the profile's messageTimeout is MessageTimeout[Default]
        assert len(csms.sessions) == 1  # B10.FR.06: the old one was left before the new one was tried
    finally:
        await second.stop()


async def test_TC_B_46_CS_falls_back_to_the_next_profile_after_its_attempts(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station = station_factory(ocpp_config=[entry("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", "2")])
    await wait_booted(csms, evses=2)
    attempts = station.transport.attempts
    await migrate(csms, 2, f"ws://127.0.0.1:{unused_port()}")
    await wait_booted(csms, evses=2, start=len(csms.frames.frames))  # back on slot 0 (B10.FR.03)
    assert station.transport.attempts - attempts == 3  # two on slot 2, then slot 0
    assert await variable(csms, ACTIVE) == "0"


async def test_TC_B_49_CS_after_every_profile_failed_it_reconnects_with_the_last_one_that_worked(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station: Station = station_factory(ocpp_config=[entry("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", "1")])
    await wait_booted(csms, evses=2)
    port = csms.port
    await migrate(csms, 1, f"ws://127.0.0.1:{unused_port()}")
    await csms.stop()  # slot 0's central system does not accept the attempt after slot 1's
    attempts = station.transport.attempts
    await until(lambda: station.transport.attempts >= attempts + 3)  # slot 1, slot 0, then slot 0 again (B10.FR.07)
    back = csms201()
    await back.start(port)
    try:
        await wait_booted(back, evses=2)
        assert await variable(back, ACTIVE) == "0"
    finally:
        await back.stop()
