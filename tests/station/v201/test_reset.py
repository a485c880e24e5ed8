"""Reset (station/v201/reset.py) with something running: what the transactions block will do through the seam it
joins (``ResetService.participants``, ``idle()``), here done by ``Session``, a participant that runs one session on
an EVSE and ends it when told. Part 6's TC_B_21, TC_B_22, TC_B_26, TC_B_27 and TC_B_41 run against the transactions
block when it is built; these tests prove the requirements of Reset they rely on (B12.FR.01 to .04, .07, .08)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from chargebox.protocol.v201 import messages as m
from chargebox.station.v201.boot import BootService
from chargebox.station.v201.reset import ResetService
from tests.wire import Wire


@dataclass
class Session:
    """Runs on one EVSE until it ends: ``end`` (an Immediate reset) or ``stop`` (its own end)."""

    evse: int
    reset: ResetService
    ended_by: list[str] = field(default_factory=list)
    running: bool = True

    def busy(self, evse_id: int | None) -> bool:
        return self.running and evse_id in (None, self.evse)

    async def end(self, evse_id: int | None) -> None:
        if self.busy(evse_id):
            self.running = False
            self.ended_by.append("ImmediateReset")

    def stop(self) -> None:
        self.running = False
        self.reset.idle()


async def station_with_session(wired: Callable[..., Wire], evse: int = 1) -> tuple[Wire, Session]:
    wire = wired(ocpp="2.0.1", connectors=2)
    await wire.connect()
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 2)
    reset = wire.station.features.need(ResetService)
    session = Session(evse, reset)
    reset.participants.append(session)
    return wire, session


async def reset(wire: Wire, kind: str, evse: int | None = None) -> m.ResetResponse:
    request = m.ResetRequest(type=m.ResetEnumType(kind), evse_id=evse if evse is not None else msgspec.UNSET)
    result = await wire.csms.call(wire.station.id, request)
    response: m.ResetResponse = result.response
    return response


async def rebooted(wire: Wire) -> None:
    """The reset goes down a moment after it delivered what it could (REBOOT_GRACE)."""
    await wire.clock.advance(1)
    await wire.until(lambda: not wire.station.features.need(BootService).accepted)


async def test_B12_FR_01_FR_03_on_idle_while_busy_is_scheduled_and_reboots_when_it_ends(
    wired: Callable[..., Wire],
) -> None:
    wire, session = await station_with_session(wired)
    assert (await reset(wire, "OnIdle")).status == "Scheduled"  # B12.FR.01
    await wire.clock.advance(60)
    assert wire.station.features.need(BootService).accepted  # still up: it waits
    session.stop()  # B12.FR.03: ended normally, then the reboot
    await rebooted(wire)
    assert session.ended_by == []
    assert wire.station.features.need(BootService).reason == "ScheduledReset"  # TC_B_21_CS: the next boot's reason


async def test_B12_FR_02_FR_04_immediate_while_busy_ends_it_before_rebooting(wired: Callable[..., Wire]) -> None:
    wire, session = await station_with_session(wired)
    assert (await reset(wire, "Immediate")).status == "Accepted"  # B12.FR.02
    await rebooted(wire)
    assert session.ended_by == ["ImmediateReset"]  # B12.FR.04
    assert wire.station.features.need(BootService).reason == "RemoteReset"  # TC_B_22_CS


async def test_B12_FR_07_an_evse_on_idle_waits_for_its_own_session_only(wired: Callable[..., Wire]) -> None:
    wire, session = await station_with_session(wired, evse=2)
    assert (await reset(wire, "OnIdle", 1)).status == "Accepted"  # EVSE 1 is idle
    assert (await reset(wire, "OnIdle", 2)).status == "Scheduled"  # TC_B_26_CS
    before = len(wire.calls("StatusNotification"))
    session.stop()
    await wire.until(lambda: len(wire.calls("StatusNotification")) > before)
    assert wire.calls("StatusNotification")[-1]["evseId"] == 2  # the EVSE restarted, the station did not
    assert wire.station.features.need(BootService).accepted


async def test_B12_FR_08_an_evse_immediate_ends_its_session_only(wired: Callable[..., Wire]) -> None:
    wire, session = await station_with_session(wired, evse=2)
    other = Session(1, session.reset)
    session.reset.participants.append(other)
    assert (await reset(wire, "Immediate", 2)).status == "Accepted"  # TC_B_27_CS
    await wire.until(lambda: not session.running)
    assert (session.ended_by, other.ended_by, other.running) == (["ImmediateReset"], [], True)


async def test_B11_FR_06_a_veto_rejects_the_reset(wired: Callable[..., Wire]) -> None:
    wire, session = await station_with_session(wired)
    session.reset.vetoes.append(lambda evse: "installing firmware" if evse is None else None)
    answer = await reset(wire, "Immediate")
    assert (answer.status, answer.status_info.reason_code) == ("Rejected", "OngoingOperation")  # type: ignore[union-attr]
    assert (await reset(wire, "Immediate", 1)).status == "Accepted"  # an EVSE alone may go
