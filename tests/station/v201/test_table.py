"""2.0.1's feature table (station/v201/table.py): each declaration is what its feature does, and each device-model
variable is declared once, by its owner, as the catalogue (protocol/v201/device_model.toml) allows."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chargebox.clock import VirtualClock
from chargebox.protocol.v201.messages import CSMS_INITIATED
from chargebox.station.v201.offer import CORE
from chargebox.station.v201.table import FEATURES, KERNEL_KEYS, KERNEL_VARIABLES, VERSION
from chargebox.station.v201.variables import Variable, catalogue, declare
from tests.wire import make_station


def test_a_2_0_1_station_builds_every_feature_of_its_table_in_order(clock: VirtualClock) -> None:
    station = make_station(clock, ocpp="2.0.1")
    assert [f.name for f, _service in station.features.built] == [f.name for f in FEATURES]
    assert station.kernel.version is VERSION and station.rpc.dialect is VERSION.dialect


def test_each_feature_declares_exactly_the_actions_its_service_answers(clock: VirtualClock) -> None:
    station = make_station(clock, ocpp="2.0.1")
    for declared, service in station.features.built:
        assert set(service.handlers()) == declared.actions, declared.name
        assert declared.actions <= CSMS_INITIATED, declared.name


def test_a_central_system_action_is_declared_once_and_the_others_are_answered_NotSupported(clock: VirtualClock) -> None:
    declared = [action for f in FEATURES for action in f.actions]
    assert len(declared) == len(set(declared))
    station = make_station(clock, ocpp="2.0.1")
    assert set(station.rpc.handlers) == set(declared)


def test_a_feature_needs_only_what_the_table_builds_before_it() -> None:
    for position, declared in enumerate(FEATURES):
        earlier = {f.service for f in FEATURES[:position]}
        assert set(declared.needs) <= earlier, declared.name
        assert declared.profile in CORE  # the blocks every 2.0.1 station offers


def test_every_variable_is_declared_once_by_a_feature_or_by_the_kernel() -> None:
    owners: dict[str, list[str]] = {}
    for declared in FEATURES:
        for variable in declared.variables:
            assert isinstance(variable, Variable), declared.name
            owners.setdefault(variable.key, []).append(declared.name)
    for variable in KERNEL_VARIABLES:
        owners.setdefault(variable.key, []).append("kernel")
    assert {key: who for key, who in owners.items() if len(who) > 1} == {}


def test_every_declaration_is_the_catalogue_s_variable_with_choices_it_allows() -> None:
    entries = catalogue()
    for variable in [*KERNEL_VARIABLES, *(v for f in FEATURES for v in f.variables)]:
        entry = entries[(variable.component, variable.name, variable.instance)]
        assert (variable.data_type, variable.unit, variable.tier) == (entry.data_type, entry.unit, entry.tier)
        assert variable.mutability in entry.mutabilities, variable.key
        if entry.values is not None and variable.values is not None:
            assert set(variable.values) <= set(entry.values), variable.key


def test_the_kernel_reads_declared_variables_by_their_names() -> None:
    names = {variable.key for variable in KERNEL_VARIABLES}
    assert {getattr(KERNEL_KEYS, field) for field in KERNEL_KEYS.__dataclass_fields__} == names
    assert KERNEL_KEYS.message_attempts == "OCPPCommCtrlr.MessageAttempts[TransactionEvent]"
    assert KERNEL_KEYS.authorization_key == "SecurityCtrlr.BasicAuthPassword"


@pytest.mark.parametrize(
    ("args", "choices", "problem"),
    [
        (("OCPPCommCtrlr", "Nope"), {}, KeyError),
        (("TxCtrlr", "TxStartPoint"), {}, ValueError),  # ReadOnly or ReadWrite: the station must choose
        (("TxCtrlr", "TxStartPoint"), {"mutability": "WriteOnly"}, ValueError),
        (("ClockCtrlr", "TimeSource"), {"values": ("Heartbeat", "Sundial")}, ValueError),
        (("OCPPCommCtrlr", "HeartbeatInterval"), {"min_limit": 0}, ValueError),  # the catalogue says at least 1
        (("OCPPCommCtrlr", "NetworkConfigurationPriority"), {}, ValueError),  # a list without its valuesList
    ],
)
def test_declare_refuses_what_the_catalogue_does_not_allow(
    args: tuple[str, str], choices: dict[str, object], problem: type[Exception]
) -> None:
    with pytest.raises(problem):
        declare(*args, **choices)  # type: ignore[arg-type]


def test_declare_takes_the_catalogue_s_facts_and_the_owner_s_choices() -> None:
    variable = declare("TxCtrlr", "TxStartPoint", mutability="ReadWrite", default="EVConnected",  # type: ignore[arg-type]
                       values=("EVConnected", "Authorized"))  # fmt: skip
    assert (variable.data_type, variable.mutability, variable.values, variable.default) == (
        "MemberList",
        "ReadWrite",
        ("EVConnected", "Authorized"),
        "EVConnected",
    )
    assert variable.key == "TxCtrlr.TxStartPoint"
    assert declare("OCPPCommCtrlr", "MessageTimeout", "Default").key == "OCPPCommCtrlr.MessageTimeout[Default]"


def test_a_1_6_station_never_imports_2_0_1() -> None:
    """2.0.1's Structs and features cost ~70 ms of import a 1.6 station never uses (a fresh interpreter)."""
    probe = (
        "import asyncio, sys\n"
        "from chargebox.sim.simulator import simulated_station\n"
        "from chargebox.station.station import StationSettings\n"
        "async def main():\n"
        "    simulated_station(StationSettings(charge_point_id='CP', csms_url='ws://127.0.0.1:1')).store.close()\n"
        "asyncio.run(main())\n"
        "print(sorted(name for name in sys.modules if 'v201' in name))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
