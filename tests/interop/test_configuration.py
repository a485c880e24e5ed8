"""GetConfiguration and ChangeConfiguration (checklist section 8), driven by the ``ocpp`` library."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call
from ocpp.v16.enums import ConfigurationStatus

from chargebox.station.station import Station
from tests.interop.conftest import OcppCsms, StationRunner

PASSWORD = "0123456789abcdef"
# Checklist 8.3: the keys the Core profile requires, plus the optional ones chargebox serves
REQUIRED_CORE_KEYS = {
    "AuthorizeRemoteTxRequests",
    "ClockAlignedDataInterval",
    "ConnectionTimeOut",
    "ConnectorPhaseRotation",
    "GetConfigurationMaxKeys",
    "HeartbeatInterval",
    "LocalAuthorizeOffline",
    "LocalPreAuthorize",
    "MeterValuesAlignedData",
    "MeterValuesSampledData",
    "MeterValueSampleInterval",
    "NumberOfConnectors",
    "ResetRetries",
    "StopTransactionOnInvalidId",
    "StopTxnAlignedData",
    "StopTxnSampledData",
    "SupportedFeatureProfiles",
    "TransactionMessageAttempts",
    "TransactionMessageRetryInterval",
    "UnlockConnectorOnEVSideDisconnect",
}


async def get_all(csms: OcppCsms) -> dict[str, dict[str, Any]]:
    result = await csms.call(call.GetConfiguration())
    assert result.unknown_key in (None, [])
    return {entry["key"]: entry for entry in result.configuration_key}


async def get_value(csms: OcppCsms, key: str) -> str | None:
    result = await csms.call(call.GetConfiguration(key=[key]))
    value: str | None = result.configuration_key[0].get("value")
    return value


async def change(csms: OcppCsms, key: str, value: str) -> str:
    result = await csms.call(call.ChangeConfiguration(key=key, value=value))
    return str(result.status)


@pytest.fixture
async def booted(csms: OcppCsms, station_factory: StationRunner) -> Station:
    station = station_factory(password=PASSWORD)
    await csms.wait_booted(connectors=2)
    return station


async def test_K_1_TC_019_CS_get_configuration_without_keys_returns_every_key(csms: OcppCsms, booted: Station) -> None:
    keys = await get_all(csms)
    assert set(keys) >= REQUIRED_CORE_KEYS
    for entry in keys.values():
        assert isinstance(entry["readonly"], bool)
        assert "value" not in entry or isinstance(entry["value"], str)
    assert keys["NumberOfConnectors"] == {"key": "NumberOfConnectors", "readonly": True, "value": "2"}
    assert keys["HeartbeatInterval"]["readonly"] is False


async def test_K_1_get_configuration_with_empty_key_list_returns_every_key(csms: OcppCsms, booted: Station) -> None:
    result = await csms.call(call.GetConfiguration(key=[]))
    assert {entry["key"] for entry in result.configuration_key} >= REQUIRED_CORE_KEYS


async def test_K_5_T_41_authorization_key_is_listed_without_its_value(csms: OcppCsms, booted: Station) -> None:
    keys = await get_all(csms)
    assert "value" not in keys.get("AuthorizationKey", {})
    result = await csms.call(call.GetConfiguration(key=["AuthorizationKey"]))
    assert "value" not in result.configuration_key[0]
    assert PASSWORD not in str(result)


# A key of each optional profile: present exactly when the profile is offered (K-4)
PROFILE_KEYS = {
    "LocalAuthListManagement": "LocalAuthListEnabled",
    "Reservation": "ReserveConnectorZeroSupported",
    "SmartCharging": "ChargeProfileMaxStackLevel",
}


async def test_K_4_keys_are_present_exactly_for_the_profiles_offered(csms: OcppCsms, booted: Station) -> None:
    keys = await get_all(csms)
    offered = keys["SupportedFeatureProfiles"]["value"].split(",")
    assert "Core" in offered
    for profile, key in PROFILE_KEYS.items():
        assert (key in keys) == (profile in offered), profile


async def test_K_4_template_offering_only_core_hides_the_other_profiles_keys(
    csms: OcppCsms, station_factory: StationRunner
) -> None:
    station_factory(ocpp_config={"SupportedFeatureProfiles": "Core"})
    await csms.wait_booted(connectors=2)
    keys = await get_all(csms)
    assert keys["SupportedFeatureProfiles"]["value"] == "Core"
    assert not set(PROFILE_KEYS.values()) & set(keys)


async def test_K_2_known_keys_answered_unknown_keys_listed(csms: OcppCsms, booted: Station) -> None:
    result = await csms.call(call.GetConfiguration(key=["HeartbeatInterval", "NoSuchKey", "numberofconnectors"]))
    assert [entry["key"] for entry in result.configuration_key] == ["HeartbeatInterval", "NumberOfConnectors"]
    assert result.unknown_key == ["NoSuchKey"]


async def test_K_3_more_keys_than_get_configuration_max_keys_answers_the_first_n(
    csms: OcppCsms, booted: Station
) -> None:
    limit = int(await get_value(csms, "GetConfigurationMaxKeys") or 0)
    assert limit > 0
    requested = [f"Unknown{i}" for i in range(limit)] + ["HeartbeatInterval"]
    result = await csms.call(call.GetConfiguration(key=requested))
    assert result.unknown_key == requested[:limit]
    assert result.configuration_key in (None, [])


async def test_K_10_TC_040_1_CS_change_of_unknown_key_is_not_supported(csms: OcppCsms, booted: Station) -> None:
    assert await change(csms, "NoSuchKey", "1") == ConfigurationStatus.not_supported


async def test_K_11_change_of_read_only_key_is_rejected_and_unchanged(csms: OcppCsms, booted: Station) -> None:
    assert await change(csms, "NumberOfConnectors", "3") == ConfigurationStatus.rejected
    assert await get_value(csms, "NumberOfConnectors") == "2"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("MeterValueSampleInterval", "-1"),  # out of range
        ("MeterValueSampleInterval", "ten"),  # not an integer
        ("LocalPreAuthorize", "yes"),  # not a boolean
        ("MeterValuesSampledData", "Energy.Active.Import.Register,Foo.Bar"),  # unknown measurand
        ("WebSocketPingInterval", "-1"),  # T-30
        ("HeartbeatInterval", "-5"),
    ],
)
async def test_K_11_TC_040_2_CS_invalid_value_is_rejected_and_unchanged(
    csms: OcppCsms, booted: Station, key: str, value: str
) -> None:
    before = await get_value(csms, key)
    assert await change(csms, key, value) == ConfigurationStatus.rejected
    assert await get_value(csms, key) == before


async def test_K_11_csl_longer_than_its_max_length_is_rejected(csms: OcppCsms, booted: Station) -> None:
    limit = int(await get_value(csms, "MeterValuesSampledDataMaxLength") or 1)
    measurands = ["Voltage", "Current.Import", "Power.Active.Import", "Energy.Active.Import.Register", "Frequency",
                  "Temperature", "SoC", "Power.Offered", "Current.Offered", "RPM"]  # fmt: skip
    assert len(measurands) > limit
    assert await change(csms, "MeterValuesSampledData", ",".join(measurands[: limit + 1])) == "Rejected"
    assert await change(csms, "MeterValuesSampledData", ",".join(measurands[:limit])) == "Accepted"


async def test_K_12_TC_021_CS_valid_change_is_accepted_and_read_back(csms: OcppCsms, booted: Station) -> None:
    assert await change(csms, "MeterValueSampleInterval", "17") == ConfigurationStatus.accepted
    assert await get_value(csms, "MeterValueSampleInterval") == "17"


async def test_K_12_boolean_change_is_accepted_and_read_back(csms: OcppCsms, booted: Station) -> None:
    assert await change(csms, "LocalPreAuthorize", "true") == ConfigurationStatus.accepted
    assert await get_value(csms, "LocalPreAuthorize") == "true"


async def test_K_12_connector_phase_rotation_needs_a_reboot(csms: OcppCsms, booted: Station) -> None:
    assert await change(csms, "ConnectorPhaseRotation", "0.RST,1.RTS,2.SRT") == ConfigurationStatus.reboot_required


async def test_K_13_accepted_values_survive_a_restart(
    csms: OcppCsms, station_factory: StationRunner, tmp_path: Path
) -> None:
    template = {"MeterValueSampleInterval": 60}  # the same template both times: the stored change must win
    station = station_factory(data_dir=tmp_path, ocpp_config=template)
    await csms.wait_booted(connectors=2)
    assert await change(csms, "MeterValueSampleInterval", "17") == ConfigurationStatus.accepted
    assert await change(csms, "StopTxnSampledData", "Voltage,SoC") == ConfigurationStatus.accepted
    assert await change(csms, "ConnectorPhaseRotation", "0.RST,1.RTS") == ConfigurationStatus.reboot_required
    await station_factory.stop(station)

    restarted = station_factory(data_dir=tmp_path, ocpp_config=template)
    await csms.wait_session(count=2)
    keys = await get_all(csms)
    assert keys["MeterValueSampleInterval"]["value"] == "17"
    assert keys["StopTxnSampledData"]["value"] == "Voltage,SoC"
    assert keys["ConnectorPhaseRotation"]["value"] == "0.RST,1.RTS"
    assert restarted.config.get("ConnectorPhaseRotation") == "0.RST,1.RTS"  # in effect after the reboot
