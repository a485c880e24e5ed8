"""Faults on the link of a 2.0.1 station, as ``test_proxy.py`` proves them for 1.6 (E04.FR.01, E04.FR.02, E13.FR.02;
docs/reliability.md, "Faults on the link").

A real 2.0.1 ``Station`` on simulated hardware, with the real clock, talks to the built-in central system through
``FaultProxy`` and charges on EVSE 1 (an Updated event every second); the link is dropped and refused, or reset in the
middle of a frame, or the central system stops answering; then the fault ends and the central system's record is
checked: per transaction every seqNo from 0 once, in order, Started first and Ended last, timestamps chronological,
and no event twice except the one in flight, again right after its first copy with identical content.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

import pytest

from chargebox.sim.simulator import Simulator
from chargebox.station.station import Station
from chargebox.station.v201.transactions import TransactionService
from tests.hardening.proxy import FaultProxy
from tests.hardening.test_proxy import WAIT, MisbehavingCsms, Seen
from tests.interop.conftest import StationRunner
from tests.loopback import until

TAG = "HARDEN-1"
EVENT = "TransactionEvent"
RETRY_WAIT = 1  # seconds between reconnect attempts: the shortest whole wait that is not a busy loop
ENTRIES = [
    {"component": {"name": component}, "variable": {"name": variable, **({"instance": instance} if instance else {})},
     "value": value}
    for component, variable, instance, value in (
        ("SampledDataCtrlr", "TxUpdatedInterval", None, "1"),
        ("AuthCtrlr", "OfflineTxForUnknownIdEnabled", None, "true"),
        ("OCPPCommCtrlr", "MessageTimeout", "Default", "1"),
        ("OCPPCommCtrlr", "MessageAttempts", EVENT, "10"),  # E13.FR.02: an unanswered event is an attempt:
        ("OCPPCommCtrlr", "MessageAttemptInterval", EVENT, "0"),  # room for many, sent again at once
        ("OCPPCommCtrlr", "RetryBackOffWaitMinimum", None, str(RETRY_WAIT)),  # Part 4 5.3, in whole seconds
        ("OCPPCommCtrlr", "RetryBackOffRandomRange", None, "0"),
        ("OCPPCommCtrlr", "RetryBackOffRepeatTimes", None, "0"),
    )
]  # fmt: skip


@dataclass
class Rig:
    csms: MisbehavingCsms
    proxy: FaultProxy
    runner: StationRunner
    station: Station | None = None

    @property
    def sim(self) -> Simulator:
        assert self.station is not None
        return Simulator(self.station)

    @property
    def transactions(self) -> TransactionService:
        assert self.station is not None
        return self.station.features.need(TransactionService)

    async def boot(self) -> Station:
        """A 2.0.1 station with one EVSE through the proxy, booted, with what it sends at a boot answered."""
        station = self.station = self.runner(charge_point_id="HARDEN", connectors=1, ocpp="2.0.1", ocpp_config=ENTRIES)
        await until(lambda: bool(self.csms.calls("StatusNotification")) and station.lane.pending() == 0, timeout=WAIT)
        return station

    async def start_charging(self) -> None:
        await self.sim.plug(1)
        await self.sim.swipe(TAG, 1)
        await until(lambda: any(s.payload["eventType"] == "Updated" for s in self.csms.calls(EVENT)), timeout=WAIT)

    async def stop_charging(self) -> None:
        await self.sim.swipe(TAG, 1)
        await self.sim.unplug(1)

    async def drained(self) -> None:
        station = self.station
        assert station is not None
        await until(lambda: station.lane.pending() == 0 and self.transactions.transaction_id(1) is None, timeout=WAIT)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    csms = MisbehavingCsms()
    port = await csms.start()
    proxy = FaultProxy(port)
    await proxy.start()
    runner = StationRunner(proxy.url)
    try:
        yield Rig(csms, proxy, runner)
    finally:
        await runner.close()
        await proxy.stop()
        await csms.stop()


def check_delivery(csms: MisbehavingCsms, *, transactions: int, in_flight: int) -> None:
    """E04.FR.02: per transaction, seqNo 0, 1, 2 ... once each in order, Started first and Ended last; an event
    twice only as the copy, right after it, of one in flight at a fault (at most ``in_flight`` of them)."""
    copies: list[list[Seen]] = []
    for call in csms.calls(EVENT):
        if copies and call.payload == copies[-1][0].payload:
            copies[-1].append(call)
            continue
        assert all(c[0].payload != call.payload for c in copies), f"{call.payload} arrived again after newer events"
        copies.append([call])
    assert sum(len(c) > 1 for c in copies) <= in_flight, f"more events sent twice than faults: {copies}"
    stamps = [str(c[0].payload["timestamp"]) for c in copies]
    assert stamps == sorted(stamps), f"not chronological: {stamps}"
    by_transaction: dict[str, list[dict[str, object]]] = {}
    for c in copies:
        by_transaction.setdefault(c[0].payload["transactionInfo"]["transactionId"], []).append(c[0].payload)
    assert len(by_transaction) == transactions, list(by_transaction)
    for events in by_transaction.values():
        assert [e["seqNo"] for e in events] == list(range(len(events))), events
        kinds = [e["eventType"] for e in events]
        assert kinds[0] == "Started" and kinds[-1] == "Ended" and set(kinds[1:-1]) <= {"Updated"}, kinds


async def test_E04_FR_02_a_dropped_link_is_retried_with_back_off_and_the_offline_end_comes_through_a_cut_drain(
    rig: Rig,
) -> None:
    station = await rig.boot()
    await rig.start_charging()
    rig.proxy.refuse = True
    rig.proxy.drop()
    await until(lambda: not station.transport.connected, timeout=WAIT)
    await rig.proxy.wait_for(lambda: len(rig.proxy.refused) >= 3, timeout=WAIT)
    gaps = [later - earlier for earlier, later in itertools.pairwise(rig.proxy.refused)]
    assert min(gaps) >= RETRY_WAIT * 0.95, f"Part 4 5.3: retried sooner than RetryBackOffWaitMinimum: {gaps}"
    await until(lambda: station.lane.pending() >= 2, timeout=WAIT)  # E04.FR.01: Updated events journaled offline
    await rig.stop_charging()  # the Ended event journaled while offline
    rig.proxy.heal()
    rig.proxy.reset_mid_frame("up", b'"Ended"')  # and the drain is cut short once
    await rig.drained()
    assert not rig.proxy.cut_pending
    offline = [c.payload for c in rig.csms.calls(EVENT) if c.payload.get("offline")]
    assert offline and offline[-1]["eventType"] == "Ended", "E04.FR.03: what was journaled offline says so"
    check_delivery(rig.csms, transactions=1, in_flight=1)


@pytest.mark.parametrize(
    ("direction", "match"),
    [("up", b'"Started"'), ("up", b'"Updated"'), ("up", b'"Ended"'), ("down", b'"idTokenInfo"')],
    ids=["started-call-cut", "updated-call-cut", "ended-call-cut", "authorize-answer-cut"],
)
async def test_E04_FR_02_a_reset_mid_frame_loses_nothing_and_repeats_only_the_event_in_flight(
    rig: Rig, direction: Literal["up", "down"], match: bytes
) -> None:
    await rig.boot()
    rig.proxy.reset_mid_frame(direction, match)
    await rig.start_charging()
    await rig.stop_charging()
    await rig.proxy.wait_for(lambda: len(rig.proxy.links) >= 2, timeout=WAIT)
    assert rig.proxy.links[0].reset_at is not None, "the reset hit the first connection"
    await rig.drained()
    assert len(rig.csms.calls("BootNotification")) == 1, "B04: a reconnect is no new boot"
    check_delivery(rig.csms, transactions=1, in_flight=1)


async def test_E13_FR_02_a_central_system_that_stops_answering_gets_the_event_again_until_it_does(rig: Rig) -> None:
    station = await rig.boot()
    rig.csms.answers, rig.csms.misbehaving = "never", (EVENT,)
    await rig.sim.plug(1)
    await rig.sim.swipe(TAG, 1)
    await until(lambda: len(rig.csms.calls(EVENT)) >= 2, timeout=WAIT)  # again after MessageTimeout (E13.FR.02)
    assert {c.payload["eventType"] for c in rig.csms.calls(EVENT)} == {"Started"}, "nothing overtakes the Started"
    assert station.lane.pending() >= 1
    await rig.stop_charging()
    rig.csms.answers = "at once"
    await rig.drained()
    check_delivery(rig.csms, transactions=1, in_flight=1)
