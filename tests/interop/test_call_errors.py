"""CALLERROR codes the charge point answers with (checklist 1.4) and frames it must ignore (T-15).

The frames are written raw on the central system's WebSocket: the ``ocpp`` library validates what it sends, so it
could not produce most of them. Where the ``ocpp`` library (2.1.0) would itself answer with a different code, a
comment says which is right for OCPP-J 1.6: the checklist freezes the 1.6 spellings ([JE] §5.1-5.2).
"""

from __future__ import annotations

import json

import pytest
from ocpp.v16 import call

from chargebox.protocol.messages import Action, Message
from chargebox.rpc import Handler
from chargebox.station.station import Station
from tests.interop.conftest import OcppCsms, StationRunner
from tests.loopback import until


@pytest.fixture
async def booted(csms: OcppCsms, station_factory: StationRunner) -> Station:
    station = station_factory()
    index = await csms.wait_booted(connectors=2)
    await csms.wait_call("SecurityEventNotification", start=index)  # B-10's StartupOfTheDevice, before the test's
    await until(lambda: station.lane.pending() == 0)  # set aside: this central system knows no whitepaper
    return station


def stub_handler(calls: list[object]) -> Handler:
    """A handler an integrator could register; it records what reached it (nothing should)."""

    def handle(request: object) -> Message:
        calls.append(request)
        raise AssertionError(f"an invalid CALL reached the handler: {request!r}")

    return handle


async def answer_to_next_valid_call(csms: OcppCsms, start: int) -> list[object]:
    """The first frame the station sends after ``start`` must answer a valid call made now."""
    result = await csms.call(call.GetConfiguration(key=["HeartbeatInterval"]))
    assert result.configuration_key[0]["key"] == "HeartbeatInterval"
    _, first = await csms.frames.wait_for(lambda f: True, start=start)
    return list(first.data)


async def test_T_14_call_error_frame_shape(csms: OcppCsms, booted: Station) -> None:
    reply = await csms.raw('[2,"e-1","FooBar",{}]', "e-1")
    assert len(reply) == 5
    assert reply[0] == 4
    assert isinstance(reply[3], str)
    assert reply[4] == {}


async def test_1_4_unparsable_json_with_recoverable_id_is_formation_violation(csms: OcppCsms, booted: Station) -> None:
    # The ocpp library answers nothing here (it cannot unpack the frame) and spells it FormatViolation (2.0.1);
    # OCPP-J 1.6 says FormationViolation ([JE] §5.1), as chargebox does.
    reply = await csms.raw('[2,"e-2","GetConfiguration",{"key":[}]', "e-2")
    assert reply[:3] == [4, "e-2", "FormationViolation"]


async def test_1_4_unknown_action_is_not_implemented(csms: OcppCsms, booted: Station) -> None:
    reply = await csms.raw('[2,"e-3","FooBar",{}]', "e-3")
    assert reply[:3] == [4, "e-3", "NotImplemented"]


@pytest.mark.parametrize(
    ("action", "payload"),
    [
        ("CancelReservation", {"reservationId": 1}),
        ("TriggerMessage", {"requestedMessage": "Heartbeat"}),
        ("ClearChargingProfile", {}),  # SC-4, errata 3.39: smart charging keeps the CALLERROR
        ("GetCompositeSchedule", {"connectorId": 1, "duration": 60}),
        ("UpdateFirmware", {"location": "http://x/f.bin", "retrieveDate": "2030-01-01T00:00:00Z"}),
    ],
)
async def test_1_4_action_of_a_profile_not_offered_is_not_supported(
    csms: OcppCsms, station_factory: StationRunner, action: str, payload: dict[str, object]
) -> None:
    station_factory(ocpp_config={"SupportedFeatureProfiles": "Core"})
    await csms.wait_booted(connectors=2)
    reply = await csms.raw(json.dumps([2, "e-4", action, payload]), "e-4")
    assert reply[:3] == [4, "e-4", "NotSupported"]


@pytest.mark.parametrize(
    ("case", "action", "payload", "answer"),
    [
        ("TC_042_1_CS", "GetLocalListVersion", {}, {"listVersion": -1}),  # C-12, L-1
        ("TC_043_1_CS", "SendLocalList", {"listVersion": 1, "updateType": "Full"}, {"status": "NotSupported"}),
        (
            "TC_048_4_CS",
            "ReserveNow",
            {"connectorId": 1, "expiryDate": "2030-01-01T00:00:00Z", "idTag": "TAG", "reservationId": 1},
            {"status": "Rejected"},
        ),
    ],
)
async def test_T_16_a_profile_not_offered_answers_what_its_response_can_say(
    csms: OcppCsms, station_factory: StationRunner, case: str, action: str, payload: dict[str, object],
    answer: dict[str, object],
) -> None:  # fmt: skip
    """Resolved against checklist 1.4's example: an outcome the response can express is a CALLRESULT (T-16)."""
    station = station_factory(ocpp_config={"SupportedFeatureProfiles": "Core"})
    await csms.wait_booted(connectors=2)
    reply = await csms.raw(json.dumps([2, "e-8", action, payload]), "e-8")
    assert reply == [3, "e-8", answer], case
    assert station.reservation is None and station.store.local_list.count() == 0


async def test_1_4_missing_required_field_is_occurence_constraint_violation(csms: OcppCsms, booted: Station) -> None:
    # The ocpp library answers ProtocolError for a missing field; the checklist allows either but pins
    # OccurenceConstraintViolation, spelled with one "r" as in OCPP-J 1.6 ([JE] §5.2): chargebox is consistent.
    reply = await csms.raw('[2,"e-5","ChangeConfiguration",{"key":"HeartbeatInterval"}]', "e-5")
    assert reply[:3] == [4, "e-5", "OccurenceConstraintViolation"]
    assert await csms.call(call.GetConfiguration(key=["HeartbeatInterval"])) is not None


async def test_1_4_unknown_property_is_formation_violation(csms: OcppCsms, booted: Station) -> None:
    # The ocpp library says FormatViolation (the 2.0.1 spelling); 1.6 says FormationViolation: chargebox is right.
    reply = await csms.raw('[2,"e-6","GetConfiguration",{"key":["HeartbeatInterval"],"foo":1}]', "e-6")
    assert reply[:3] == [4, "e-6", "FormationViolation"]


async def test_1_4_payload_not_an_object_is_formation_violation(csms: OcppCsms, booted: Station) -> None:
    reply = await csms.raw('[2,"e-7","GetConfiguration",[]]', "e-7")
    assert reply[:3] == [4, "e-7", "FormationViolation"]


async def test_1_4_wrong_type_is_type_constraint_violation(csms: OcppCsms, booted: Station) -> None:
    reply = await csms.raw('[2,"e-8","ChangeConfiguration",{"key":"HeartbeatInterval","value":30}]', "e-8")
    assert reply[:3] == [4, "e-8", "TypeConstraintViolation"]
    assert booted.config.get("HeartbeatInterval") == "300"  # changed nothing


async def test_1_4_connector_id_as_string_is_type_constraint_violation(csms: OcppCsms, booted: Station) -> None:
    reached: list[object] = []
    booted.register(Action.UNLOCK_CONNECTOR, stub_handler(reached))
    reply = await csms.raw('[2,"e-9","UnlockConnector",{"connectorId":"one"}]', "e-9")
    assert reply[:3] == [4, "e-9", "TypeConstraintViolation"]
    assert reached == []


async def test_1_4_enum_violation_is_property_constraint_violation(csms: OcppCsms, booted: Station) -> None:
    # The ocpp library answers FormatViolation for an enum violation; the checklist (and [J] Table 7) says
    # PropertyConstraintViolation: chargebox is right.
    reached: list[object] = []
    booted.register(Action.CHANGE_AVAILABILITY, stub_handler(reached))
    reply = await csms.raw('[2,"e-10","ChangeAvailability",{"connectorId":0,"type":"Sometimes"}]', "e-10")
    assert reply[:3] == [4, "e-10", "PropertyConstraintViolation"]
    assert reached == []


async def test_1_4_call_with_three_elements_is_protocol_error(csms: OcppCsms, booted: Station) -> None:
    # The ocpp library cannot unpack such a frame at all and answers nothing.
    reply = await csms.raw('[2,"e-11","GetConfiguration"]', "e-11")
    assert reply[:3] == [4, "e-11", "ProtocolError"]


async def test_T_15_unknown_message_type_id_gets_no_reply(csms: OcppCsms, booted: Station) -> None:
    start = len(csms.frames.frames)
    await csms.sessions[-1].ws.send('[5,"e-12","GetConfiguration",{}]')
    # frames are answered in order: had [5,...] been answered, that answer would come first
    reply = await answer_to_next_valid_call(csms, start)
    assert reply[0] == 3
    assert reply[1] != "e-12"


async def test_T_15_call_result_for_unknown_id_is_ignored(csms: OcppCsms, booted: Station) -> None:
    start = len(csms.frames.frames)
    await csms.sessions[-1].ws.send('[3,"no-such-call",{"currentTime":"2030-01-01T00:00:00Z"}]')
    await csms.sessions[-1].ws.send('[4,"no-such-call-either","GenericError","",{}]')
    reply = await answer_to_next_valid_call(csms, start)
    assert reply[0] == 3
    assert booted.transport.connected
