"""The device model (B05 to B08) against the ``ocpp`` library's 2.0.1 central system: Part 6's TC_B_06 to TC_B_53.

TC_B_07_CS and TC_B_10_CS name AuthCtrlr.LocalAuthorizationOffline as their second variable: the authorization
block (C) declares it, and is not built yet, so the second variable here is one of the provisioning block's
(OCPPCommCtrlr.NetworkProfileConnectionAttempts); the requirements they prove (B05.FR.01 to .03, B06.FR.01 to
.04) are the same. TC_B_15_CS (SummaryInventory NotSupported) cannot apply: the station offers SummaryInventory
(feature C-56), which TC_B_14_CS tests.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

import pytest
from ocpp.exceptions import FormatViolationError, OccurrenceConstraintViolationError
from ocpp.v201 import call
from ocpp.v201.enums import ReportBaseEnumType

from chargebox.station.station import Station
from tests.interop.conftest import Frame, OcppCsms
from tests.interop.v201.conftest import StationRunner201, entry, wait_booted

OFFLINE_THRESHOLD = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}}
ATTEMPTS = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "NetworkProfileConnectionAttempts"}}
MESSAGE_TIMEOUT = {
    "component": {"name": "OCPPCommCtrlr"},
    "variable": {"name": "MessageTimeout", "instance": "Default"},
}

# The required variables (Part 2, "Referenced Components and Variables") of blocks not built yet, and the block
# that will declare each: TC_B_53_CS passes for the blocks a station implements, and these come with theirs.
LATER = {
    "OCPPCommCtrlr.UnlockOnEVSideDisconnect": "transactions (E)",
}


@pytest.fixture
async def station(csms: OcppCsms, station_factory: StationRunner201) -> Station:
    running = station_factory(ocpp_config=[entry("OCPPCommCtrlr", "OfflineThreshold", "300")])
    await wait_booted(csms, evses=2)
    return running


async def report(csms: OcppCsms, base: ReportBaseEnumType, request_id: int) -> list[Frame]:
    """Ask for a base report; every NotifyReport of it, in order, once the last (tbc false) is in."""
    start = len(csms.frames.frames)
    result = await csms.call(call.GetBaseReport(request_id=request_id, report_base=base))
    assert result.status == "Accepted"  # B07.FR.01
    await csms.frames.wait_for(
        lambda f: f.action == "NotifyReport" and f.payload["requestId"] == request_id and not f.payload.get("tbc"),
        start=start,
    )
    return [f for f in csms.frames.calls("NotifyReport", start=start) if f.payload["requestId"] == request_id]


def reported(parts: list[Frame]) -> dict[str, dict[str, Any]]:
    """Each reported variable instance, by its device-model name."""
    out = {}
    for part in parts:
        for data in part.payload["reportData"]:
            component, variable = data["component"], data["variable"]
            name = component["name"] + (f"@{component['evse']['id']}" if "evse" in component else "")
            name += f".{variable['name']}" + (f"[{variable['instance']}]" if "instance" in variable else "")
            out[name] = data
    return out


async def test_TC_B_06_CS_get_variables_single_value(csms: OcppCsms, station: Station) -> None:
    result = await csms.call(call.GetVariables(get_variable_data=[{**OFFLINE_THRESHOLD, "attribute_type": "Actual"}]))
    (answer,) = result.get_variable_result  # B06.FR.01
    assert answer["attribute_status"] == "Accepted"  # B06.FR.10
    assert answer["attribute_type"] == "Actual"  # B06.FR.03
    assert answer["attribute_value"] == "300"  # B06.FR.04
    assert (answer["component"], answer["variable"]) == (OFFLINE_THRESHOLD["component"], OFFLINE_THRESHOLD["variable"])
    assert "attribute_status_info" not in answer


async def test_TC_B_07_CS_get_variables_multiple_values(csms: OcppCsms, station: Station) -> None:
    result = await csms.call(
        call.GetVariables(get_variable_data=[{**OFFLINE_THRESHOLD, "attribute_type": "Actual"}, ATTEMPTS])
    )
    assert [(r["variable"]["name"], r["attribute_status"], r["attribute_type"], r["attribute_value"])
            for r in result.get_variable_result] == [
        ("OfflineThreshold", "Accepted", "Actual", "300"),
        ("NetworkProfileConnectionAttempts", "Accepted", "Actual", "3"),  # B06.FR.11: Actual when omitted
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"component": {"name": "UnknownComponent"}, "variable": {"name": "OfflineThreshold"}}, "UnknownComponent"),
        ({"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "UnknownVariable"}}, "UnknownVariable"),
        ({**OFFLINE_THRESHOLD, "attribute_type": "Target"}, "NotSupportedAttributeType"),
    ],
    ids=["TC_B_32_CS_unknown_component", "TC_B_33_CS_unknown_variable", "TC_B_34_CS_not_supported_attribute_type"],
)
async def test_TC_B_32_33_34_CS_get_variables_refused_without_a_value(
    csms: OcppCsms, station: Station, data: dict[str, Any], status: str
) -> None:
    (answer,) = (await csms.call(call.GetVariables(get_variable_data=[data]))).get_variable_result
    assert answer["attribute_status"] == status  # B06.FR.06, B06.FR.07, B06.FR.08
    assert "attribute_value" not in answer
    assert (answer["component"], answer["variable"]) == (data["component"], data["variable"])
    assert answer["attribute_type"] == data.get("attribute_type", "Actual")


async def test_TC_B_09_CS_set_variables_single_value(csms: OcppCsms, station: Station) -> None:
    result = await csms.call(call.SetVariables(set_variable_data=[
        {**OFFLINE_THRESHOLD, "attribute_value": "120", "attribute_type": "Actual"}]))  # fmt: skip
    (answer,) = result.set_variable_result
    assert (answer["attribute_status"], answer["attribute_type"]) == ("Accepted", "Actual")  # B05.FR.10, .FR.03
    assert (answer["component"], answer["variable"]) == (OFFLINE_THRESHOLD["component"], OFFLINE_THRESHOLD["variable"])
    (read,) = (await csms.call(call.GetVariables(get_variable_data=[OFFLINE_THRESHOLD]))).get_variable_result
    assert read["attribute_value"] == "120"


async def test_TC_B_10_CS_set_variables_multiple_values(csms: OcppCsms, station: Station) -> None:
    result = await csms.call(call.SetVariables(set_variable_data=[
        {**OFFLINE_THRESHOLD, "attribute_value": "300", "attribute_type": "Actual"},
        {**ATTEMPTS, "attribute_value": "2"},
    ]))  # fmt: skip
    assert [
        (r["variable"]["name"], r["attribute_status"], r["attribute_type"]) for r in result.set_variable_result
    ] == [
        ("OfflineThreshold", "Accepted", "Actual"),
        ("NetworkProfileConnectionAttempts", "Accepted", "Actual"),  # B05.FR.12
    ]
    read = (await csms.call(call.GetVariables(get_variable_data=[OFFLINE_THRESHOLD, ATTEMPTS]))).get_variable_result
    assert [r["attribute_value"] for r in read] == ["300", "2"]


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"component": {"name": "UnknownComponent"}, "variable": {"name": "OfflineThreshold"}}, "UnknownComponent"),
        ({"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "UnknownVariable"}}, "UnknownVariable"),
        ({**OFFLINE_THRESHOLD, "attribute_type": "Target"}, "NotSupportedAttributeType"),
        (MESSAGE_TIMEOUT, "Rejected"),
    ],
    ids=["TC_B_35_CS_unknown_component", "TC_B_36_CS_unknown_variable", "TC_B_37_CS_not_supported_attribute_type",
         "TC_B_39_CS_read_only"],
)  # fmt: skip
async def test_TC_B_35_36_37_39_CS_set_variables_refused_and_nothing_changes(
    csms: OcppCsms, station: Station, data: dict[str, Any], status: str
) -> None:
    (answer,) = (
        await csms.call(call.SetVariables(set_variable_data=[{**data, "attribute_value": "20"}]))
    ).set_variable_result
    assert answer["attribute_status"] == status  # B05.FR.04, B05.FR.05, B05.FR.06, B05.FR.09
    assert (answer["component"], answer["variable"]) == (data["component"], data["variable"])
    read = (
        await csms.call(call.GetVariables(get_variable_data=[OFFLINE_THRESHOLD, MESSAGE_TIMEOUT]))
    ).get_variable_result
    assert [r["attribute_value"] for r in read] == ["300", "30"]


@pytest.mark.parametrize("value", ["300", "300.1", "true", "2024-01-01T00:00:00Z", "abc", "", "+300", "0300"])
async def test_TC_B_11_CS_set_variables_invalidly_formatted_values(
    csms: OcppCsms, station: Station, value: str
) -> None:
    """An integer variable takes an integer only, as Part 2 2.1.4 writes it (no leading zero, no plus sign)."""
    (answer,) = (
        await csms.call(call.SetVariables(set_variable_data=[{**OFFLINE_THRESHOLD, "attribute_value": value}]))
    ).set_variable_result
    if value == "300":
        assert answer["attribute_status"] == "Accepted"
    else:
        assert answer["attribute_status"] == "Rejected"  # B05.FR.07
        assert answer["attribute_status_info"]["reason_code"] == "InvalidValue"


async def test_TC_B_12_CS_configuration_inventory_reports_what_the_operator_can_set(
    csms: OcppCsms, station: Station
) -> None:
    parts = await report(csms, ReportBaseEnumType.configuration_inventory, 12)
    assert [p.payload["seqNo"] for p in parts] == list(range(len(parts)))  # B07.FR.10
    everything = reported(parts)
    assert "OCPPCommCtrlr.OfflineThreshold" in everything and "SecurityCtrlr.BasicAuthPassword" in everything
    for data in everything.values():
        assert data["variableCharacteristics"]  # B08.FR.12
        assert {a.get("mutability", "ReadWrite") for a in data["variableAttribute"]} <= {"ReadWrite", "WriteOnly"}


async def test_TC_B_13_CS_full_inventory_reports_everything_with_its_characteristics(
    csms: OcppCsms, station: Station
) -> None:
    parts = await report(csms, ReportBaseEnumType.full_inventory, 13)
    everything = reported(parts)
    assert len(everything) == len(station.config.slots())  # type: ignore[attr-defined]
    assert everything["EVSE@2.AvailabilityState"]["variableAttribute"] == [
        {"type": "Actual", "value": "Available", "mutability": "ReadOnly", "persistent": False}
    ]
    assert everything["OCPPCommCtrlr.OfflineThreshold"]["variableAttribute"][0]["value"] == "300"


async def test_TC_B_14_CS_summary_inventory_reports_the_availability_of_each_component(
    csms: OcppCsms, station: Station
) -> None:
    parts = await report(csms, ReportBaseEnumType.summary_inventory, 14)
    assert sorted(reported(parts)) == [
        "ChargingStation.AvailabilityState", "Connector@1.AvailabilityState", "Connector@2.AvailabilityState",
        "EVSE@1.AvailabilityState", "EVSE@2.AvailabilityState",
    ]  # fmt: skip


async def test_TC_B_53_CS_full_inventory_holds_every_required_variable_with_a_valid_value(
    csms: OcppCsms, station: Station
) -> None:
    """Part 6's post-scenario checks: the required variables are there with a value (a write-only one without),
    and a list's value is one its valuesList allows; LATER names the ones the blocks still to come declare."""
    everything = reported(await report(csms, ReportBaseEnumType.full_inventory, 53))
    catalogue = tomllib.loads((resources.files("chargebox.protocol.v201") / "device_model.toml").read_text())
    for variable in (v for v in catalogue["variable"] if v["required"]):
        name = variable["component"] + (".*" if f"{variable['component']}.*" in LATER else f".{variable['name']}")
        if name in LATER:
            continue
        key = variable["component"] + ("@1" if variable["component"] in ("EVSE", "Connector") else "")
        key += f".{variable['name']}" + (f"[{variable['instance']}]" if "instance" in variable else "")
        assert key in everything, key
        (attribute,) = everything[key]["variableAttribute"]
        characteristics = everything[key]["variableCharacteristics"]
        if attribute.get("mutability") == "WriteOnly":
            assert "value" not in attribute
            continue
        assert "value" in attribute, key
        if characteristics["dataType"] in ("OptionList", "SequenceList", "MemberList"):
            allowed = characteristics["valuesList"].split(",")
            assert all(item in allowed for item in attribute["value"].split(",") if item), key
    later = {name for name in everything if name.split("@")[0].split(".")[0] + ".*" in LATER or name in LATER}
    assert later == set(), "declared now: remove them from LATER"


async def test_B06_FR_16_more_entries_than_ItemsPerMessage_GetVariables_is_an_occurrence_violation(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station_factory(ocpp_config=[entry("DeviceDataCtrlr", "ItemsPerMessage", "2", variable_instance="GetVariables")])
    await wait_booted(csms, evses=2)
    with pytest.raises(OccurrenceConstraintViolationError):
        await csms.call(call.GetVariables(get_variable_data=[OFFLINE_THRESHOLD] * 3))
    assert len((await csms.call(call.GetVariables(get_variable_data=[OFFLINE_THRESHOLD] * 2))).get_variable_result) == 2


async def test_B06_FR_17_more_bytes_than_BytesPerMessage_GetVariables_is_a_format_violation(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station_factory(ocpp_config=[entry("DeviceDataCtrlr", "BytesPerMessage", "200", variable_instance="GetVariables")])
    await wait_booted(csms, evses=2)
    with pytest.raises(FormatViolationError):
        await csms.call(call.GetVariables(get_variable_data=[OFFLINE_THRESHOLD] * 3))


async def test_B07_FR_10_a_report_is_split_by_ItemsPerMessage_GetReport_with_seqNo_and_tbc(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station_factory(ocpp_config=[entry("DeviceDataCtrlr", "ItemsPerMessage", "10", variable_instance="GetReport")])
    await wait_booted(csms, evses=2)
    parts = await report(csms, ReportBaseEnumType.full_inventory, 99)
    assert [len(p.payload["reportData"]) for p in parts[:-1]] == [10] * (len(parts) - 1)
    assert [p.payload.get("tbc", False) for p in parts] == [True] * (len(parts) - 1) + [False]
    assert [p.payload["seqNo"] for p in parts] == list(range(len(parts)))


async def test_B08_FR_05_get_report_by_component_variable_and_criteria(csms: OcppCsms, station: Station) -> None:
    start = len(csms.frames.frames)
    result = await csms.call(call.GetReport(request_id=8, component_variable=[
        {"component": {"name": "EVSE"}, "variable": {"name": "AvailabilityState"}},  # B08.FR.23: every EVSE
        {"component": {"name": "OCPPCommCtrlr"}},  # B08.FR.20: every variable of it
    ]))  # fmt: skip
    assert result.status == "Accepted"
    _, part = await csms.frames.wait_for(lambda f: f.action == "NotifyReport", start=start)
    names = set(reported([part]))
    assert {"EVSE@1.AvailabilityState", "EVSE@2.AvailabilityState", "OCPPCommCtrlr.OfflineThreshold"} <= names
    assert {name.split(".")[0] for name in names} == {"EVSE@1", "EVSE@2", "OCPPCommCtrlr"}
    result = await csms.call(call.GetReport(request_id=9, component_criteria=["Problem"]))
    assert result.status == "EmptyResultSet"  # B08.FR.10, B08.FR.15: no component has a Problem
