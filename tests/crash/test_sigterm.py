"""A clean stop ends the session (issue 16, item 5; checklist X-8, X-12, Q-1, Q-7).

A real ``chargebox simulate`` process charges on connector 1 and gets SIGTERM. It stops the transaction itself,
with reason ``Other`` (``--sigterm-reason``: ``Reboot`` for a unit its service manager starts again), journals the
StopTransaction and delivers it within ``STOP_DELIVERY_S`` before it exits 0. What it cannot deliver in that time
(offline, or a central system that does not answer) stays journaled and goes after the next start, with the same
reason: the next start finds nothing open, so nothing is ended with PowerLoss. SIGKILL is still a power cut
(``test_outbox_crash.py``: PowerLoss at the next start).
"""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Any

from chargebox.protocol import messages as m
from chargebox.station.station import STOP_DELIVERY_S
from tests.crash.conftest import WAIT, CrashRig

TAG = "SIGTERM-TAG"


async def charging(rig: CrashRig) -> None:
    await rig.post("connectors/1/plug")
    await rig.post("connectors/1/swipe", {"idTag": TAG})
    await rig.wait_until(lambda: len(rig.csms.of("MeterValues")) >= 1, "a MeterValues of the session")


async def terminate(rig: CrashRig) -> float:
    """SIGTERM; the exit code must be 0. Returns how long the process took to exit."""
    assert rig.proc is not None
    loop = asyncio.get_running_loop()
    sent = loop.time()
    rig.proc.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(rig.proc.wait(), WAIT + STOP_DELIVERY_S)
    assert code == 0, rig.log_tail()
    return loop.time() - sent


def journaled_stops(rig: CrashRig) -> list[dict[str, Any]]:
    rows = rig.query("SELECT payload FROM outbox WHERE action = 'StopTransaction'")
    return [json.loads(payload) for (payload,) in rows]


def open_transactions(rig: CrashRig) -> int:
    return int(rig.query("SELECT COUNT(*) FROM transactions WHERE stopped_at IS NULL")[0][0])


async def test_X_8_SIGTERM_stops_the_transaction_with_reason_Other_and_delivers_it_before_exiting(
    rig: CrashRig,
) -> None:
    await rig.spawn()
    await charging(rig)
    await terminate(rig)
    [stop] = rig.csms.of("StopTransaction")
    assert stop.payload["reason"] == "Other" and stop.life == 0 and stop.answered
    assert journaled_stops(rig) == [] and open_transactions(rig) == 0
    await rig.spawn()  # the next start has nothing to end: no PowerLoss
    await rig.drained()
    assert [r.payload["reason"] for r in rig.csms.of("StopTransaction")] == ["Other"]


async def test_X_8_SIGTERM_of_a_restart_unit_stops_with_reason_Reboot(rig: CrashRig) -> None:
    await rig.spawn("--sigterm-reason", "Reboot")
    await charging(rig)
    await terminate(rig)
    assert [r.payload["reason"] for r in rig.csms.of("StopTransaction")] == ["Reboot"]


async def test_Q_7_SIGTERM_offline_journals_the_stop_exits_at_once_and_delivers_it_after_the_next_start(
    rig: CrashRig,
) -> None:
    await rig.spawn()
    await charging(rig)
    await rig.post("connection/disconnect")
    await rig.wait_state(lambda s: not s["connected"], "the station to go offline")
    took = await terminate(rig)
    assert took < STOP_DELIVERY_S  # nothing to wait for without a link
    assert [stop["reason"] for stop in journaled_stops(rig)] == ["Other"] and open_transactions(rig) == 0
    await rig.spawn()
    await rig.drained()
    [stop] = rig.csms.of("StopTransaction")
    assert stop.payload["reason"] == "Other" and stop.life == 1


async def test_Q_1_a_central_system_that_does_not_answer_gets_the_stop_after_the_next_start(rig: CrashRig) -> None:
    never = asyncio.Event()
    recorded = rig.csms.policy.extra_handlers[m.Action.STOP_TRANSACTION]

    async def silent(_request: m.StopTransactionRequest) -> m.StopTransactionResponse:
        await never.wait()
        raise AssertionError("never answered")

    rig.csms.policy.extra_handlers[m.Action.STOP_TRANSACTION] = silent
    await rig.spawn()
    await charging(rig)
    took = await terminate(rig)
    assert STOP_DELIVERY_S - 0.5 <= took < STOP_DELIVERY_S + WAIT / 2  # the bound, then the exit
    assert [stop["reason"] for stop in journaled_stops(rig)] == ["Other"]
    rig.csms.policy.extra_handlers[m.Action.STOP_TRANSACTION] = recorded
    await rig.spawn()
    await rig.drained()
    assert [r.payload["reason"] for r in rig.csms.of("StopTransaction")] == ["Other"]


async def test_a_second_SIGTERM_ends_the_wait_at_once(rig: CrashRig) -> None:
    asked = asyncio.Event()

    async def silent(_request: m.StopTransactionRequest) -> m.StopTransactionResponse:
        asked.set()
        await asyncio.Event().wait()
        raise AssertionError("never answered")

    rig.csms.policy.extra_handlers[m.Action.STOP_TRANSACTION] = silent
    await rig.spawn()
    await charging(rig)
    assert rig.proc is not None
    rig.proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(asked.wait(), WAIT)  # the stop is waiting for its answer
    loop = asyncio.get_running_loop()
    second = loop.time()
    rig.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(rig.proc.wait(), WAIT) == 0
    assert loop.time() - second < STOP_DELIVERY_S / 2
    assert [stop["reason"] for stop in journaled_stops(rig)] == ["Other"]  # kept for the next start
