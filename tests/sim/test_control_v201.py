"""The control API and ``GET /metrics`` of a simulated OCPP 2.0.1 station (``simulate --ocpp 2.0.1 --control``),
through a real aiohttp client on loopback, against the built-in central system speaking 2.0.1: what the API does
reaches the central system as 2.0.1's messages, and the state shows each EVSE as 1.6's shows each connector."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from chargebox.csms.server import CentralSystem, CsmsPolicy
from chargebox.protocol.v201 import messages as m
from chargebox.sim.control import start_control
from chargebox.sim.simulator import Simulator, simulated_station
from chargebox.station.station import StationSettings
from chargebox.transport import ReconnectPolicy
from tests.loopback import run_until_stopped, until
from tests.scrape import scrape
from tests.sim.test_control import Control

CALL_WAIT = 30.0


@pytest.fixture
async def control201() -> AsyncIterator[Control]:
    """A 2.0.1 station of two EVSEs on its control API, booted on the built-in central system."""
    csms = CentralSystem(CsmsPolicy(heartbeat_interval=600))
    port = await csms.start()
    reconnect = ReconnectPolicy(initial=0.05, maximum=0.2, jitter=0.1)
    settings = StationSettings(
        charge_point_id="CP-201", csms_url=f"ws://127.0.0.1:{port}", ocpp="2.0.1", connectors=2, reconnect=reconnect
    )
    sim = Simulator(simulated_station(settings))
    runner, control_port = await start_control(sim, "127.0.0.1", 0)
    async with run_until_stopped(sim), aiohttp.ClientSession() as http:
        api = Control(sim, runner, csms, http, f"http://127.0.0.1:{control_port}")
        await until(lambda: sim.station.registration == "Accepted" and sim.station.lane.backlog() == [])
        calls(api)  # the boot and its statuses, read off: each test reads what it caused
        yield api
    await runner.cleanup()
    await csms.stop()


def calls(api: Control) -> list[tuple[str, object]]:
    """Every CALL the central system received so far, read off its queue: (action, request)."""
    found = []
    while not api.csms.events.empty():
        event = api.csms.events.get_nowait()
        found.append((str(event.action), event.request))
    return found


async def next_call(api: Control, action: str) -> Any:
    """The next CALL of ``action`` the central system receives (those before it read off)."""

    async def wait() -> Any:
        while (event := await api.csms.events.get()).action != action:
            pass
        return event.request

    return await asyncio.wait_for(wait(), CALL_WAIT)  # a poll's bound: a reboot reconnects after its back-off


def transaction_events(api: Control) -> list[m.TransactionEventRequest]:
    return [r for _a, r in calls(api) if isinstance(r, m.TransactionEventRequest)]


async def test_the_state_shows_each_evse_and_the_version(control201: Control) -> None:
    state = await control201.state()
    assert (state["id"], state["ocpp"], state["connected"], state["registration"]) == ("CP-201", "2.0.1", True,
                                                                                        "Accepted")  # fmt: skip
    assert [(c["id"], c["status"], c["errorCode"], c["plugged"], c["transactionId"], c["meterWh"])
            for c in state["connectors"]] == [(1, "Available", "NoError", False, None, 0),
                                              (2, "Available", "NoError", False, None, 0)]  # fmt: skip
    assert "firmwareStatus" not in state  # 1.6's, until 2.0.1's firmware block reports one


async def test_E02_plug_then_swipe_starts_a_transaction_the_central_system_sees_and_the_ev_charges(
    control201: Control,
) -> None:
    status, answer = await control201.post("connectors/1/plug")
    assert status == 200
    assert answer["outcome"] == {"result": "waiting", "connectorId": 1, "reason": "Occupied"}
    assert answer["connectors"][0]["status"] == "Occupied" and answer["connectors"][0]["plugged"]
    status, answer = await control201.post("connectors/1/swipe", json={"idTag": "CARD-201"})
    assert status == 200 and answer["outcome"]["result"] == "started"
    transaction_id = answer["outcome"]["reason"]
    assert answer["connectors"][0]["transactionId"] == transaction_id
    assert answer["connectors"][0]["seqNo"] == 0  # its Started event (E01.FR.07)
    assert answer["connectors"][0]["offeredA"] == 32.0 and answer["connectors"][0]["powerW"] > 0
    await control201.sim.station.lane.drained()
    seen = [(action, request) for action, request in calls(control201) if action != "StatusNotification"]
    assert [action for action, _request in seen] == ["Authorize", "TransactionEvent"]
    authorize, started = seen[0][1], seen[1][1]
    assert isinstance(authorize, m.AuthorizeRequest) and authorize.id_token.id_token == "CARD-201"
    assert isinstance(started, m.TransactionEventRequest)
    assert (started.event_type, started.transaction_info.transaction_id) == ("Started", transaction_id)


async def test_an_id_token_of_36_characters_is_authorized_and_one_of_37_is_400(control201: Control) -> None:
    """IdTokenType.idToken holds 36 characters where 1.6's IdToken holds 20: 2.0.1's limit is its own."""
    id_token = "0123456789abcdef-0123-4567-89ab-cdef"  # a UUID's length, as 2.0.1 allows
    status, answer = await control201.post("swipe", json={"idTag": id_token})
    assert status == 200 and answer["outcome"]["result"] == "waiting"
    authorize = await next_call(control201, "Authorize")
    assert authorize.id_token.id_token == id_token
    for path in ("swipe", "connectors/2/swipe"):
        status, answer = await control201.post(path, json={"idTag": id_token + "0"})
        assert (status, answer["error"]) == (400, "idTag: an OCPP 2.0.1 idToken is 1 to 36 printable ASCII characters")
    await control201.sim.station.lane.drained()
    assert [action for action, _request in calls(control201) if action == "Authorize"] == []


async def test_a_swipe_may_name_its_token_type_and_one_2_0_1_lacks_is_400(control201: Control) -> None:
    """IdTokenType carries a type (a key code, an eMAID, ...): a swipe names it, ISO14443 (a card) by default."""
    status, _ = await control201.post("swipe", json={"idTag": "4711", "type": "KeyCode"})
    assert status == 200
    authorize = await next_call(control201, "Authorize")
    assert (authorize.id_token.id_token, authorize.id_token.type) == ("4711", m.IdTokenEnumType.KEY_CODE)
    for bad in ("Card", 7):
        status, answer = await control201.post("connectors/1/swipe", json={"idTag": "4712", "type": bad})
        assert status == 400 and answer["error"].startswith("type: ")
    await control201.sim.station.lane.drained()
    assert [a for a, _request in calls(control201) if a == "Authorize"] == []  # the refused ones reached nothing


async def test_emergency_stop_and_reboot_end_transactions_with_their_reasons(control201: Control) -> None:
    for evse in (1, 2):
        await control201.post(f"connectors/{evse}/plug")
        await control201.post(f"connectors/{evse}/swipe", json={"idTag": f"CARD-{evse}"})
    await control201.sim.station.lane.drained()
    transaction_events(control201)  # the Started ones, read off
    status, answer = await control201.post("emergency-stop")
    assert status == 200 and [c["transactionId"] for c in answer["connectors"]] == [None, None]
    await control201.sim.station.lane.drained()
    ended = [e for e in transaction_events(control201) if e.event_type == "Ended"]
    assert [e.transaction_info.stopped_reason for e in ended] == ["EmergencyStop", "EmergencyStop"]

    await control201.post("connectors/1/unplug")
    await control201.post("connectors/1/plug")
    await control201.post("connectors/1/swipe", json={"idTag": "CARD-3"})
    await control201.sim.station.lane.drained()
    transaction_events(control201)
    status, answer = await control201.post("reboot")
    assert status == 200 and answer["connected"] is False
    boot = await next_call(control201, "BootNotification")
    assert boot.reason == "LocalReset"  # B01.FR.09
    await until(lambda: control201.sim.station.registration == "Accepted")
    await control201.sim.station.lane.drained()
    ended = [e for e in transaction_events(control201) if e.event_type == "Ended"]
    assert [e.transaction_info.stopped_reason for e in ended] == ["Reboot"]


async def test_a_fault_is_faulted_with_a_notify_event_and_the_hardware_s_code_and_clears(control201: Control) -> None:
    status, answer = await control201.post("connectors/2/fault", json={"errorCode": "GroundFailure", "info": "RCD"})
    assert status == 200
    assert (answer["connectors"][1]["status"], answer["connectors"][1]["errorCode"]) == ("Faulted", "GroundFailure")
    notify = await next_call(control201, "NotifyEvent")
    assert notify.event_data[0].tech_code == "GroundFailure"
    status, answer = await control201.post("connectors/2/clear-fault")
    assert (answer["connectors"][1]["status"], answer["connectors"][1]["errorCode"]) == ("Available", "NoError")


async def test_G05_a_broken_lock_is_noticed_at_the_swipe_problem_and_faulted(control201: Control) -> None:
    status, answer = await control201.post("connectors/1/hardware-fault", json={"part": "lock", "on": True})
    assert status == 200 and answer["connectors"][0]["hardwareFaults"] == ["lock"]
    await control201.post("connectors/1/plug")
    status, answer = await control201.post("connectors/1/swipe", json={"idTag": "CARD-201"})
    assert answer["outcome"] == {"result": "refused", "connectorId": 1, "reason": "Faulted: ConnectorLockFailure"}
    evse = answer["connectors"][0]
    assert (evse["status"], evse["errorCode"]) == ("Faulted", "ConnectorLockFailure")
    notify = await next_call(control201, "NotifyEvent")
    assert [(e.component.name, e.variable.name, e.actual_value) for e in notify.event_data] == [
        ("ConnectorPlugRetentionLock", "Problem", "true"), ("EVSE", "AvailabilityState", "Faulted"),
    ]  # fmt: skip
    await control201.sim.station.lane.drained()
    assert transaction_events(control201) == []


@pytest.mark.parametrize("evse", ["0", "3", "\u0661"])
async def test_an_evse_the_station_does_not_have_is_404(control201: Control, evse: str) -> None:
    status, answer = await control201.post(f"connectors/{evse}/plug")
    assert status == 404 and answer["error"] == f"no EVSE {evse}"


async def test_metrics_of_a_2_0_1_station_move_with_its_transaction(control201: Control) -> None:
    before = await scrape(control201.http, control201.base)
    assert before.value("chargebox_stations_registration", status="Accepted") == 1
    assert before.value("chargebox_connectors", status="Available") == 2
    assert before.messages("sent", "CALL", "BootNotification") == 1
    await control201.post("connectors/1/plug")
    await control201.post("connectors/1/swipe", json={"idTag": "CARD-201"})
    await control201.sim.station.lane.drained()
    after = await scrape(control201.http, control201.base)
    assert after.value("chargebox_connectors", status="Occupied") == 1
    assert after.messages("sent", "CALL", "TransactionEvent") >= 1
    assert after.messages("received", "CALLRESULT", "TransactionEvent") == after.messages("sent", "CALL",
                                                                                        "TransactionEvent")  # fmt: skip
    assert after.value("chargebox_messages_queued") == 0


async def test_E01_FR_14_a_plug_names_a_connector_of_its_EVSE_and_one_it_lacks_is_400() -> None:
    csms = CentralSystem(CsmsPolicy(heartbeat_interval=600))
    port = await csms.start()
    reconnect = ReconnectPolicy(initial=0.05, maximum=0.2, jitter=0.1)
    settings = StationSettings(
        charge_point_id="CP-EVSES", csms_url=f"ws://127.0.0.1:{port}", ocpp="2.0.1", evses=(2, 1), reconnect=reconnect
    )
    sim = Simulator(simulated_station(settings))
    runner, control_port = await start_control(sim, "127.0.0.1", 0)
    try:
        async with run_until_stopped(sim), aiohttp.ClientSession() as http:
            api = Control(sim, runner, csms, http, f"http://127.0.0.1:{control_port}")
            await until(lambda: sim.station.registration == "Accepted" and sim.station.lane.backlog() == [])
            calls(api)
            for path, body, error in (
                ("connectors/2/plug", {"connector": 2}, "connector: 2 is not 1 to 1 (EVSE 2)"),
                ("connectors/1/plug", {"connector": 3}, "connector: 3 is not 1 to 2 (EVSE 1)"),
                ("connectors/1/plug", {"connector": "2"}, "connector: '2' is not 1 to 2 (EVSE 1)"),
            ):
                status, answer = await api.post(path, json=body)
                assert (status, answer["error"]) == (400, error)
            assert not sim.hardware.plugged(1) and not sim.hardware.plugged(2)  # a 400 changes nothing
            status, answer = await api.post("connectors/1/plug", json={"connector": 2})
            assert status == 200 and answer["outcome"]["result"] == "waiting" and answer["connectors"][0]["plugged"]
            status, answer = await api.post("connectors/1/plug")  # no connector: 1, beside the one in use
            assert status == 200 and answer["outcome"]["result"] == "refused"
            seen = [await next_call(api, "StatusNotification") for _ in range(2)]
            assert [(r.evse_id, r.connector_id, r.connector_status) for r in seen] == [(1, 1, "Unavailable"),
                                                                                      (1, 2, "Occupied")]  # fmt: skip
    finally:
        await runner.cleanup()
        await csms.stop()
