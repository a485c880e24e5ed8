"""The device model (station/v201/device_model.py): addressing, values and their checks, persistence, seeds, reports."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from chargebox.errors import ConfigError
from chargebox.protocol.v201 import messages as m
from chargebox.station.v201.device_model import DeviceModel, normalise
from chargebox.station.v201.variables import Attribute, Mutability, Variable, declare
from chargebox.store import Store

OFFLINE = declare("OCPPCommCtrlr", "OfflineThreshold", default="60", min_limit=0, max_limit=3600)
PASSWORD = declare("SecurityCtrlr", "BasicAuthPassword", max_limit=40)
PRIORITY = declare("OCPPCommCtrlr", "NetworkConfigurationPriority", default="0", values=("0", "1", "2"),
                   reboot_required=True)  # fmt: skip
TIME_SOURCE = declare("ClockCtrlr", "TimeSource", default="Heartbeat", values=("Heartbeat", "NTP"))
EVSE_STATE = declare("EVSE", "AvailabilityState")
CONNECTOR_TYPE = declare("Connector", "ConnectorType", default="sType2")
POWER = declare("EVSE", "Power", max_limit=22080.0)
TARGETED = Variable(component="Vendor", name="Setpoint", data_type=m.DataEnumType.DECIMAL,
                    mutability=Mutability.READ_WRITE, attributes=(Attribute.ACTUAL, Attribute.TARGET))  # fmt: skip
NEXT_TRANSITION = declare("ClockCtrlr", "NextTimeOffsetTransitionDateTime")
VARIABLES = (OFFLINE, PASSWORD, PRIORITY, TIME_SOURCE, EVSE_STATE, CONNECTOR_TYPE, POWER, TARGETED)


def model(store: Store | None = None, evses: tuple[int, ...] = (1, 2)) -> DeviceModel:
    return DeviceModel(store=store or Store.open(None), variables=VARIABLES, evses=evses)


def component(name: str, evse: int | None = None, connector: int | None = None, **more: object) -> m.ComponentType:
    at = (
        msgspec.UNSET
        if evse is None
        else m.EVSEType(id=evse, connector_id=msgspec.UNSET if connector is None else connector)
    )
    return m.ComponentType(name=name, evse=at, **more)  # type: ignore[arg-type]


def get(
    dm: DeviceModel, name: str, variable: str, *, attribute: Attribute | None = None, **where: object
) -> m.GetVariableResultType:
    return dm.read(m.GetVariableDataType(component=component(name, **where), variable=m.VariableType(name=variable),
                                         attribute_type=attribute or msgspec.UNSET))  # fmt: skip


def set_(dm: DeviceModel, name: str, variable: str, value: str, **where: int) -> m.SetVariableResultType:
    data = m.SetVariableDataType(
        component=component(name, **where), variable=m.VariableType(name=variable), attribute_value=value
    )
    result, change = dm.change(data)
    dm.apply([change] if change else [])
    return result


def entry(component: str, variable: str, value: object = None, **more: object) -> dict[str, object]:
    """A seed entry; ``evse`` goes to the component."""
    named: dict[str, object] = {"name": component}
    if "evse" in more:
        named["evse"] = more.pop("evse")
    out: dict[str, object] = {"component": named, "variable": {"name": variable}, **more}
    if value is not None:
        out["value"] = value
    return out


def test_each_tier_is_instantiated_where_it_sits() -> None:
    names = [slot.name for slot in model(evses=(1, 1)).slots()]
    assert names[:5] == [
        "OCPPCommCtrlr.OfflineThreshold", "SecurityCtrlr.BasicAuthPassword",
        "OCPPCommCtrlr.NetworkConfigurationPriority", "ClockCtrlr.TimeSource", "Vendor.Setpoint",
    ]  # fmt: skip
    assert names[5:] == ["EVSE@1.AvailabilityState", "EVSE@1.Power", "Connector@1:1.ConnectorType",
                         "EVSE@2.AvailabilityState", "EVSE@2.Power", "Connector@2:1.ConnectorType"]  # fmt: skip


def test_B06_FR_10_names_match_without_regard_to_case_and_the_answer_repeats_the_request() -> None:
    answer = get(model(), "ocppcommctrlr", "offlinethreshold")
    assert (answer.attribute_status, answer.attribute_value) == ("Accepted", "60")
    assert answer.component.name == "ocppcommctrlr"  # B06.FR.02: as asked


def test_B06_FR_06_to_08_unknown_component_variable_and_attribute_type() -> None:
    dm = model()
    assert get(dm, "Nope", "OfflineThreshold").attribute_status == "UnknownComponent"
    assert get(dm, "OCPPCommCtrlr", "Nope").attribute_status == "UnknownVariable"
    answer = get(dm, "OCPPCommCtrlr", "OfflineThreshold", attribute=Attribute.MAX_SET)
    assert (answer.attribute_status, answer.attribute_type, answer.attribute_value) == (
        "NotSupportedAttributeType",
        "MaxSet",
        msgspec.UNSET,
    )


def test_an_evse_component_is_addressed_by_its_evse_and_a_connector_by_its_connector_too() -> None:
    dm = model()
    assert get(dm, "EVSE", "Power", evse=2).attribute_status == "Accepted"
    assert get(dm, "EVSE", "Power").attribute_status == "UnknownComponent"  # no EVSE without an id
    assert get(dm, "EVSE", "Power", evse=3).attribute_status == "UnknownComponent"
    assert get(dm, "Connector", "ConnectorType", evse=1, connector=1).attribute_value == "sType2"
    assert get(dm, "Connector", "ConnectorType", evse=1, connector=2).attribute_status == "UnknownComponent"


def test_B06_FR_15_an_empty_instance_names_none() -> None:
    dm = model()
    data = m.GetVariableDataType(component=m.ComponentType(name="OCPPCommCtrlr", instance=""),
                                 variable=m.VariableType(name="OfflineThreshold", instance=""))  # fmt: skip
    assert dm.read(data).attribute_status == "Accepted"


def test_B06_FR_09_a_write_only_variable_is_not_read_and_B06_FR_13_no_value_reads_empty() -> None:
    dm = model()
    assert get(dm, "SecurityCtrlr", "BasicAuthPassword").attribute_status == "Rejected"
    assert get(dm, "EVSE", "AvailabilityState", evse=1).attribute_value == ""
    assert get(dm, "Vendor", "Setpoint", attribute=Attribute.TARGET).attribute_value == ""


def test_B05_FR_10_a_change_is_kept_in_the_store_and_read_back_by_a_new_model(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    assert set_(model(store), "OCPPCommCtrlr", "OfflineThreshold", "300").attribute_status == "Accepted"
    store.close()
    store = Store.open(tmp_path)
    assert model(store).get("OCPPCommCtrlr.OfflineThreshold") == "300"
    store.close()


@pytest.mark.parametrize("value", ["3601", "-1", "1.5", "", "abc", "0300", "+3", "99999999999"])
def test_B05_FR_07_FR_08_an_integer_out_of_its_limits_or_badly_formed_is_rejected_as_InvalidValue(value: str) -> None:
    dm = model()
    result = set_(dm, "OCPPCommCtrlr", "OfflineThreshold", value)
    assert (result.attribute_status, result.attribute_status_info) == (
        "Rejected",
        m.StatusInfoType(reason_code="InvalidValue"),
    )
    assert dm.get("OCPPCommCtrlr.OfflineThreshold") == "60"


def test_B05_FR_09_a_read_only_variable_is_rejected() -> None:
    dm = model()
    assert set_(dm, "EVSE", "Power", "1000", evse=1).attribute_status == "Rejected"


def test_B05_FR_06_an_attribute_type_the_variable_has_is_set_on_its_own() -> None:
    dm = model()
    result, change = dm.change(m.SetVariableDataType(component=m.ComponentType(name="Vendor"), variable=m.VariableType(
        name="Setpoint"), attribute_value="2.5", attribute_type=Attribute.TARGET))  # fmt: skip
    assert (result.attribute_status, result.attribute_type) == ("Accepted", "Target")
    dm.apply([change] if change else [])
    assert get(dm, "Vendor", "Setpoint", attribute=Attribute.TARGET).attribute_value == "2.5"
    assert get(dm, "Vendor", "Setpoint").attribute_value == ""


def test_a_reboot_required_change_is_kept_but_in_force_only_after_the_reboot() -> None:
    dm = model()
    assert set_(dm, "OCPPCommCtrlr", "NetworkConfigurationPriority", "1, 0").attribute_status == "RebootRequired"
    assert (dm.get(PRIORITY.key), dm.configured(PRIORITY.key)) == ("0", "1,0")
    dm.reboot()
    assert dm.get(PRIORITY.key) == "1,0"


@pytest.mark.parametrize(
    ("variable", "value", "kept"),
    [
        (TIME_SOURCE, "NTP,Heartbeat", "NTP,Heartbeat"),  # a SequenceList keeps its order
        (TIME_SOURCE, "GPS", None),  # not in valuesList
        (TIME_SOURCE, "NTP,NTP", None),  # twice
        (PRIORITY, "0", "0"),
        (POWER, "22080.0", "22080.0"),
        (POWER, "1.1234567", None),  # six decimals at most towards the station
        (POWER, "22081", None),
        (PASSWORD, "x" * 41, None),  # a string's maxLimit is its length
        (declare("SecurityCtrlr", "AllowCSMSTLSWildcards"), "True", None),  # "true" and "false" only
        (
            declare("ClockCtrlr", "NextTimeOffsetTransitionDateTime"),
            "2030-01-01T00:00:00.123Z",
            "2030-01-01T00:00:00.123Z",
        ),
        (declare("ClockCtrlr", "NextTimeOffsetTransitionDateTime"), "2030-01-01T00:00:00", None),  # no time zone
        (declare("ClockCtrlr", "NextTimeOffsetTransitionDateTime"), "2030-01-01T00:00:00.1234Z", None),
    ],
)
def test_normalise_holds_each_data_type_to_its_characteristics(
    variable: Variable, value: str, kept: str | None
) -> None:
    assert normalise(variable, value) == kept


def test_a_rule_of_the_owner_rejects_and_a_listener_hears_only_after_apply_and_notify() -> None:
    dm = model()
    heard: list[str] = []
    dm.add_rule(OFFLINE.key, lambda value: int(value) % 10 == 0)
    dm.subscribe(OFFLINE.key, heard.append)
    assert set_(dm, "OCPPCommCtrlr", "OfflineThreshold", "15").attribute_status == "Rejected"
    data = m.SetVariableDataType(
        component=component("OCPPCommCtrlr"), variable=m.VariableType(name="OfflineThreshold"), attribute_value="20"
    )
    result, change = dm.change(data)
    assert result.attribute_status == "Accepted" and change is not None
    told = dm.apply([change])
    assert heard == []  # the answer goes out first (T-23)
    for name in told:
        dm.notify(name)
    assert heard == ["20"]


def test_a_provided_value_is_read_when_asked_and_only_a_read_only_variable_is_provided() -> None:
    dm = model()
    state = ["Available"]
    dm.provide("EVSE@1.AvailabilityState", lambda: state[0])
    state[0] = "Occupied"
    assert get(dm, "EVSE", "AvailabilityState", evse=1).attribute_value == "Occupied"
    with pytest.raises(ValueError, match="only a read-only value"):
        dm.provide(OFFLINE.key, lambda: "1")


def test_B07_FR_11_a_report_holds_every_attribute_type_and_no_write_only_value() -> None:
    dm = model()
    set_(dm, "SecurityCtrlr", "BasicAuthPassword", "0123456789abcdef")
    by_name = {slot.name: dm.report_data(slot) for slot in dm.slots()}
    assert [a.type for a in by_name["Vendor.Setpoint"].variable_attribute] == ["Actual", "Target"]
    (secret,) = by_name["SecurityCtrlr.BasicAuthPassword"].variable_attribute
    assert (secret.value, secret.mutability) == (msgspec.UNSET, "WriteOnly")
    (state,) = by_name["EVSE@2.AvailabilityState"].variable_attribute
    assert (state.value, state.mutability) == ("", "ReadOnly")  # omitted only if write-only
    assert by_name[
        "OCPPCommCtrlr.NetworkConfigurationPriority"
    ].variable_characteristics == m.VariableCharacteristicsType(
        data_type=m.DataEnumType.SEQUENCE_LIST, values_list="0,1,2", supports_monitoring=False
    )
    assert by_name["EVSE@1.Power"].variable_characteristics.max_limit == 22080.0


def test_a_seed_is_written_at_the_first_start_only_and_may_set_a_read_only_value(tmp_path: Path) -> None:
    entries = [
        entry("OCPPCommCtrlr", "OfflineThreshold", "120"),
        entry("Connector", "ConnectorType", "cCCS2", evse={"id": 2, "connectorId": 1}),
    ]
    store = Store.open(tmp_path)
    dm = model(store)
    dm.seed(entries, "seed")
    assert (dm.get(OFFLINE.key), dm.get("Connector@2:1.ConnectorType")) == ("120", "cCCS2")
    set_(dm, "OCPPCommCtrlr", "OfflineThreshold", "300")  # the central system's change
    store.close()
    store = Store.open(tmp_path)
    again = model(store)
    again.seed(entries, "seed")
    assert again.get(OFFLINE.key) == "300"  # survives a restart with the same seed
    store.close()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (entry("Nope", "X", "1"), "seed: entry 1: the station has no component Nope"),
        (entry("EVSE", "Power", "1", evse={"id": 9}), "no component EVSE@9"),
        (entry("OCPPCommCtrlr", "X", "1"), "no variable OCPPCommCtrlr.X"),
        (entry("OCPPCommCtrlr", "OfflineThreshold", "-5"), "invalid value '-5' for a integer (0..3600)"),
        (entry("SecurityCtrlr", "BasicAuthPassword", "x" * 50), "invalid value for a string"),
        (entry("OCPPCommCtrlr", "OfflineThreshold", 5), "Expected `str | null`"),
        (entry("OCPPCommCtrlr", "OfflineThreshold"), "needs a value"),
        (entry("OCPPCommCtrlr", "OfflineThreshold", "1", attributeType="Target"), "has no Target attribute"),
        (entry("OCPPCommCtrlr", "OfflineThreshold", "1", extra=1), "unknown field `extra`"),
    ],
)  # fmt: skip
def test_a_seed_the_station_cannot_take_is_one_config_error_naming_it(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        model().seed([entry], "seed")
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert "x" * 50 not in str(raised.value)  # a secret is never echoed


def test_entries_are_a_seed_as_they_are() -> None:
    dm = model()
    set_(dm, "OCPPCommCtrlr", "OfflineThreshold", "300")
    entries = dm.entries()
    characteristics = {"dataType": "string", "maxLimit": 40.0, "supportsMonitoring": False}
    assert {**entry("SecurityCtrlr", "BasicAuthPassword"), "attributeType": "Actual", "mutability": "WriteOnly",
            "characteristics": characteristics} in entries  # fmt: skip
    other = model()
    other.seed(entries, "entries")
    assert [other.value(slot) for slot in other.slots()] == [dm.value(slot) for slot in dm.slots()]
