"""A wrong clock from the central system (issue 16, items 1 and 3; checklist B-4, B-7, B-10, Q-2).

A real ``chargebox simulate`` process (the crash rig of ``tests/crash/conftest.py``) boots against the built-in
central system on loopback, which answers BootNotification or Heartbeat with an absurd ``currentTime``: the last
second of year 9999, an hour before 1970, the first day of year 1. The station refuses it (docs/reliability.md,
"Time"), keeps its clock, logs the refusal and keeps it in its security log; it never crashes, and the
StartTransaction of a session started afterwards reaches the central system at once.

Before the fix, 9999 made every later log line raise OverflowError from the clock (exit 1, again after every boot),
and a time before 1970 postponed every journaled message by up to 2,000 years.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chargebox.protocol import messages as m
from tests.crash.conftest import WAIT, CrashRig, crash_rig

FAR_FUTURE = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
BEFORE_1970 = datetime(1969, 12, 31, 23, 0, tzinfo=UTC)
YEAR_ONE = datetime(1, 1, 1, tzinfo=UTC)
STATION = "CRASH-1"  # the rig's charge point id
TAG = "TIME-TAG"


def boot_answer(current_time: datetime) -> Callable[[Any], m.BootNotificationResponse]:
    return lambda _request: m.BootNotificationResponse(
        status=m.RegistrationStatus.ACCEPTED, current_time=current_time, interval=600
    )


def heartbeat_answer(current_time: datetime) -> Callable[[Any], m.HeartbeatResponse]:
    return lambda _request: m.HeartbeatResponse(current_time=current_time)


async def next_request(rig: CrashRig, action: m.Action) -> Any:
    """The next CALL of ``action`` the central system answered."""

    async def find() -> Any:
        while True:
            event = await rig.csms.events.get()
            if event.action is action:
                return event.request

    return await asyncio.wait_for(find(), WAIT)


def assert_near_now(moment: datetime) -> None:
    assert abs(moment - datetime.now(UTC)) < timedelta(minutes=1), moment


def security_events(rig: CrashRig) -> list[tuple[str, str]]:
    return [(str(kind), str(info)) for kind, info in rig.query("SELECT event_type, tech_info FROM security_log")]


@pytest.mark.parametrize("current_time", [FAR_FUTURE, BEFORE_1970, YEAR_ONE], ids=["9999", "1969", "year-1"])
async def test_B_4_an_absurd_boot_time_is_refused_and_the_station_runs_on(
    tmp_path: Path, current_time: datetime
) -> None:
    async with crash_rig(tmp_path) as rig:
        rig.csms.policy.extra_handlers[m.Action.BOOT_NOTIFICATION] = boot_answer(current_time)
        await rig.spawn()
        await rig.csms.connections[STATION].send('[2,"u1","NoSuchAction",{}]')  # a CALL that logs a warning
        await rig.post("connectors/1/plug")
        await rig.post("connectors/1/swipe", {"idTag": TAG})
        start = await next_request(rig, m.Action.START_TRANSACTION)  # at once, not in 2,000 years
        assert_near_now(start.timestamp)  # the clock kept its time
        assert rig.proc is not None and rig.proc.returncode is None
        assert [kind for kind, _ in security_events(rig)].count("InvalidMessages") == 1
        assert "refused" in rig.log_tail(200) and current_time.isoformat() in rig.log_tail(200)


async def test_B_7_an_absurd_heartbeat_time_is_refused_and_the_station_runs_on(tmp_path: Path) -> None:
    async with crash_rig(tmp_path) as rig:
        rig.csms.policy.extra_handlers[m.Action.HEARTBEAT] = heartbeat_answer(FAR_FUTURE)
        await rig.spawn()
        trigger = m.TriggerMessageRequest(requested_message=m.MessageTrigger.HEARTBEAT)
        for _ in range(3):  # refused each time, reported once
            result = await rig.csms.call(STATION, trigger, timeout=WAIT)
            assert result.ok and result.response.status is m.TriggerMessageStatus.ACCEPTED
            await next_request(rig, m.Action.HEARTBEAT)
        await rig.post("connectors/1/plug")
        status = await next_request(rig, m.Action.STATUS_NOTIFICATION)
        assert isinstance(status.timestamp, datetime)
        assert_near_now(status.timestamp)
        await rig.csms.call(STATION, trigger, timeout=WAIT)  # still answering: nothing raised in the station
        assert rig.proc is not None and rig.proc.returncode is None
        assert [kind for kind, _ in security_events(rig)].count("InvalidMessages") == 1
