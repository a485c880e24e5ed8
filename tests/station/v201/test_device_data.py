"""Device-model requests (station/v201/device_data.py) on the wire: SetVariables answered before its changes act
(T-23), a password kept out of the log (A01.FR.12), reports split by BytesPerMessage[GetReport], GetReport's
componentVariable and criteria (B08), and requests over the station's announced limits refused."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from tests.wire import Wire

OFFLINE = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}}


def seeded(name: str, instance: str, value: str) -> dict[str, Any]:
    return {"component": {"name": "DeviceDataCtrlr"}, "variable": {"name": name, "instance": instance}, "value": value}


async def booted(wired: Callable[..., Wire], *seeds: dict[str, Any]) -> Wire:
    wire = wired(ocpp="2.0.1", connectors=2, ocpp_config=list(seeds))
    await wire.connect()
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 2)
    return wire


def frame(action: str, payload: dict[str, Any], message_id: str = "c1") -> str:
    return json.dumps([2, message_id, action, payload])


async def test_B05_FR_01_one_result_per_entry_in_order_and_the_changes_act_after_the_answer(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    heard: list[int] = []
    wire.station.config.subscribe("OCPPCommCtrlr.OfflineThreshold", lambda _v: heard.append(len(wire.frames)))
    answer = await wire.inject(frame("SetVariables", {"setVariableData": [
        {**OFFLINE, "attributeValue": "120"},
        {"component": {"name": "Nope"}, "variable": {"name": "X"}, "attributeValue": "1"},
    ]}))  # fmt: skip
    results = answer[2]["setVariableResult"]
    assert [r["attributeStatus"] for r in results] == ["Accepted", "UnknownComponent"]
    answered_at = next(i for i, (d, f) in enumerate(wire.frames) if d == ">" and f[:2] == [3, "c1"])
    assert heard and heard[0] > answered_at  # T-23: told once the answer is written


async def test_A01_FR_12_a_new_password_is_never_logged(
    wired: Callable[..., Wire], caplog: pytest.LogCaptureFixture
) -> None:
    wire = await booted(wired)
    secret = "s3cret-password-0123"
    with caplog.at_level(logging.DEBUG):
        password = {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}
        answer = await wire.inject(frame("SetVariables", {"setVariableData": [{**password, "attributeValue": secret}]}))
    assert answer[2]["setVariableResult"][0]["attributeStatus"] == "Accepted"
    assert secret not in caplog.text
    assert "BasicAuthPassword" in caplog.text and "value not logged" in caplog.text


async def test_B07_a_report_stays_within_BytesPerMessage_GetReport(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired, seeded("BytesPerMessage", "GetReport", "1500"))
    answer = await wire.inject(frame("GetBaseReport", {"requestId": 4, "reportBase": "FullInventory"}))
    assert answer[2] == {"status": "Accepted"}
    await wire.until(lambda: any(not c.get("tbc") for c in wire.calls("NotifyReport")))
    parts = [f for d, f in wire.frames if d == ">" and f[0] == 2 and f[2] == "NotifyReport"]
    assert len(parts) > 3
    assert all(len(json.dumps(part, separators=(",", ":"))) <= 1500 for part in parts)
    reported = sum(len(part[3]["reportData"]) for part in parts)
    assert reported == len(wire.station.config.slots())  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("component_variable", "expected"),
    [
        # B08.FR.21: a variable without its instance is every instance of it
        ([{"component": {"name": "DeviceDataCtrlr"}, "variable": {"name": "ItemsPerMessage"}}],
         ["DeviceDataCtrlr.ItemsPerMessage[GetReport]", "DeviceDataCtrlr.ItemsPerMessage[GetVariables]",
          "DeviceDataCtrlr.ItemsPerMessage[SetVariables]"]),
        # B08.FR.22: an evse id without a connector is every connector of that EVSE
        ([{"component": {"name": "Connector", "evse": {"id": 2}}, "variable": {"name": "ConnectorType"}}],
         ["Connector@2:1.ConnectorType"]),
        # B08.FR.20, B08.FR.23: no variable, no evse: every variable of every such component
        ([{"component": {"name": "EVSE"}}],
         ["EVSE@1.Available", "EVSE@1.AvailabilityState", "EVSE@1.SupplyPhases", "EVSE@1.Power", "EVSE@1.AllowReset",
          "EVSE@2.Available", "EVSE@2.AvailabilityState", "EVSE@2.SupplyPhases", "EVSE@2.Power", "EVSE@2.AllowReset"]),
    ],
)  # fmt: skip
async def test_B08_FR_20_to_23_what_a_componentVariable_leaves_out_it_does_not_narrow_by(
    wired: Callable[..., Wire], component_variable: list[dict[str, Any]], expected: list[str]
) -> None:
    wire = await booted(wired)
    answer = await wire.inject(frame("GetReport", {"requestId": 5, "componentVariable": component_variable}))
    assert answer[2] == {"status": "Accepted"}
    await wire.until(lambda: bool(wire.calls("NotifyReport")))
    assert [_name(data) for data in wire.calls("NotifyReport")[0]["reportData"]] == expected


async def test_B08_FR_08_FR_13_criteria_report_a_component_that_has_one_true_or_lacks_it(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    answer = await wire.inject(frame("GetReport", {"requestId": 6, "componentCriteria": ["Available", "Problem"]}))
    assert answer[2] == {"status": "Accepted"}
    await wire.until(lambda: any(not c.get("tbc") for c in wire.calls("NotifyReport")))
    reported = sum(len(c["reportData"]) for c in wire.calls("NotifyReport"))
    assert reported == len(wire.station.config.slots())  # type: ignore[attr-defined]  # every Available is true


@pytest.mark.parametrize(
    ("action", "payload", "seed", "code"),
    [
        ("SetVariables", {"setVariableData": [{**OFFLINE, "attributeValue": "1"}] * 3},
         seeded("ItemsPerMessage", "SetVariables", "2"), "OccurrenceConstraintViolation"),  # B05.FR.11
        ("SetVariables", {"setVariableData": [{**OFFLINE, "attributeValue": "1"}] * 2},
         seeded("BytesPerMessage", "SetVariables", "150"), "FormatViolation"),
        ("GetReport", {"requestId": 1, "componentVariable": [{"component": {"name": "EVSE"}}] * 3},
         seeded("ItemsPerMessage", "GetReport", "2"), "OccurrenceConstraintViolation"),  # B08.FR.17
    ],
)  # fmt: skip
async def test_a_request_over_what_the_station_announced_is_refused_and_changes_nothing(
    wired: Callable[..., Wire], action: str, payload: dict[str, Any], seed: dict[str, Any], code: str
) -> None:
    wire = await booted(wired, seed)
    answer = await wire.inject(frame(action, payload))
    assert answer[:3] == [4, "c1", code]
    assert wire.station.config.get("OCPPCommCtrlr.OfflineThreshold") == "60"
    assert wire.calls("NotifyReport") == []


def _name(data: dict[str, Any]) -> str:
    component, variable = data["component"], data["variable"]
    name = component["name"]
    if "evse" in component:
        evse = component["evse"]
        name += f"@{evse['id']}" + (f":{evse['connectorId']}" if "connectorId" in evse else "")
    return f"{name}.{variable['name']}" + (f"[{variable['instance']}]" if "instance" in variable else "")
