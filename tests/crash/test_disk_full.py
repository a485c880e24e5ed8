"""A full disk costs no kWh (issue 16, item 2): a real ``chargebox simulate`` charging against the recording central
system on loopback, whose disk fills mid-session (RLIMIT_FSIZE of 1 byte set on the running process with
``prlimit``: every write it makes to a file fails, as on a full disk; its log goes through a pipe).

While the disk is full the store's writes wait and are tried again; the station offers no energy (0 A), reports
SuspendedEVSE on the charging connector and Faulted on connector 0, both InternalError with an info, and starts no
transaction. Once the disk has room every journaled message goes out in order, the register kept in memory in the
next sample and the StopTransaction, and the statuses clear themselves. SIGTERM during the spell exits within a
bound and says what it could not persist; the restart then bills what the store kept, which is, energy having
stopped, what was drawn.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from chargebox.station.station import STOP_WAIT_S
from tests.crash.conftest import WAIT, CrashRig
from tests.crash.power_cuts import LOSS_BOUND_WH
from tests.crash.test_outbox_crash import check_record as check_record_only

TAG = "DISK-TAG"
FULL_INFO = "store write failed: disk I/O error"  # EFBIG is SQLITE_IOERR_WRITE to SQLite


def check_record(rig: CrashRig) -> None:
    """test_outbox_crash's checks, and the station's log when one fails."""
    try:
        check_record_only(rig)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{rig.log_tail(80)}") from None


def connector(state: dict[str, Any]) -> dict[str, Any]:
    [one] = state["connectors"]
    return dict(one)


async def charging(rig: CrashRig) -> None:
    await rig.spawn()
    await rig.post("connectors/1/plug")
    await rig.post("connectors/1/swipe", {"idTag": TAG})
    await rig.wait_until(lambda: len(rig.csms.of("MeterValues")) >= 2, "two MeterValues")


async def the_disk_fills(rig: CrashRig) -> int:
    """The disk is full from now on; returns the register once the station has stopped energy."""
    rig.disk_full()
    await rig.wait_state(lambda s: connector(s)["status"] == "SuspendedEVSE", "SuspendedEVSE")
    state = connector(await rig.state())
    assert (state["errorCode"], state["offeredA"]) == ("InternalError", 0.0), state
    return int(state["meterWh"])


def reported(rig: CrashRig, connector_id: int) -> list[tuple[str, str, str | None]]:
    return [(s.status.value, s.error_code.value, s.info or None) for s in rig.csms.statuses(connector_id)]


async def test_2_a_full_disk_stops_energy_is_reported_and_costs_nothing_once_it_has_room(rig: CrashRig) -> None:
    await charging(rig)
    suspended_at = await the_disk_fills(rig)
    await rig.wait_until(lambda: ("SuspendedEVSE", "InternalError", FULL_INFO) in reported(rig, 1), "the report")
    assert ("Faulted", "InternalError", FULL_INFO) in reported(rig, 0)
    sent = len(rig.csms.received)
    await asyncio.sleep(1.0)  # a real process: a second of the spell, in which the EV draws nothing
    state = connector(await rig.state())
    assert (state["meterWh"], state["powerW"]) == (suspended_at, 0), state
    assert rig.csms.received[sent:] == []
    rig.disk_has_room()
    await rig.wait_state(lambda s: connector(s)["status"] == "Charging" and connector(s)["offeredA"] > 0, "Charging")
    await rig.wait_until(lambda: reported(rig, 1)[-1] == ("Charging", "NoError", None), "Charging reported")
    assert reported(rig, 0)[-1] == ("Available", "NoError", None)
    await rig.wait_until(lambda: len(rig.csms.received) >= sent + 2, "MeterValues again")
    await rig.post("connectors/1/swipe", {"idTag": TAG})
    await rig.drained()
    register = int(connector(await rig.state())["meterWh"])
    check_record(rig)  # every message once, in order, the register monotonic
    [stop] = rig.csms.of("StopTransaction")
    assert stop.payload["meterStop"] == register > suspended_at
    log = rig.log_tail(400)
    assert "writes fail" in log and "writes succeed again" in log and "no energy is offered" in log
    assert "Task exception was never retrieved" not in log and "Traceback" not in log


async def test_2_a_transaction_stopped_while_the_disk_is_full_bills_the_register_in_memory(rig: CrashRig) -> None:
    await charging(rig)
    suspended_at = await the_disk_fills(rig)
    swipe = asyncio.ensure_future(rig.post("connectors/1/swipe", {"idTag": TAG}))  # its StopTransaction waits
    await asyncio.sleep(0.5)
    assert not swipe.done() and rig.csms.of("StopTransaction") == []
    rig.disk_has_room()
    await asyncio.wait_for(swipe, WAIT)
    await rig.drained()
    check_record(rig)
    [stop] = rig.csms.of("StopTransaction")
    assert stop.payload["meterStop"] == suspended_at
    await rig.wait_until(lambda: reported(rig, 1)[-1] == ("Finishing", "NoError", None), "Finishing reported")


async def test_2_sigterm_while_the_disk_is_full_exits_in_time_and_the_restart_bills_what_was_drawn(
    rig: CrashRig,
) -> None:
    await charging(rig)
    suspended_at = await the_disk_fills(rig)
    started = time.monotonic()
    code = await rig.terminate()
    took = time.monotonic() - started
    assert code == 0 and took < STOP_WAIT_S + 3, (code, took)
    log = rig.log_tail(60)
    assert "stopping while the store cannot write" in log
    assert f"the register is at {suspended_at} Wh" in log and "writes not persisted: " in log
    assert "Task exception was never retrieved" not in log and "Traceback" not in log
    await rig.spawn()  # the disk has room again (the limit went with the process)
    await rig.drained()
    check_record(rig)
    [stop] = rig.csms.of("StopTransaction")
    assert stop.payload["reason"] == "PowerLoss"
    assert 0 <= suspended_at - stop.payload["meterStop"] <= LOSS_BOUND_WH  # at most the 5 s of a power cut


async def test_2_X_12_a_power_cut_in_the_spell_restarts_on_the_full_disk_reports_it_and_bills_once_it_has_room(
    rig: CrashRig,
) -> None:
    await charging(rig)
    suspended_at = await the_disk_fills(rig)
    await rig.kill()  # the power goes; the disk is still full when it comes back
    boots = rig.csms.boots
    await rig.spawn(until_accepted=False, disk_full=True)
    await rig.wait_until(lambda: rig.csms.boots > boots, "a BootNotification, the StopTransaction still waiting")
    await rig.wait_until(lambda: reported(rig, 1)[-1:] == [("Faulted", "InternalError", FULL_INFO)], "Faulted")
    assert reported(rig, 0)[-1] == ("Faulted", "InternalError", FULL_INFO)
    assert rig.csms.of("StopTransaction") == []
    rig.disk_has_room()
    await rig.drained()
    check_record(rig)
    [stop] = rig.csms.of("StopTransaction")
    assert stop.payload["reason"] == "PowerLoss"
    assert 0 <= suspended_at - stop.payload["meterStop"] <= LOSS_BOUND_WH
    await rig.wait_until(lambda: reported(rig, 1)[-1] == ("Available", "NoError", None), "the fault cleared")
