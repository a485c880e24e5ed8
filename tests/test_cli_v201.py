"""The command line with OCPP 2.0.1: ``simulate --ocpp 2.0.1``, ``device-model``, a 2.0.1 ``--ocpp-config``, and the
built-in central system serving a 2.0.1 station (its control API included); one line and exit 2 for every mistake."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chargebox.csms.control import make_app
from chargebox.csms.server import CentralSystem, CsmsPolicy
from chargebox.protocol.v201 import messages as m
from chargebox.web import serve
from tests.test_cli import CLI, CliMain, assert_one_line_error, free_port

OFFLINE = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}}


@pytest.fixture
async def csms() -> AsyncIterator[tuple[CentralSystem, int]]:
    """The built-in central system, serving both versions, on a free port."""
    system = CentralSystem(CsmsPolicy(heartbeat_interval=600))
    port = await system.start("127.0.0.1", 0)
    yield system, port
    await system.stop()


async def next_call(system: CentralSystem, action: str, timeout: float = 10) -> Any:
    async def wait() -> Any:
        while (event := await system.events.get()).action != action:
            pass
        return event.request

    return await asyncio.wait_for(wait(), timeout)


async def spawn(port: int, data_dir: Path, *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *CLI, "simulate", "--ocpp", "2.0.1", "--csms", f"ws://127.0.0.1:{port}", "--id", "SIM-2",
        "--data-dir", str(data_dir), "--connectors", "2", *extra,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def get_offline_threshold(system: CentralSystem) -> str:
    data = m.GetVariableDataType(component=m.ComponentType(name="OCPPCommCtrlr"),
                                 variable=m.VariableType(name="OfflineThreshold"))  # fmt: skip
    result = await system.call("SIM-2", m.GetVariablesRequest(get_variable_data=[data]))
    return str(result.response.get_variable_result[0].attribute_value)


async def test_simulate_ocpp_2_0_1_boots_on_the_built_in_central_system_and_keeps_a_change_over_a_sigkill(
    csms: tuple[CentralSystem, int], tmp_path: Path
) -> None:
    system, port = csms
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps([{**OFFLINE, "value": "90"}]))
    proc = await spawn(port, tmp_path / "data", "--ocpp-config", str(seed))
    try:
        boot = await next_call(system, "BootNotification")
        assert isinstance(boot, m.BootNotificationRequest) and boot.reason == "PowerUp"
        statuses = [await next_call(system, "StatusNotification") for _ in range(2)]
        assert [(s.evse_id, s.connector_status) for s in statuses] == [(1, "Available"), (2, "Available")]
        assert await get_offline_threshold(system) == "90"  # seeded at the first start
        data = m.SetVariableDataType(
            component=m.ComponentType(name="OCPPCommCtrlr"),
            variable=m.VariableType(name="OfflineThreshold"),
            attribute_value="45",
        )
        result = await system.call("SIM-2", m.SetVariablesRequest(set_variable_data=[data]))
        assert result.response.set_variable_result[0].attribute_status == "Accepted"
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    proc = await spawn(port, tmp_path / "data", "--ocpp-config", str(seed))
    try:
        await next_call(system, "BootNotification")
        assert await get_offline_threshold(system) == "45"  # B05: kept; the seed applies at the first start only
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_device_model_prints_the_whole_model_and_takes_it_back_as_it_is(cli_main: CliMain, tmp_path: Path) -> None:
    code, out, err = cli_main("device-model", "--ocpp", "2.0.1", "--connectors", "2")
    assert code == 0, err
    entries = json.loads(out)
    names = {(e["component"]["name"], e["component"].get("evse", {}).get("id"), e["variable"]["name"]) for e in entries}
    assert {("EVSE", 2, "AvailabilityState"), ("OCPPCommCtrlr", None, "NetworkConfigurationPriority")} <= names
    priority = next(e for e in entries if e["variable"]["name"] == "NetworkConfigurationPriority")
    assert (priority["mutability"], priority["characteristics"]["valuesList"]) == ("ReadWrite", "0,1,2")
    password = next(e for e in entries if e["variable"]["name"] == "BasicAuthPassword")
    assert "value" not in password  # write-only
    saved = tmp_path / "model.json"
    saved.write_text(out)
    code, again, err = cli_main("device-model", "--ocpp", "2.0.1", "--connectors", "2", "--ocpp-config", str(saved))
    assert code == 0, err
    assert [e for e in json.loads(again) if e["variable"]["name"] != "DateTime"] == [
        e for e in entries if e["variable"]["name"] != "DateTime"
    ]


def test_a_toml_ocpp_config_holds_its_entries_as_entries_tables(cli_main: CliMain, tmp_path: Path) -> None:
    seed = tmp_path / "seed.toml"
    seed.write_text('[[entries]]\ncomponent = { name = "OCPPCommCtrlr" }\nvariable = { name = "OfflineThreshold" }\n'
                    'value = "75"\n')  # fmt: skip
    code, out, err = cli_main("device-model", "--ocpp", "2.0.1", "--ocpp-config", str(seed))
    assert code == 0, err
    assert next(e for e in json.loads(out) if e["variable"]["name"] == "OfflineThreshold")["value"] == "75"


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("seed.json", '[{"component": {"name": "Nope"}, "variable": {"name": "X"}, "value": "1"}]',
         "entry 1: the station has no component Nope"),
        ("seed.json", '[{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "Nope"}, "value": "1"}]',
         "the station has no variable OCPPCommCtrlr.Nope"),
        ("seed.json", '[{"component": {"name": "EVSE", "evse": {"id": 3}}, "variable": {"name": "Power"}, '
                      '"value": "1"}]', "no component EVSE@3"),
        ("seed.json", '[{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}, '
                      '"value": "soon"}]', "OCPPCommCtrlr.OfflineThreshold: invalid value 'soon'"),
        ("seed.json", '{"OfflineThreshold": "60"}', "must hold a list of objects"),
        ("seed.toml", 'OfflineThreshold = "60"', "must hold [[entries]] tables"),
    ],
)  # fmt: skip
def test_a_2_0_1_ocpp_config_the_station_cannot_take_is_one_line_naming_it(
    cli_main: CliMain, tmp_path: Path, name: str, content: str, fragment: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    for args in (["device-model", "--ocpp", "2.0.1"], ["simulate", "--ocpp", "2.0.1", "--csms", "ws://127.0.0.1:1",
                                                        "--id", "X"]):  # fmt: skip
        code, _out, err = cli_main(*args, "--ocpp-config", str(path))
        assert_one_line_error(code, err, fragment)
        assert str(path) in err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["simulate", "--ocpp", "3.0", "--csms", "ws://h", "--id", "X"], "invalid choice: '3.0'"),
        (["device-model", "--ocpp", "1.6"], "invalid choice: '1.6'"),
        (["device-model"], "the following arguments are required: --ocpp"),
        (["simulate", "--ocpp", "2.0.1", "--csms", "ws://127.0.0.1:1", "--id", "X", "--signed-firmware-only"],
         "a 2.0.1 station's UpdateFirmware takes only signed images (L01)"),
        (["simulate", "--ocpp", "2.0.1", "--csms", "ws://127.0.0.1:1", "--id", "X", "--install-root", "/nonexistent"],
         "--install-root"),
    ],
)  # fmt: skip
def test_bad_2_0_1_flags_print_one_line_and_exit_2(cli_main: CliMain, args: list[str], fragment: str) -> None:
    code, _out, err = cli_main(*args)
    assert_one_line_error(code, err, fragment)


async def test_the_control_api_sends_a_2_0_1_central_system_message_validated_by_its_dialect(
    csms: tuple[CentralSystem, int], tmp_path: Path
) -> None:
    system, port = csms
    control = free_port()
    runner, control = await serve(make_app(system), "127.0.0.1", control, "--control")
    proc = await spawn(port, tmp_path)
    try:
        await next_call(system, "BootNotification")
        url = f"http://127.0.0.1:{control}/api/stations/SIM-2/call"
        async with aiohttp.ClientSession() as http:
            body = {"action": "GetVariables", "payload": {"getVariableData": [OFFLINE]}}
            async with http.post(url, json=body) as response:
                answer = await response.json()
            assert response.status == 200 and answer["result"] == "CALLRESULT"
            assert answer["payload"]["getVariableResult"][0]["attributeValue"] == "60"
            async with http.post(url, json={"action": "GetConfiguration", "payload": {}}) as response:
                assert response.status == 400  # 1.6's, not 2.0.1's
                assert "unknown action 'GetConfiguration' in OCPP 2.0.1" in (await response.json())["error"]
            async with http.post(url, json={"action": "GetVariables", "payload": {"getVariableData": []}}) as response:
                assert response.status == 400
            async with http.get(f"http://127.0.0.1:{control}/api/stations") as response:
                (station,) = (await response.json())["stations"]
            assert station["ocpp"] == "2.0.1"
    finally:
        proc.kill()
        await proc.wait()
        await runner.cleanup()


async def test_simulate_ocpp_2_0_1_control_drives_an_evse_the_central_system_sees_as_2_0_1(
    csms: tuple[CentralSystem, int], tmp_path: Path
) -> None:
    """``simulate --ocpp 2.0.1 --control``: the control API and the dashboard of a 2.0.1 station, in a real process."""
    system, port = csms
    control = free_port()
    proc = await spawn(port, tmp_path, "--control", f"127.0.0.1:{control}", "--plugged", "2")
    try:
        await next_call(system, "BootNotification")
        base = f"http://127.0.0.1:{control}"
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/api/connectors/2/swipe", json={"idTag": "CARD-9"}) as response:
                answer = await response.json()
            assert response.status == 200 and answer["outcome"]["result"] == "started", answer
            started = await next_call(system, "TransactionEvent")
            assert (started.event_type, started.evse.id) == ("Started", 2)
            assert started.transaction_info.transaction_id == answer["outcome"]["reason"]
            async with http.get(f"{base}/api/state") as response:
                state = await response.json()
            async with http.get(f"{base}/") as response:
                assert response.status == 200 and "<title>chargebox</title>" in await response.text()
        assert (state["id"], state["ocpp"], state["registration"]) == ("SIM-2", "2.0.1", "Accepted")
        evses = [(c["id"], c["status"], c["plugged"]) for c in state["connectors"]]
        assert evses == [(1, "Available", False), (2, "Occupied", True)]
        assert state["connectors"][1]["transactionId"] == started.transaction_info.transaction_id
    finally:
        proc.kill()
        await proc.wait()
