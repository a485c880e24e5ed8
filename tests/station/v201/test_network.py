"""Network connection profiles (station/v201/network.py): what SetNetworkProfile takes (B09), the order the link's
attempts follow (B10), the upgrade of the security profile (A05) and Part 4's back-off, on a station built in memory
(the link's attempts are told to the service as the transport tells them)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import trustme

from chargebox.clock import VirtualClock
from chargebox.protocol.v201 import messages as m
from chargebox.station.kernel.tls import TlsSettings
from chargebox.station.station import Station
from chargebox.station.v201.network import NetworkService
from chargebox.store import Store
from tests.wire import make_station

PASSWORD = "0123456789abcdef"


def profile(url: str = "ws://csms.test/ocpp", **fields: Any) -> m.NetworkConnectionProfileType:
    values: dict[str, Any] = {
        "ocpp_version": m.OCPPVersionEnumType.OCPP20, "ocpp_transport": m.OCPPTransportEnumType.JSON,
        "ocpp_csms_url": url, "message_timeout": 30, "security_profile": 1,
        "ocpp_interface": m.OCPPInterfaceEnumType.WIRED0,
    }  # fmt: skip
    return m.NetworkConnectionProfileType(**{**values, **fields})


def priority(station: Station, value: str) -> str:
    """SetVariables of NetworkConfigurationPriority: its status."""
    data = m.SetVariableDataType(
        component=m.ComponentType(name="OCPPCommCtrlr"),
        variable=m.VariableType(name="NetworkConfigurationPriority"),
        attribute_value=value,
    )
    result, change = station.config.change(data)  # type: ignore[attr-defined]
    station.config.apply([change] if change else [])  # type: ignore[attr-defined]
    return str(result.attribute_status)


def network(station: Station) -> NetworkService:
    return station.features.need(NetworkService)


def station_with(clock: VirtualClock, store: Store | None = None, **settings: Any) -> Station:
    settings.setdefault("password", PASSWORD)
    return make_station(clock, store, ocpp="2.0.1", **settings)


def set_profile(station: Station, slot: int, data: m.NetworkConnectionProfileType) -> m.SetNetworkProfileResponse:
    return network(station).on_set_network_profile(
        m.SetNetworkProfileRequest(configuration_slot=slot, connection_data=data)
    )


@pytest.mark.parametrize(
    ("slot", "data", "why"),
    [
        (3, profile(), "slot 3 is not one of 0,1,2"),  # B09.FR.05
        (1, profile(security_profile=0), "a lower security profile"),  # B09.FR.04
        (1, profile(ocpp_transport=m.OCPPTransportEnumType.SOAP), "only JSON"),
        (1, profile("http://csms.test"), "must be a ws:// or wss:// URL"),
        (1, profile("wss://csms.test"), "wss:// is for security profiles 2 and 3"),
        (1, profile(message_timeout=0), "messageTimeout"),
        (1, profile(vpn=m.VPNType(server="v", user="u", key="k", password="p", type=m.VPNEnumType.IP_SEC)), "VPN"),
    ],
)
def test_B09_FR_02_a_profile_the_station_cannot_use_is_rejected_and_not_stored(
    clock: VirtualClock, slot: int, data: m.NetworkConnectionProfileType, why: str
) -> None:
    station = station_with(clock)
    answer = set_profile(station, slot, data)
    assert answer.status == "Rejected" and why in str(answer.status_info.additional_info)  # type: ignore[union-attr]
    assert sorted(network(station).profiles) == [0]


def test_B09_FR_01_a_profile_is_stored_before_it_is_accepted_and_survives_a_restart(tmp_path: Path) -> None:
    clock = VirtualClock()
    store = Store.open(tmp_path)
    station = station_with(clock, store)
    assert set_profile(station, 2, profile("ws://other.test", message_timeout=25)).status == "Accepted"
    store.close()
    again = station_with(VirtualClock(), Store.open(tmp_path), csms_url="ws://ignored.test")
    assert network(again).profiles[2].ocpp_csms_url == "ws://other.test"
    assert network(again).profiles[0].ocpp_csms_url == "ws://127.0.0.1:1"  # slot 0 is the first start's settings
    again.store.close()


def test_slot_0_is_the_settings_at_the_first_start(clock: VirtualClock) -> None:
    station = station_with(clock, csms_url="ws://first.test/ocpp")
    first = network(station).profiles[0]
    assert (first.ocpp_csms_url, first.security_profile, first.message_timeout) == ("ws://first.test/ocpp", 1, 30)
    assert station.link.settings().url == "ws://first.test/ocpp/CP-1"
    assert station.config.get("OCPPCommCtrlr.ActiveNetworkProfile") == "0"


def test_B10_FR_02_A05_a_priority_naming_an_empty_slot_a_lower_or_unusable_profile_is_rejected(
    clock: VirtualClock,
) -> None:
    station = station_with(clock)
    assert set_profile(station, 1, profile(security_profile=2)).status == "Accepted"
    assert priority(station, "2,0") == "Rejected"  # B10.FR.02: slot 2 holds nothing
    assert priority(station, "1,0") == "Rejected"  # A05.FR.02: profile 2 without a CSMSRootCertificate
    assert priority(station, "") == "Rejected"
    assert priority(station, "0") == "RebootRequired"  # B10.FR.01
    assert network(station).current().security_profile == 1


def test_B10_FR_03_FR_07_attempts_per_profile_then_the_next_then_the_last_that_connected(clock: VirtualClock) -> None:
    attempts = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "NetworkProfileConnectionAttempts"}}
    station = station_with(clock, ocpp_config=[{**attempts, "value": "2"}])
    service = network(station)
    set_profile(station, 1, profile("ws://one.test"))
    set_profile(station, 2, profile("ws://two.test"))
    service.connected()  # slot 0 worked once
    station.config.set_internal("OCPPCommCtrlr.NetworkConfigurationPriority", "1,2")
    service.restart()  # B10.FR.04: after the reboot, the first of the priority
    tried = []
    for _ in range(6):
        tried.append(service.current().csms_url)
        service.failed()
    assert tried == ["ws://one.test", "ws://one.test", "ws://two.test", "ws://two.test",
                     "ws://127.0.0.1:1", "ws://127.0.0.1:1"]  # fmt: skip


def test_A05_FR_06_connecting_with_a_higher_profile_raises_it_and_drops_the_profiles_below(
    clock: VirtualClock, tmp_path: Path
) -> None:
    ca = tmp_path / "root.pem"
    ca.write_bytes(trustme.CA().cert_pem.bytes())
    station = station_with(clock, tls=TlsSettings(ca_file=ca))  # A05.FR.02: a CSMS root is in place
    service = network(station)
    set_profile(station, 1, profile("wss://secure.test", security_profile=2, message_timeout=20))
    assert priority(station, "1,0") == "RebootRequired"  # A05.FR.04
    station.config.reboot()  # type: ignore[attr-defined]
    service.restart()  # A05.FR.05: the first of the priority after the reboot
    service.connected()
    model = station.config
    assert (model.get("SecurityCtrlr.SecurityProfile"), model.get("OCPPCommCtrlr.NetworkConfigurationPriority")) == (
        "2",
        "1",
    )
    assert sorted(service.profiles) == [1]
    assert model.get("OCPPCommCtrlr.MessageTimeout[Default]") == "20" and station.rpc.call_timeout == 20
    assert model.get("OCPPCommCtrlr.ActiveNetworkProfile") == "1"


def test_part4_5_3_the_back_off_is_wait_minimum_plus_random_range_doubled_repeat_times(clock: VirtualClock) -> None:
    station = station_with(clock, ocpp_config=[
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": name}, "value": value}
        for name, value in (("RetryBackOffWaitMinimum", "5"), ("RetryBackOffRandomRange", "3"),
                            ("RetryBackOffRepeatTimes", "2"))
    ])  # fmt: skip
    delays = network(station).policy().delays(random.Random(7))
    waits = [next(delays) for _ in range(5)]
    for wait, base in zip(waits, (5, 10, 20, 20, 20), strict=True):
        assert base <= wait <= base + 3


async def test_A01_FR_11_a_new_password_and_a_raised_profile_are_security_events_without_the_password(
    clock: VirtualClock, tmp_path: Path
) -> None:
    ca = tmp_path / "root.pem"
    ca.write_bytes(trustme.CA().cert_pem.bytes())
    station = station_with(clock, tls=TlsSettings(ca_file=ca))
    events: list[tuple[str, str | None]] = []
    station.security_events.handle(lambda kind, info=None, *, notify=False: events.append((kind, info)))
    model = station.config
    model.set_internal("SecurityCtrlr.BasicAuthPassword", "fedcba9876543210fedcba")  # as SetVariables puts it
    set_profile(station, 1, profile("wss://secure.test", security_profile=2))
    assert priority(station, "1,0") == "RebootRequired"
    model.reboot()  # type: ignore[attr-defined]
    network(station).restart()
    network(station).connected()
    assert events == [("ReconfigurationOfSecurityParameters", "BasicAuthPassword changed"),
                      ("ReconfigurationOfSecurityParameters", "security profile 2")]  # fmt: skip
