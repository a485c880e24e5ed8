"""The feature table (station/feature.py, v16/table.py): each feature's declaration is what it does.

A declaration names the actions its service answers, the configuration keys and store tables it owns
and the features it needs; these tests fail when one says other than the code (an action answered
but not declared, a key or a table nobody owns or two features claim, a need built after its user).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest

from chargebox.clock import VirtualClock
from chargebox.protocol.messages import CENTRAL_SYSTEM_INITIATED, Action
from chargebox.station import feature
from chargebox.station.kernel import kernel
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.service import Service
from chargebox.station.station import Station
from chargebox.station.v16.config_keys import KERNEL_KEYS, STANDARD_KEYS, Profile
from chargebox.station.v16.connectors import ConnectorsService
from chargebox.station.v16.offer import ALWAYS_OFFERED, IMPLEMENTED_PROFILES
from chargebox.station.v16.table import FEATURES, STATION_KEYS
from chargebox.store import Store
from tests.wire import Wire, make_station

EVERY_PROFILE = ",".join(p.value for p in IMPLEMENTED_PROFILES)


def every_feature(clock: VirtualClock) -> Station:
    return make_station(clock, ocpp_config={"SupportedFeatureProfiles": EVERY_PROFILE}, signed_firmware_only=True)


def test_a_station_offering_every_profile_builds_every_feature_in_table_order(clock: VirtualClock) -> None:
    station = every_feature(clock)
    assert [f.name for f, _service in station.features.built] == [f.name for f in FEATURES]
    assert station.services == [station.features.need(f.service) for f in FEATURES]


def test_each_feature_declares_exactly_the_actions_its_service_answers(clock: VirtualClock) -> None:
    station = every_feature(clock)
    for declared, service in station.features.built:
        assert set(service.handlers()) == declared.actions, declared.name


def test_every_central_system_action_is_declared_by_exactly_one_feature() -> None:
    declared = [action for f in FEATURES for action in f.actions]
    assert len(declared) == len(set(declared))
    assert set(declared) == set(CENTRAL_SYSTEM_INITIATED)


def test_a_feature_needs_only_what_the_table_builds_before_it_whenever_it_is_built() -> None:
    for position, declared in enumerate(FEATURES):
        earlier = {f.service: f for f in FEATURES[:position]}
        for need in declared.needs:
            assert need in earlier, f"{declared.name} needs {need.__name__}, which is not built before it"
            # built whenever the feature is: one of what every station offers, or one of the same profile
            assert earlier[need].profile in ALWAYS_OFFERED | {declared.profile}, (declared.name, need.__name__)


def test_every_catalogue_key_is_owned_once_by_a_feature_of_its_profile_or_by_the_kernel_or_the_station() -> None:
    owners: dict[str, list[str]] = {}
    profile_of = {key.name: key.profile for key in STANDARD_KEYS}
    for declared in FEATURES:
        for name in declared.keys:
            owners.setdefault(name, []).append(declared.name)
            assert profile_of.get(name) == declared.profile, (declared.name, name)
    kernel_keys = {getattr(KERNEL_KEYS, field) for field in KERNEL_KEYS.__dataclass_fields__}
    for name in kernel_keys | STATION_KEYS:
        owners.setdefault(name, []).append("kernel" if name in kernel_keys else "station")
        assert profile_of.get(name) == Profile.CORE, name
    assert set(owners) == set(profile_of)
    assert {name: who for name, who in owners.items() if len(who) > 1} == {}


def test_every_store_table_is_owned_once_by_a_feature_of_each_version_or_by_the_kernel() -> None:
    """A station speaks one version: a table both versions' features use (the security log, the signed firmware
    and GetLog jobs) has one owner in each table, never two in one, nor a feature's that is the kernel's too."""
    store = Store.open(None)
    try:
        rows = store.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    finally:
        store.close()
    v201 = importlib.import_module("chargebox.station.v201.table").FEATURES
    owned: set[str] = set(kernel.TABLES)
    for features in (FEATURES, v201):
        tables = [table for f in features for table in f.tables]
        assert len(tables) == len(set(tables))
        assert set(tables) & set(kernel.TABLES) == set()
        owned |= set(tables)
    assert owned == {str(name) for (name,) in rows}


def test_a_profile_not_offered_builds_none_of_its_features(clock: VirtualClock) -> None:
    station = make_station(clock, ocpp_config={"SupportedFeatureProfiles": "Core"})
    built = [f.name for f, _service in station.features.built]
    assert built == [f.name for f in FEATURES if f.profile in ALWAYS_OFFERED]
    assert station.reservation is None and station.smart_charging is None and station.firmware is None
    assert station.signed_firmware is None  # only with the switch (SF-10)


def test_the_security_whitepaper_is_offered_whatever_supported_feature_profiles_names(clock: VirtualClock) -> None:
    libocpp_profiles = "Core,FirmwareManagement,RemoteTrigger,Reservation,LocalAuthListManagement,SmartCharging"
    station = make_station(clock, ocpp_config={"SupportedFeatureProfiles": libocpp_profiles})
    assert station.certificates is not None and station.get_log is not None
    assert Profile.SECURITY not in station.config.get_list("SupportedFeatureProfiles")  # not a 1.6 profile


def test_a_feature_declares_absent_answers_only_for_actions_it_declares() -> None:
    for declared in FEATURES:
        assert declared.absent.keys() <= declared.actions, declared.name


def test_1_4_T_16_a_profile_not_offered_registers_its_absent_answers_and_nothing_else(clock: VirtualClock) -> None:
    station = make_station(clock, ocpp_config={"SupportedFeatureProfiles": "Core"})
    missing = [f for f in FEATURES if f.profile not in station.kernel.profiles]
    answered = set(station.rpc.handlers) & {action for f in missing for action in f.actions}
    assert answered == {Action.GET_LOCAL_LIST_VERSION, Action.SEND_LOCAL_LIST, Action.RESERVE_NOW}
    assert answered == {action for f in missing for action in f.absent}
    assert not station.features.withheld & answered


def answered_by_the_integrator(_request: Any) -> Any:
    raise AssertionError("an action the station does not offer reached a handler")


async def test_1_4_an_action_of_a_profile_not_offered_stays_NotSupported_whoever_registers_it(
    wired: Callable[..., Wire],
) -> None:
    wire = wired(ocpp_config={"SupportedFeatureProfiles": "Core"})
    wire.station.register(Action.CLEAR_CHARGING_PROFILE, answered_by_the_integrator)
    await wire.connect()
    answer = await wire.inject('[2,"v","ClearChargingProfile",{}]')
    assert answer[:3] == [4, "v", "NotSupported"]  # SC-4, errata 3.39


async def test_SF_10_a_station_with_signed_updates_answers_UpdateFirmware_NotSupported_whoever_registers_it(
    wired: Callable[..., Wire],
) -> None:
    wire = wired(signed_firmware_only=True)
    wire.station.register(Action.UPDATE_FIRMWARE, answered_by_the_integrator)
    await wire.connect()
    answer = await wire.inject(
        '[2,"u","UpdateFirmware",{"location":"http://x/f.bin","retrieveDate":"2030-01-01T00:00:00Z"}]'
    )
    assert answer[:3] == [4, "u", "NotSupported"]
    assert Action.SIGNED_UPDATE_FIRMWARE in wire.station.rpc.handlers


def test_a_build_reaches_only_the_features_it_declared(clock: VirtualClock) -> None:
    station = every_feature(clock)

    def build(_kernel: Kernel, needs: feature.Needs) -> Service:
        return needs(ConnectorsService)

    undeclared = feature.Feature(name="peeker", profile="Core", service=Service, build=build)
    with pytest.raises(LookupError, match="peeker needs ConnectorsService without declaring it"):
        feature.assemble(station.kernel, [undeclared], frozenset({"Core"}))
    too_early = feature.Feature(name="early", profile="Core", service=Service, build=build, needs=(ConnectorsService,))
    with pytest.raises(LookupError, match="early needs ConnectorsService, which is not built before it"):
        feature.assemble(station.kernel, [too_early], frozenset({"Core"}))


async def test_C_28_a_station_without_firmware_management_has_no_firmware_status_to_trigger(
    wired: Callable[..., Wire],
) -> None:
    wire = wired(ocpp_config={"SupportedFeatureProfiles": "Core,RemoteTrigger"})
    await wire.connect()
    answer = await wire.inject('[2,"t","TriggerMessage",{"requestedMessage":"FirmwareStatusNotification"}]')
    assert answer == [3, "t", {"status": "NotImplemented"}]
    answer = await wire.inject('[2,"h","TriggerMessage",{"requestedMessage":"Heartbeat"}]')
    assert answer == [3, "h", {"status": "Accepted"}]
    assert wire.station.snapshot()["firmwareStatus"] is None


async def test_extended_trigger_message_needs_no_remote_trigger_profile(wired: Callable[..., Wire]) -> None:
    """The trigger registry is the kernel's: ExtendedTriggerMessage reads it, TriggerMessage offered or not."""
    wire = wired(ocpp_config={"SupportedFeatureProfiles": "Core"})
    await wire.connect()
    answer = await wire.inject('[2,"e","ExtendedTriggerMessage",{"requestedMessage":"Heartbeat"}]')
    assert answer == [3, "e", {"status": "Accepted"}]
    await wire.clock.advance(0)
    assert "Heartbeat" in wire.sent_actions()
    assert (await wire.inject('[2,"t","TriggerMessage",{"requestedMessage":"Heartbeat"}]'))[:3] == [
        4,
        "t",
        "NotSupported",
    ]
