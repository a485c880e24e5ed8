"""GetConfiguration / ChangeConfiguration (checklist 8) and the key registry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from chargebox.clock import VirtualClock
from chargebox.errors import ConfigError
from chargebox.station.kernel.config import Access
from chargebox.station.kernel.link import RECONNECT_GRACE
from chargebox.station.v16.config_keys import STANDARD_KEYS
from chargebox.store import Store
from tests.wire import Wire, make_station


def keys_of(answer: list[object]) -> dict[str, dict[str, object]]:
    payload = answer[2]
    assert isinstance(payload, dict)
    return {entry["key"]: entry for entry in payload.get("configurationKey", [])}


async def change(wire: Wire, key: str, value: str) -> str:
    answer = await wire.inject(f'[2,"c","ChangeConfiguration",{{"key":"{key}","value":"{value}"}}]')
    status = answer[2]["status"]
    assert isinstance(status, str)
    return status


async def test_K_1_all_core_keys_with_readonly_flag(wired: Callable[..., Wire]) -> None:
    wire = wired(connectors=2)
    await wire.connect()
    keys = keys_of(await wire.inject('[2,"g","GetConfiguration",{}]'))
    offered = {k.name for k in STANDARD_KEYS if k.profile in wire.station.profiles}  # Core + FirmwareManagement
    assert set(keys) == offered
    assert keys["NumberOfConnectors"] == {"key": "NumberOfConnectors", "readonly": True, "value": "2"}
    assert keys["HeartbeatInterval"]["readonly"] is False


async def test_K_4_keys_of_profiles_not_offered_are_absent(wired: Callable[..., Wire]) -> None:
    wire = wired(ocpp_config={"SupportedFeatureProfiles": "Core"})
    await wire.connect()
    answer = await wire.inject(
        '[2,"g","GetConfiguration",{"key":["LocalAuthListEnabled","ChargeProfileMaxStackLevel"]}]'
    )
    assert answer[2] == {"unknownKey": ["LocalAuthListEnabled", "ChargeProfileMaxStackLevel"]}


async def test_K_2_unknown_keys_are_listed_and_known_ones_matched_case_insensitively(
    wired: Callable[..., Wire],
) -> None:
    wire = wired()
    await wire.connect()
    answer = await wire.inject('[2,"g","GetConfiguration",{"key":["heartbeatinterval","NoSuchKey"]}]')
    assert answer[2] == {
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
        "unknownKey": ["NoSuchKey"],
    }


async def test_K_3_more_keys_than_get_configuration_max_keys_answers_the_first_n(
    wired: Callable[..., Wire],
) -> None:
    wire = wired(ocpp_config={"GetConfigurationMaxKeys": 2})
    await wire.connect()
    answer = await wire.inject('[2,"g","GetConfiguration",{"key":["HeartbeatInterval","ResetRetries","NoSuch"]}]')
    assert [k["key"] for k in answer[2]["configurationKey"]] == ["HeartbeatInterval", "ResetRetries"]
    assert "unknownKey" not in answer[2]


async def test_K_5_T_41_authorization_key_is_never_read_back(wired: Callable[..., Wire]) -> None:
    wire = wired(password="0123456789abcdef0123")
    await wire.connect()
    every = keys_of(await wire.inject('[2,"g","GetConfiguration",{}]'))
    one = keys_of(await wire.inject('[2,"g2","GetConfiguration",{"key":["AuthorizationKey"]}]'))
    assert every["AuthorizationKey"] == one["AuthorizationKey"] == {"key": "AuthorizationKey", "readonly": False}
    assert "0123456789abcdef0123" not in str(wire.frames)


async def test_K_10_unknown_key_is_not_supported(wired: Callable[..., Wire]) -> None:
    wire = wired()
    await wire.connect()
    assert await change(wire, "NoSuchKey", "1") == "NotSupported"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("NumberOfConnectors", "4"),  # read-only
        ("MeterValueSampleInterval", "-1"),
        ("MeterValueSampleInterval", "ten"),
        ("HeartbeatInterval", "1.5"),
        ("LocalPreAuthorize", "yes"),
        ("MeterValuesSampledData", "Energy.Active.Import.Register,Banana"),
        ("MeterValuesSampledData", ",".join(["Voltage", "Current.Import", "Power.Active.Import"] * 3)),  # duplicates
        ("WebSocketPingInterval", "-1"),  # T-30
        ("LightIntensity", "101"),
        ("SecurityProfile", "0"),  # T-43: not above the current one
        ("SecurityProfile", "2"),  # T-43: no certificates yet
        ("SecurityProfile", "1"),  # T-43: no AuthorizationKey
        ("AuthorizationKey", "short"),
    ],
)
async def test_K_11_invalid_values_are_rejected_and_change_nothing(
    wired: Callable[..., Wire], key: str, value: str
) -> None:
    wire = wired(connectors=2)
    await wire.connect()
    before = wire.station.config.configured(key)
    assert await change(wire, key, value) == "Rejected"
    assert wire.station.config.configured(key) == before


async def test_MV_5_sampled_data_longer_than_its_max_length_is_rejected(wired: Callable[..., Wire]) -> None:
    wire = wired(ocpp_config={"MeterValuesSampledDataMaxLength": 2})
    await wire.connect()
    assert await change(wire, "MeterValuesSampledData", "Voltage,Current.Import,SoC") == "Rejected"
    assert await change(wire, "MeterValuesSampledData", "Voltage.L1,SoC") == "Accepted"


async def test_K_12_accepted_value_reads_back(wired: Callable[..., Wire]) -> None:
    wire = wired()
    await wire.connect()
    assert await change(wire, "MeterValueSampleInterval", "30") == "Accepted"
    keys = keys_of(await wire.inject('[2,"g","GetConfiguration",{"key":["MeterValueSampleInterval"]}]'))
    assert keys["MeterValueSampleInterval"]["value"] == "30"


async def test_K_6_booleans_are_stored_as_true_false(wired: Callable[..., Wire]) -> None:
    wire = wired()
    await wire.connect()
    assert await change(wire, "LocalPreAuthorize", "TRUE") == "Accepted"
    assert wire.station.config.get("LocalPreAuthorize") == "true"


async def test_K_12_reboot_required_key_applies_after_restart(clock: VirtualClock, tmp_path: Path) -> None:
    station = make_station(clock, store=Store.open(tmp_path), connectors=1)
    assert station.config.change("ConnectorPhaseRotation", "0.RTS,1.RTS").value == "RebootRequired"
    assert station.config.get("ConnectorPhaseRotation") == "0.RST"
    # a second change before the reboot: configured, and the station still runs with the value it started with
    assert station.config.change("ConnectorPhaseRotation", "0.RST,1.STR").value == "RebootRequired"
    assert station.config.configured("ConnectorPhaseRotation") == "0.RST,1.STR"
    assert station.config.get("ConnectorPhaseRotation") == "0.RST"
    station.store.close()
    again = make_station(clock, store=Store.open(tmp_path), connectors=1)
    assert again.config.get("ConnectorPhaseRotation") == "0.RST,1.STR"
    again.store.close()


async def test_K_13_changes_persist_across_restart(clock: VirtualClock, tmp_path: Path) -> None:
    station = make_station(clock, store=Store.open(tmp_path))
    station.config.change("HeartbeatInterval", "42")
    station.store.close()
    again = make_station(clock, store=Store.open(tmp_path))
    assert again.config.get("HeartbeatInterval") == "42"
    again.store.close()


async def test_T_43_security_profile_1_with_key_is_accepted_and_reconnects(
    wired: Callable[..., Wire], clock: VirtualClock
) -> None:
    wire = wired()
    await wire.connect()
    reconnects: list[bool] = []
    wire.station.transport.reconnect = lambda: reconnects.append(True)  # type: ignore[method-assign]
    assert await change(wire, "AuthorizationKey", "0123456789abcdef") == "Accepted"
    assert await change(wire, "SecurityProfile", "1") == "Accepted"
    assert reconnects == []  # T-23: the answer first, and a moment for the central system to read it
    await clock.advance(RECONNECT_GRACE)
    assert reconnects == [True, True]  # T-35, T-42
    assert wire.station.link.settings().headers()["Authorization"].startswith("Basic ")


def test_X_11_fixed_cable_makes_unlock_on_ev_side_disconnect_read_only_false(clock: VirtualClock) -> None:
    station = make_station(clock, fixed_cable=True)
    key = station.config.key("UnlockConnectorOnEVSideDisconnect")
    assert key.access is Access.READ_ONLY and station.config.get("UnlockConnectorOnEVSideDisconnect") == "false"


def test_template_sets_read_only_keys_and_initial_values(clock: VirtualClock) -> None:
    station = make_station(
        clock,
        ocpp_config={"NumberOfConnectors": 3, "MeterValuesSampledData": ["Voltage", "SoC"], "LocalPreAuthorize": True},
    )
    assert station.connectors.count == 3
    assert station.config.get("MeterValuesSampledData") == "Voltage,SoC"
    assert station.config.get("LocalPreAuthorize") == "true"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ({"NoSuchKey": 1}, "unknown configuration key 'NoSuchKey': not an OCPP configuration key$"),
        ({"HeartbeatIntervall": 60}, "'HeartbeatIntervall': not an OCPP .* \\(did you mean 'HeartbeatInterval'\\?\\)"),
        ({"DisableSecurityEventNotifications": False}, "'DisableSecurityEventNotifications': not an OCPP"),
        ({"SupportedFeatureProfiles": "Core", "ChargeProfileMaxStackLevel": "-1"}, "ChargeProfileMaxStackLevel: inv"),
        ({"HeartbeatInterval": "soon"}, "HeartbeatInterval: invalid value 'soon'"),
        ({"HeartbeatInterval": {"a": 1}}, "HeartbeatInterval: cannot use a value of type dict"),
        ({"SupportedFeatureProfiles": "Core,Teleport"}, "unknown profile 'Teleport'"),
        ({"NumberOfConnectors": 0}, "NumberOfConnectors: must be 1 to 128"),
        ({"NumberOfConnectors": 129}, "NumberOfConnectors: must be 1 to 128"),
        ({"StopTransactionMaxMeterValues": -1}, "StopTransactionMaxMeterValues: invalid value '-1'"),
        ({"GetConfigurationMaxKeys": "0"}, "GetConfigurationMaxKeys: invalid value '0'"),
        ({"HeartbeatInterval": 60, "HEARTBEATINTERVAL": 60}, "'HeartbeatInterval' and 'HEARTBEATINTERVAL'"),
        ({"numberOfConnectors": 2, "NumberOfConnectors": 2}, "'numberOfConnectors' and 'NumberOfConnectors'"),
    ],
)
def test_bad_template_is_a_config_error_naming_file_and_key(
    clock: VirtualClock, template: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        make_station(clock, ocpp_config=template, ocpp_config_source="station.json")
    assert str(caught.value).startswith("station.json: ")


async def test_K_4_a_template_naming_keys_of_profiles_not_offered_is_taken_whole_and_serves_none_of_them(
    clock: VirtualClock, wired: Callable[..., Wire]
) -> None:
    template = {"SupportedFeatureProfiles": "Core", "LocalAuthListEnabled": False, "ChargeProfileMaxStackLevel": 42,
                "ReserveConnectorZeroSupported": True, "SupportedFileTransferProtocols": "FTP"}  # fmt: skip
    wire = wired(ocpp_config=template)
    await wire.connect()
    keys = '["LocalAuthListEnabled","ChargeProfileMaxStackLevel"]'
    answer = await wire.inject(f'[2,"g","GetConfiguration",{{"key":{keys}}}]')
    assert answer[2] == {"unknownKey": ["LocalAuthListEnabled", "ChargeProfileMaxStackLevel"]}  # K-4
    assert await change(wire, "ChargeProfileMaxStackLevel", "5") == "NotSupported"  # K-10
    offering = make_station(clock, ocpp_config={**template, "SupportedFeatureProfiles": "Core,SmartCharging"})
    assert offering.config.get("ChargeProfileMaxStackLevel") == "42"  # the same template, once its profile is


def test_template_number_of_connectors_contradicting_flag_is_an_error(clock: VirtualClock) -> None:
    with pytest.raises(ConfigError, match="contradicts --connectors 2"):
        make_station(clock, connectors=2, ocpp_config={"NumberOfConnectors": 3})


def test_every_standard_key_of_checklist_8_3_is_in_the_registry() -> None:
    names = {k.name for k in STANDARD_KEYS}
    expected = {
        "AllowOfflineTxForUnknownId", "AuthorizationCacheEnabled", "AuthorizeRemoteTxRequests", "BlinkRepeat",
        "ClockAlignedDataInterval", "ConnectionTimeOut", "ConnectorPhaseRotation", "ConnectorPhaseRotationMaxLength",
        "GetConfigurationMaxKeys", "HeartbeatInterval", "LightIntensity", "LocalAuthorizeOffline", "LocalPreAuthorize",
        "MaxEnergyOnInvalidId", "MessageTimeout", "MeterValuesAlignedData", "MeterValuesAlignedDataMaxLength",
        "MeterValuesSampledData", "MeterValuesSampledDataMaxLength", "MeterValueSampleInterval",
        "MinimumStatusDuration", "NumberOfConnectors", "ResetRetries", "StopTransactionMaxMeterValues",
        "StopTransactionOnEVSideDisconnect", "StopTransactionOnInvalidId", "StopTxnAlignedData",
        "StopTxnAlignedDataMaxLength", "StopTxnSampledData", "StopTxnSampledDataMaxLength",
        "SupportedFeatureProfiles", "SupportedFeatureProfilesMaxLength", "TransactionMessageAttempts",
        "TransactionMessageRetryInterval", "UnlockConnectorOnEVSideDisconnect", "WebSocketPingInterval",
        "LocalAuthListEnabled", "LocalAuthListMaxLength", "SendLocalListMaxLength", "ReserveConnectorZeroSupported",
        "ChargeProfileMaxStackLevel", "ChargingScheduleAllowedChargingRateUnit", "ChargingScheduleMaxPeriods",
        "ConnectorSwitch3to1PhaseSupported", "MaxChargingProfilesInstalled", "SupportedFileTransferProtocols",
        "AuthorizationKey", "AdditionalRootCertificateCheck", "CertificateSignedMaxChainSize",
        "CertificateStoreMaxLength", "CpoName", "SecurityProfile",
    }  # fmt: skip
    # The CSR retry of A02 takes OCPP 2.0.1's key names: the 1.6 whitepaper names no keys for it.
    assert names == expected | {"CertSigningRepeatTimes", "CertSigningWaitMinimum"}


async def test_an_integrator_declares_a_vendor_key(wired: Callable[..., Wire]) -> None:
    from chargebox.station.kernel.config import ConfigKey, KeyType
    from chargebox.station.v16.config_keys import Profile

    wire = wired()
    key = ConfigKey(name="VendorLedBrightness", type=KeyType.INTEGER, access=Access.READ_WRITE, default="50",
                    profile=Profile.CORE, maximum=100)  # fmt: skip
    wire.station.config.declare(key)
    await wire.connect()
    keys = keys_of(await wire.inject('[2,"g","GetConfiguration",{"key":["VendorLedBrightness"]}]'))
    assert keys["VendorLedBrightness"]["value"] == "50"
    assert await change(wire, "VendorLedBrightness", "101") == "Rejected"
    assert await change(wire, "VendorLedBrightness", "80") == "Accepted"
    assert wire.station.store.config.load()["VendorLedBrightness"] == "80"


@pytest.mark.parametrize("key", ["s3cr3t", "s3cr3t-" * 6])
def test_T_41_template_authorization_key_outside_16_to_40_is_refused_unechoed(clock: VirtualClock, key: str) -> None:
    with pytest.raises(ConfigError, match="AuthorizationKey: invalid value for a string key") as caught:
        make_station(clock, ocpp_config={"AuthorizationKey": key}, ocpp_config_source="station.json")
    assert "s3cr3t" not in str(caught.value)


def test_G_5_connectors_beyond_the_maximum_are_refused_before_anything_is_allocated(clock: VirtualClock) -> None:
    with pytest.raises(ConfigError, match="not 1 to 128"):
        make_station(clock, connectors=10**20)
