"""The OCPP 2.0.1 reference data the next features are built from: its shape, and its values against the schemas.

- src/chargebox/protocol/v201/device_model.toml: the device-model components and variables of the Core and
  Advanced Security profiles (Part 5 section 5, Part 2 "Referenced Components and Variables", Part 4 section 8);
- docs/reference/ocpp201-test-cases.md: their charging-station test cases (Part 5 sections 4.2, 4.3; Part 6).
"""

from __future__ import annotations

import importlib.resources
import re
import tomllib
from typing import Any

import pytest

from chargebox.protocol.v201 import messages
from chargebox.protocol.v201.messages import DataEnumType, MutabilityEnumType
from tests.protocol.schema_check import REPO_ROOT

DEVICE_MODEL: dict[str, Any] = tomllib.loads(
    (importlib.resources.files("chargebox.protocol.v201") / "device_model.toml").read_text(encoding="utf-8")
)
COMPONENTS = {component["name"]: component for component in DEVICE_MODEL["component"]}
VARIABLES: list[dict[str, Any]] = DEVICE_MODEL["variable"]
VARIABLE_KEYS = {
    "component", "name", "instance", "required", "data_type", "mutability", "unit", "values", "values_from",
    "values_note", "min_limit", "max_limit", "max_limit_note", "default", "per_evse", "also_spelt", "source", "note",
}  # fmt: skip
LISTS = {DataEnumType.OPTION_LIST, DataEnumType.SEQUENCE_LIST, DataEnumType.MEMBER_LIST}

TEST_CASES_MD = REPO_ROOT / "docs" / "reference" / "ocpp201-test-cases.md"
COLUMNS = ["id", "profile", "cs", "condition", "title", "use_cases", "requirements"]


def label(variable: dict[str, Any]) -> str:
    instance = f"[{variable['instance']}]" if "instance" in variable else ""
    return f"{variable['component']}.{variable['name']}{instance}"


# --- device_model.toml -----------------------------------------------------------------------------------


def test_part5_5_the_mandatory_controllers_of_core_and_advanced_security() -> None:
    by_profile = {
        profile: {name for name, component in COMPONENTS.items() if profile in component["profiles"]}
        for profile in ("Core", "Advanced Security")
    }
    controllers = {name for name in by_profile["Core"] if name.endswith("Ctrlr")}
    assert controllers == {
        "OCPPCommCtrlr", "TxCtrlr", "DeviceDataCtrlr", "ClockCtrlr", "SecurityCtrlr", "SampledDataCtrlr",
        "AlignedDataCtrlr", "AuthCtrlr",
    }  # fmt: skip
    assert by_profile["Advanced Security"] == {"SecurityCtrlr"}
    assert {component["tier"] for component in COMPONENTS.values()} == {"station", "evse", "connector"}


@pytest.mark.parametrize("variable", VARIABLES, ids=label)
def test_every_variable_is_spelt_in_the_2_0_1_enums(variable: dict[str, Any]) -> None:
    assert set(variable) <= VARIABLE_KEYS
    assert variable["component"] in COMPONENTS
    assert isinstance(variable["required"], bool)
    DataEnumType(variable["data_type"])
    assert variable["mutability"] and all(MutabilityEnumType(m) for m in variable["mutability"])
    if "values_from" in variable:
        enum_type = getattr(messages, variable["values_from"])
        assert issubclass(enum_type, messages.enum.StrEnum)
    if DataEnumType(variable["data_type"]) in LISTS:  # TC_B_53_CS: a list variable reports its valuesList
        assert {"values", "values_from", "values_note"} & variable.keys(), label(variable)
    assert re.fullmatch(
        r"(Part [24] [\d.]+(, [\d.]+)*|errata [\d.]+)(; errata [\d.]+( \(TC_B_53_CS\))?)?", variable["source"]
    )


def test_a_variable_is_defined_once() -> None:
    keys = [(v["component"], v["name"], v.get("instance")) for v in VARIABLES]
    assert len(keys) == len(set(keys))


def test_write_only_variables_are_the_basic_auth_password() -> None:
    # B07: a WriteOnly variable is reported without its value (TC_B_53_CS).
    assert [label(v) for v in VARIABLES if "WriteOnly" in v["mutability"]] == ["SecurityCtrlr.BasicAuthPassword"]


def test_availability_state_takes_the_connector_status_values() -> None:
    assert [status.value for status in messages.ConnectorStatusEnumType] == [
        "Available", "Occupied", "Reserved", "Unavailable", "Faulted",
    ]  # fmt: skip


def test_required_variables_of_the_transport_are_part_4_s() -> None:
    part4 = {v["name"] for v in VARIABLES if v["source"].startswith("Part 4")}
    assert part4 == {
        "RetryBackOffRepeatTimes",
        "RetryBackOffRandomRange",
        "RetryBackOffWaitMinimum",
        "WebSocketPingInterval",
    }
    assert all(v["required"] for v in VARIABLES if v["name"] in part4)


# --- ocpp201-test-cases.md -------------------------------------------------------------------------------


def read_test_cases() -> list[dict[str, str]]:
    lines = TEST_CASES_MD.read_text(encoding="utf-8").splitlines()
    header = lines.index("| " + " | ".join(COLUMNS) + " |")
    rows = []
    for line in lines[header + 2 :]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == len(COLUMNS), line
        rows.append(dict(zip(COLUMNS, cells, strict=True)))
    return rows


ROWS = read_test_cases()


def test_the_test_case_list_is_well_formed_data() -> None:
    assert len({row["id"] for row in ROWS}) == len(ROWS) == 230
    for row in ROWS:
        assert re.fullmatch(r"TC_[A-P]_\d\d_CS", row["id"]), row
        assert row["profile"] in ("Core", "Advanced Security"), row
        assert (row["cs"], bool(row["condition"])) in (("M", False), ("C", True)), row
        assert row["title"] and row["use_cases"] and row["requirements"], row


def test_the_requirement_ids_are_normalised() -> None:
    ids = [req for row in ROWS for req in row["requirements"].split(", ")]
    odd = {req for req in ids if not re.fullmatch(r"[A-P]\d\d\.FR\.\d+", req)}
    assert odd == {"N/a", "Chapter Referenced Components and Variables", "Described at section 5.3"}


def test_advanced_security_is_the_client_certificate_cases() -> None:
    assert [row["id"] for row in ROWS if row["profile"] == "Advanced Security"] == [
        "TC_A_07_CS", "TC_A_11_CS", "TC_A_14_CS", "TC_A_15_CS", "TC_A_23_CS", "TC_A_21_CS", "TC_M_23_CS",
    ]  # fmt: skip
