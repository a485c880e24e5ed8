"""Local authorization list: SendLocalList, GetLocalListVersion and the lookup order (checklist 5.1, L-1..L-8)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chargebox.clock import VirtualClock
from chargebox.protocol import messages as m
from chargebox.store import Store
from tests.wire import Wire, make_csms, make_station, power_cut_and_restart


def send_local_list(version: int, update: str, entries: list[dict[str, Any]] | None = None) -> str:
    payload: dict[str, Any] = {"listVersion": version, "updateType": update}
    if entries is not None:
        payload["localAuthorizationList"] = entries
    return json.dumps([2, "s", "SendLocalList", payload])


def entry(id_tag: str, status: str | None = "Accepted", **info: str) -> dict[str, Any]:
    return {"idTag": id_tag} if status is None else {"idTag": id_tag, "idTagInfo": {"status": status, **info}}


async def version(wire: Wire) -> int:
    answer = await wire.inject('[2,"v","GetLocalListVersion",{}]')
    return int(answer[2]["listVersion"])


async def test_C_12_TC_042_2_CS_empty_list_has_version_0(station: Any) -> None:
    wire, _ = await station()
    assert await version(wire) == 0


async def test_L_1_TC_042_1_CS_TC_043_1_CS_disabled_list_is_not_supported_and_version_minus_1(station: Any) -> None:
    wire, _ = await station(ocpp_config={"LocalAuthListEnabled": False})
    answer = await wire.inject(send_local_list(1, "Full", [entry("A")]))
    assert answer[2] == {"status": "NotSupported"}
    assert await version(wire) == -1
    assert wire.station.store.local_list.count() == 0


async def test_L_2_TC_043_CS_full_replaces_the_list(station: Any) -> None:
    wire, _ = await station()
    assert (await wire.inject(send_local_list(3, "Full", [entry("A"), entry("B")])))[2] == {"status": "Accepted"}
    assert (await wire.inject(send_local_list(4, "Full", [entry("C", "Blocked")])))[2] == {"status": "Accepted"}
    assert [e.id_tag for e in wire.station.store.local_list.all()] == ["C"]
    assert await version(wire) == 4
    assert (await wire.inject(send_local_list(5, "Full")))[2] == {"status": "Accepted"}  # L-2: empty Full clears
    assert wire.station.store.local_list.count() == 0 and await version(wire) == 0  # C-12 (TC_042_2): empty


async def test_C_12_L_3_a_list_a_differential_emptied_is_version_0_and_takes_any_later_version(station: Any) -> None:
    wire, _ = await station()
    await wire.inject(send_local_list(7, "Full", [entry("A")]))
    assert (await wire.inject(send_local_list(8, "Differential", [entry("A", None)])))[2] == {"status": "Accepted"}
    assert await version(wire) == 0
    assert (await wire.inject(send_local_list(1, "Differential", [entry("B")])))[2] == {"status": "Accepted"}
    assert await version(wire) == 1


async def test_L_3_TC_043_CS_differential_adds_updates_and_removes(station: Any) -> None:
    wire, _ = await station()
    await wire.inject(send_local_list(1, "Full", [entry("A"), entry("B")]))
    answer = await wire.inject(
        send_local_list(2, "Differential", [entry("A", "Blocked"), entry("B", None), entry("C")])
    )
    assert answer[2] == {"status": "Accepted"}
    assert {e.id_tag: e.status for e in wire.station.store.local_list.all()} == {"A": "Blocked", "C": "Accepted"}
    assert await version(wire) == 2


async def test_L_3_TC_043_2_CS_differential_with_an_old_version_is_a_version_mismatch(station: Any) -> None:
    wire, _ = await station()
    await wire.inject(send_local_list(5, "Full", [entry("A")]))
    for old in (5, 4):
        answer = await wire.inject(send_local_list(old, "Differential", [entry("B")]))
        assert answer[2] == {"status": "VersionMismatch"}
    assert [e.id_tag for e in wire.station.store.local_list.all()] == ["A"] and await version(wire) == 5


async def test_L_4_TC_043_3_CS_what_cannot_be_applied_fails_and_changes_nothing(station: Any) -> None:
    wire, _ = await station()
    await wire.inject(send_local_list(1, "Full", [entry("A")]))
    max_send = wire.station.config.get_int("SendLocalListMaxLength")
    failing = [
        send_local_list(2, "Full", [entry(f"T{i}") for i in range(max_send + 1)]),  # more than one may carry
        send_local_list(2, "Full", [entry("X"), entry("x")]),  # duplicate idTags (case-insensitive, G-1)
        send_local_list(2, "Full", [entry("X", None)]),  # Full without idTagInfo
        send_local_list(0, "Full", [entry("X")]),  # L-5: 0 and -1 are reserved versions
        send_local_list(-1, "Differential", [entry("X")]),
    ]
    for frame in failing:
        assert (await wire.inject(frame))[2] == {"status": "Failed"}, frame
    assert [e.id_tag for e in wire.station.store.local_list.all()] == ["A"] and await version(wire) == 1


async def test_L_4_list_longer_than_local_auth_list_max_length_fails(station: Any) -> None:
    wire, _ = await station()
    limit = wire.station.config.get_int("LocalAuthListMaxLength")
    step = wire.station.config.get_int("SendLocalListMaxLength")
    listed = 0
    version_number = 1
    while listed < limit:
        batch = [entry(f"T{i}") for i in range(listed, min(limit, listed + step))]
        assert (await wire.inject(send_local_list(version_number, "Differential", batch)))[2] == {"status": "Accepted"}
        listed += len(batch)
        version_number += 1
    answer = await wire.inject(send_local_list(version_number, "Differential", [entry("ONE-MORE")]))
    assert answer[2] == {"status": "Failed"}
    assert wire.station.store.local_list.count() == limit


async def test_L_8_TC_008_1_CS_listed_card_starts_without_authorize(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station(ocpp_config={"LocalPreAuthorize": True})
    await wire.inject(send_local_list(1, "Full", [entry("LISTED")]))
    await sim.plug(1)
    await sim.swipe("LISTED", 1)
    await clock.advance(0)
    assert wire.calls("Authorize") == []
    assert [s["idTag"] for s in wire.calls("StartTransaction")] == ["LISTED"]


async def test_L_6_list_takes_priority_over_the_cache_and_is_never_overwritten(
    station: Any, clock: VirtualClock
) -> None:
    wire, sim = await station(ocpp_config={"LocalPreAuthorize": True})
    await wire.inject(send_local_list(1, "Full", [entry("CARD", "Blocked")]))
    wire.station.store.auth_cache.put("CARD", "Accepted", expiry_date=None, parent_id_tag=None, now="x")
    info = wire.station.authorization.local_list("CARD")
    assert info is not None and info.status.value == "Blocked"  # the list first
    await sim.plug(1)
    await sim.swipe("CARD", 1)  # Blocked in the list: asked again online; the central system accepts
    await clock.advance(0)
    assert wire.calls("Authorize") == [{"idTag": "CARD"}]
    [listed] = wire.station.store.local_list.all()
    assert listed.status == "Blocked"  # the central system's answer changed the cache only, never the list


async def test_A_4_offline_listed_card_starts(station: Any, clock: VirtualClock) -> None:
    wire, sim = await station(ocpp_config={"LocalAuthorizeOffline": True})
    await wire.inject(send_local_list(1, "Full", [entry("LISTED")]))
    await wire.disconnect()
    await sim.plug(1)
    await sim.swipe("LISTED", 1)
    await clock.advance(0)
    assert wire.station.connectors[1].transaction_ref is not None


async def test_A_6_offline_blocked_expired_or_invalid_entry_refuses_even_allowing_unknown_ids(
    station: Any, clock: VirtualClock
) -> None:
    wire, sim = await station(
        ocpp_config={"LocalAuthorizeOffline": True, "AllowOfflineTxForUnknownId": True}, connectors=2
    )
    past = "2000-01-01T00:00:00+00:00"
    await wire.inject(
        send_local_list(
            1, "Full", [entry("BLOCKED", "Blocked"), entry("INVALID", "Invalid"), entry("OLD", expiryDate=past)]
        )
    )
    await wire.disconnect()
    await sim.plug(1)
    for card in ("BLOCKED", "INVALID", "OLD"):
        await sim.swipe(card, 1)
        await clock.advance(0)
        assert wire.station.connectors[1].transaction_ref is None, card
    await sim.swipe("NOT-LISTED", 1)  # an unknown card may start offline
    await clock.advance(0)
    assert wire.station.connectors[1].transaction_ref is not None


async def test_L_6_the_list_survives_a_restart(tmp_path: Path, clock: VirtualClock) -> None:
    wire = Wire(make_station(clock, store=Store.open(tmp_path)), make_csms(clock), clock)
    await wire.connect()
    await wire.inject(send_local_list(7, "Full", [entry("KEEP", "Accepted", parentIdTag="GROUP")]))
    again = await power_cut_and_restart(wire, tmp_path)
    try:
        assert await version(again) == 7
        info = again.station.authorization.local_list("KEEP")
        assert info is not None and info.parent_id_tag == "GROUP"
    finally:
        await again.stop()
        again.station.store.close()


async def test_L_7_central_system_contradicting_the_list_reports_local_list_conflict(
    station: Any, clock: VirtualClock
) -> None:
    wire, sim = await station({"id_tag_status": m.AuthorizationStatus.BLOCKED})
    await wire.inject(send_local_list(1, "Full", [entry("CARD", "Accepted")]))
    await sim.plug(1)
    await sim.swipe("CARD", 1)  # not pre-authorized: Authorize.conf says Blocked, the list Accepted
    await clock.advance(0)
    conflict = [p for p in wire.calls("StatusNotification") if p["connectorId"] == 0][-1]
    assert conflict["errorCode"] == "LocalListConflict" and conflict["status"] == "Available"
    [listed] = wire.station.store.local_list.all()
    assert listed.status == "Accepted"  # L-6: the list itself is unchanged
    await wire.inject(send_local_list(2, "Full", [entry("CARD", "Blocked")]))
    await clock.advance(0)
    assert [p for p in wire.calls("StatusNotification") if p["connectorId"] == 0][-1]["errorCode"] == "NoError"
