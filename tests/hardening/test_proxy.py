"""Faults on the link and a misbehaving central system (checklist 1.5 T-31, T-33, T-34; 5.3 Q-1..Q-7).

A real ``Station`` on simulated hardware, with the real clock, talks to the built-in ``CentralSystem`` through
``FaultProxy``. Each test charges on connector 1 (MeterValues every second), hits the link or the central system
with one kind of fault, then ends the fault and checks what the central system received:

- the station reconnected, with back-off where it had to retry (T-33);
- the outbound lane drained completely (``lane.pending() == 0``), in order: per transaction one
  StartTransaction, its MeterValues, one StopTransaction, every message carrying the transactionId answered
  to that StartTransaction, meter values monotonic, timestamps chronological (Q-2, Q-5, Q-6, Q-7);
- no message arrived twice, except the one in flight when the fault hit, sent again at once with identical
  content;
- Heartbeats resumed (B-7).

Every wait is a bounded poll; the figures (reconnect and drain times) are recorded as test properties.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from websockets.asyncio.server import ServerConnection

from chargebox.csms.server import CentralSystem, CsmsPolicy
from chargebox.protocol.dialect import OCPP16, Dialect
from chargebox.protocol.messages import RegistrationStatus
from chargebox.rpc import Rpc
from chargebox.sim.simulator import Simulator
from chargebox.station.station import Station
from chargebox.transport import ReconnectPolicy
from tests.hardening.proxy import FaultProxy
from tests.interop.conftest import StationRunner
from tests.loopback import until

WAIT = 5.0  # the longest any single expected event may take; a poll timeout, not a sleep
TAG = "HARDEN-1"
TX_ACTIONS = ("StartTransaction", "MeterValues", "StopTransaction")
ENERGY = "Energy.Active.Import.Register"
BACK_OFF = ReconnectPolicy(initial=0.05, factor=2.0, maximum=0.4, jitter=0.1)
MESSAGE_TIMEOUT = 1
LATE = 1.5  # a late answer comes this long after its CALL: past MessageTimeout
OCPP_CONFIG: dict[str, object] = {
    "MeterValueSampleInterval": 1,
    "MeterValuesSampledData": ENERGY,
    "MessageTimeout": MESSAGE_TIMEOUT,
    "LocalAuthorizeOffline": True,
    "AllowOfflineTxForUnknownId": True,
}
Answers = Literal["at once", "never", "late", "twice"]


@dataclass(frozen=True, slots=True)
class Seen:
    """One frame the central system received, with the number of the connection it came on."""

    session: int
    at: float
    frame: list[Any]

    @property
    def action(self) -> str | None:
        return str(self.frame[2]) if self.frame[0] == 2 else None

    @property
    def message_id(self) -> str:
        return str(self.frame[1])

    @property
    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = self.frame[3]
        return payload


class MisbehavingCsms(CentralSystem):
    """The built-in central system (HeartbeatInterval 1 s), recording every frame it receives, with knobs:
    ``answers`` says how it writes its CALLRESULTs (at once, never, ``LATE`` seconds late, or twice with
    the same message id) to the CALLs of ``misbehaving`` (every action if None), and ``close_at_once``
    closes every new WebSocket right after the handshake."""

    def __init__(self) -> None:
        super().__init__(CsmsPolicy(heartbeat_interval=1))
        self.seen: list[Seen] = []
        self.answered: dict[str, dict[str, Any]] = {}  # message id -> the CALLRESULT payload it made
        self.answers: Answers = "at once"
        self.misbehaving: tuple[str, ...] | None = None
        self._actions: dict[str, str] = {}  # message id -> action of the CALLs received
        self.close_at_once = False
        self.opened: list[float] = []  # when each WebSocket was accepted

    async def _serve(self, connection: ServerConnection) -> None:
        self.opened.append(asyncio.get_running_loop().time())
        if self.close_at_once:
            await connection.close(1011, "going away at once")
            return
        await super()._serve(connection)

    def open_session(
        self, charge_point_id: str, send: Callable[[bytes], Awaitable[None]], dialect: Dialect[Any] = OCPP16
    ) -> Rpc[Any]:
        session = len(self.opened)

        async def misbehave(data: bytes) -> None:
            frame = json.loads(data)
            if frame[0] != 3:
                await send(data)
                return
            self.answered[frame[1]] = frame[2]
            if self.misbehaving is not None and self._actions.get(frame[1]) not in self.misbehaving:
                await send(data)
                return
            if self.answers == "never":
                return
            if self.answers == "late":
                await asyncio.sleep(LATE)
            await send(data)
            if self.answers == "twice":
                await send(data)

        rpc = super().open_session(charge_point_id, misbehave, dialect)
        receive = rpc.receive

        async def record(data: str | bytes) -> None:
            seen = Seen(session, asyncio.get_running_loop().time(), json.loads(data))
            self.seen.append(seen)
            if seen.action is not None:
                self._actions[seen.message_id] = seen.action
            await receive(data)

        rpc.receive = record  # type: ignore[method-assign]
        return rpc

    def calls(self, action: str | None = None, *, session: int | None = None) -> list[Seen]:
        return [
            s for s in self.seen if s.action is not None and action in (None, s.action) and session in (None, s.session)
        ]


@dataclass
class Rig:
    csms: MisbehavingCsms
    proxy: FaultProxy
    runner: StationRunner
    record: Callable[[str, object], None]
    station: Station | None = None

    @property
    def sim(self) -> Simulator:
        assert self.station is not None
        return Simulator(self.station)

    async def boot(self, **ocpp_config: object) -> Station:
        """A station with one connector, through the proxy, accepted, with its StatusNotifications sent and its
        startup's SecurityEventNotification answered (a fault set afterwards must not catch it in flight)."""
        station = self.station = self.runner(
            charge_point_id="HARDEN",
            connectors=1,
            reconnect=BACK_OFF,
            ocpp_config={**OCPP_CONFIG, **ocpp_config},
        )
        await until(lambda: len(self.csms.calls("StatusNotification")) >= 2, timeout=WAIT)
        await until(lambda: bool(self.csms.calls("SecurityEventNotification")) and station.lane.pending() == 0,
                    timeout=WAIT)  # fmt: skip
        return station

    async def start_charging(self, meter_values: int = 1) -> None:
        """Plug, swipe, and wait for the StartTransaction's answer and ``meter_values`` MeterValues."""
        station = self.station
        assert station is not None
        await self.sim.plug(1)
        await self.sim.swipe(TAG, 1)
        await until(lambda: station.connectors[1].transaction_id is not None, timeout=WAIT)
        await until(lambda: len(self.csms.calls("MeterValues")) >= meter_values, timeout=WAIT + meter_values)

    async def stop_charging(self) -> None:
        await self.sim.swipe(TAG, 1)
        await self.sim.unplug(1)

    def online(self) -> bool:
        station = self.station
        assert station is not None
        return station.transport.connected and station.boot.registration is RegistrationStatus.ACCEPTED

    async def offline(self) -> None:
        station = self.station
        assert station is not None
        await until(lambda: not station.transport.connected, timeout=WAIT)

    async def back_online(self, since: float, what: str) -> None:
        """Wait until the station is connected and accepted again; record how long that took from ``since``."""
        await until(self.online, timeout=WAIT)
        self.record(f"{what}: back online after (s)", round(asyncio.get_running_loop().time() - since, 3))

    async def drained(self, since: float, what: str) -> None:
        """Wait until the station has delivered everything and has no transaction open; record how long that
        took from ``since`` (the end of the fault)."""
        station = self.station
        assert station is not None
        loop = asyncio.get_running_loop()
        await until(lambda: station.lane.pending() == 0 and station.connectors[1].transaction_id is None, timeout=WAIT)
        self.record(f"{what}: drained after (s)", round(loop.time() - since, 3))

    async def heartbeat_after(self, index: int) -> None:
        """B-7: a Heartbeat arrives after frame ``index``."""
        await until(lambda: any(s.action == "Heartbeat" for s in self.csms.seen[index:]), timeout=WAIT)

    def statuses(self) -> list[str]:
        """The statuses the central system was told for connector 1, in order."""
        return [s.payload["status"] for s in self.csms.calls("StatusNotification") if s.payload["connectorId"] == 1]

    async def status_told(self) -> None:
        """S-7: after the faults the central system was told the connector's current status."""
        station = self.station
        assert station is not None
        await until(lambda: self.statuses()[-1:] == [station.connectors[1].status.value], timeout=WAIT)


@pytest.fixture
async def rig(record_property: Callable[[str, object], None]) -> AsyncIterator[Rig]:
    csms = MisbehavingCsms()
    port = await csms.start()
    proxy = FaultProxy(port)
    await proxy.start()
    runner = StationRunner(proxy.url)
    try:
        yield Rig(csms, proxy, runner, record_property)
    finally:
        await runner.close()
        await proxy.stop()
        await csms.stop()


# -- what the central system must have received --------------------------------------------------


def check_delivery(csms: MisbehavingCsms, *, transactions: int, in_flight: int) -> None:
    """Q-2, Q-5..Q-7: each transaction complete and in order, its meter values monotonic, every message once,
    except at most ``in_flight`` messages sent again, identical, right after their first copy."""
    copies: list[list[Seen]] = []  # each distinct message with its copies, in the order of the first copy
    for call in csms.calls():
        if call.action not in TX_ACTIONS:
            continue
        if copies and (call.action, call.payload) == (copies[-1][0].action, copies[-1][0].payload):
            copies[-1].append(call)
            continue
        assert all((c[0].action, c[0].payload) != (call.action, call.payload) for c in copies), (
            f"{call.action} {call.payload} arrived again after newer messages"
        )
        copies.append([call])
    repeated = sum(len(c) - 1 for c in copies)
    assert sum(len(c) > 1 for c in copies) <= in_flight, f"more messages sent twice than faults: {copies}"
    actions = [c[0].action for c in copies]
    expected = ["StartTransaction", "MeterValues", "StopTransaction"]
    assert actions.count("StartTransaction") == transactions, actions
    stamps = [_timestamp(c[0]) for c in copies]
    assert stamps == sorted(stamps), f"not chronological (Q-2): {list(zip(actions, stamps, strict=True))}"
    index = 0
    for _ in range(transactions):
        start = copies[index]
        assert start[0].action == "StartTransaction", actions
        ids = {csms.answered[c.message_id]["transactionId"] for c in start if c.message_id in csms.answered}
        index += 1
        registers = [start[0].payload["meterStart"]]
        while copies[index][0].action == "MeterValues":
            payload = copies[index][0].payload
            assert payload["transactionId"] in ids, f"MeterValues of transaction {payload['transactionId']} not {ids}"
            registers += _registers(payload)
            index += 1
        stop = copies[index][0].payload
        assert copies[index][0].action == "StopTransaction", actions
        assert stop["transactionId"] in ids, f"StopTransaction of {stop['transactionId']}, not of {ids}"
        registers.append(stop["meterStop"])
        assert registers == sorted(registers), f"meter values not monotonic: {registers}"
        index += 1
    assert set(actions) <= set(expected) and index == len(copies), actions
    assert repeated == 0 or in_flight > 0


def _timestamp(call: Seen) -> str:
    if call.action == "MeterValues":
        return str(call.payload["meterValue"][0]["timestamp"])
    return str(call.payload["timestamp"])


def _registers(payload: dict[str, Any]) -> list[float]:
    return [
        float(sample["value"])
        for value in payload["meterValue"]
        for sample in value["sampledValue"]
        if sample.get("measurand", ENERGY) == ENERGY
    ]


def check_back_off(attempts: list[float], *, first: int) -> None:
    """T-5, T-33: the gap before each retry is at least the policy's delay for it (bounded from below only:
    a loaded machine can only make them later); ``first`` is the number of the first failed attempt."""
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    floors = [min(BACK_OFF.initial * BACK_OFF.factor ** (first + n), BACK_OFF.maximum) for n in range(len(gaps))]
    assert gaps, "no retry to measure"
    for gap, floor in zip(gaps, floors, strict=True):
        assert gap >= floor * (1 - BACK_OFF.jitter), f"gaps {gaps} below the back-off {floors}"


# -- faults on the link --------------------------------------------------------------------------


async def test_T_33_Q_7_dropped_link_is_retried_with_back_off_and_the_offline_stop_is_delivered_through_a_cut_drain(
    rig: Rig,
) -> None:
    station = await rig.boot()
    await rig.start_charging()
    rig.proxy.refuse = True
    rig.proxy.drop()
    await rig.offline()
    await rig.proxy.wait_for(lambda: len(rig.proxy.refused) >= 4, timeout=WAIT)
    check_back_off(rig.proxy.refused, first=1)
    await until(lambda: station.lane.pending() >= 2, timeout=WAIT)  # MeterValues journaled offline
    await rig.stop_charging()  # the StopTransaction is journaled while offline
    healed, index = asyncio.get_running_loop().time(), len(rig.csms.seen)
    rig.proxy.heal()
    rig.proxy.reset_mid_frame("up", b'"StopTransaction"')  # and the drain is cut short once
    await rig.back_online(healed, "drop")
    await rig.drained(healed, "drop")
    assert not rig.proxy.cut_pending
    await rig.status_told()
    assert not rig.csms.calls("BootNotification", session=len(rig.csms.opened)), "T-34: no boot on a reconnect"
    await rig.heartbeat_after(index)
    check_delivery(rig.csms, transactions=1, in_flight=1)


async def test_Q_2_delay_on_every_frame_keeps_the_order_and_sends_nothing_twice(rig: Rig) -> None:
    await rig.boot()
    rig.proxy.delay = 0.2  # a 0.4 s round trip, within MessageTimeout
    await rig.start_charging()
    await rig.stop_charging()
    healed = asyncio.get_running_loop().time()
    rig.proxy.heal()
    await rig.drained(healed, "delay")
    assert len(rig.csms.opened) == 1, "a slow link is no reason to reconnect"
    check_delivery(rig.csms, transactions=1, in_flight=0)


async def test_T_31_stalled_half_open_link_is_dropped_by_ping_and_the_backlog_follows(rig: Rig) -> None:
    station = await rig.boot(WebSocketPingInterval=1)
    await rig.start_charging()
    rig.proxy.stall()
    stalled = asyncio.get_running_loop().time()
    await rig.proxy.wait_for(lambda: not rig.proxy.open_links(), timeout=WAIT)  # the station gave up on it
    rig.record("stall: dead link dropped after (s)", round(asyncio.get_running_loop().time() - stalled, 3))
    assert rig.proxy.links[0].lost > 0, "the stall swallowed frames (the pings at least)"
    await until(lambda: station.lane.pending() >= 1, timeout=WAIT)
    await rig.stop_charging()
    healed, index = asyncio.get_running_loop().time(), len(rig.csms.seen)
    rig.proxy.heal()
    await rig.back_online(healed, "stall")
    await rig.drained(healed, "stall")
    await rig.heartbeat_after(index)
    check_delivery(rig.csms, transactions=1, in_flight=1)


@pytest.mark.parametrize(
    ("direction", "match"),
    [
        ("up", b'"StopTransaction"'),
        ("up", b'"MeterValues"'),
        ("down", b'"transactionId"'),
        ("up", b'"StartTransaction"'),
        ("up", b'"Charging"'),
    ],
    ids=["stop-call-cut", "meter-values-call-cut", "start-answer-cut", "start-call-cut", "charging-status-cut"],
)
async def test_Q_6_reset_mid_frame_loses_nothing_and_repeats_only_the_frame_in_flight(
    rig: Rig, direction: Literal["up", "down"], match: bytes
) -> None:
    await rig.boot()
    rig.proxy.reset_mid_frame(direction, match)
    await rig.start_charging()
    await rig.stop_charging()
    stopped, index = asyncio.get_running_loop().time(), len(rig.csms.seen)
    await rig.proxy.wait_for(lambda: len(rig.proxy.links) >= 2, timeout=WAIT)
    cut, what = rig.proxy.links[0].reset_at, f"reset {direction} {match.decode()}"
    assert cut is not None, "the reset hit the first connection"
    rig.record(f"{what}: reconnected after (s)", round(rig.proxy.links[1].opened_at - cut, 3))
    await rig.drained(stopped, f"{what}, from the stop")
    await rig.heartbeat_after(index)
    await rig.status_told()
    assert "Charging" in rig.statuses(), f"S-7: a status lost in flight is told after the reconnect: {rig.statuses()}"
    check_delivery(rig.csms, transactions=1, in_flight=1)


async def test_B_1_boot_notification_cut_mid_frame_is_sent_again_on_the_next_connection(rig: Rig) -> None:
    rig.proxy.reset_mid_frame("up", b'"BootNotification"')
    await rig.boot()
    assert rig.proxy.links[0].reset_at is not None and len(rig.proxy.links) == 2
    assert [s.session for s in rig.csms.calls("BootNotification")] == [2]
    await rig.heartbeat_after(0)


async def test_T_5_link_closed_after_every_handshake_is_retried_with_growing_back_off(rig: Rig) -> None:
    await rig.boot()
    await rig.start_charging()
    rig.proxy.close_after_handshake = True
    rig.proxy.drop()
    await rig.offline()
    links = len(rig.proxy.links)
    await rig.proxy.wait_for(lambda: len(rig.proxy.links) >= links + 5, timeout=WAIT)
    check_back_off([link.opened_at for link in rig.proxy.links[links:]], first=1)
    await rig.stop_charging()
    healed = asyncio.get_running_loop().time()
    rig.proxy.heal()
    await rig.back_online(healed, "closed after handshake")
    await rig.drained(healed, "closed after handshake")
    check_delivery(rig.csms, transactions=1, in_flight=1)


# -- a misbehaving central system ------------------------------------------------------------------


async def test_Q_4_central_system_that_never_answers_keeps_the_message_until_it_does(rig: Rig) -> None:
    station = await rig.boot()
    rig.csms.answers = "never"
    await rig.sim.plug(1)
    await rig.sim.swipe(TAG, 1)
    await until(lambda: len(rig.csms.calls("StartTransaction")) >= 2, timeout=WAIT)  # sent again after a timeout
    assert station.lane.pending() >= 1 and not rig.csms.calls("MeterValues"), "Q-2: nothing overtakes the start"
    await rig.stop_charging()
    healed, index = asyncio.get_running_loop().time(), len(rig.csms.seen)
    rig.csms.answers = "at once"
    await rig.drained(healed, "never answers")
    await rig.heartbeat_after(index)
    check_delivery(rig.csms, transactions=1, in_flight=1)


async def test_T_22_Q_4_late_answer_is_ignored_and_the_message_is_sent_again(rig: Rig) -> None:
    station = await rig.boot()
    rig.csms.answers, rig.csms.misbehaving = "late", TX_ACTIONS
    await rig.sim.plug(1)
    await rig.sim.swipe(TAG, 1)
    await until(lambda: len(rig.csms.calls("StartTransaction")) >= 2, timeout=WAIT)  # sent again after a timeout
    healed = asyncio.get_running_loop().time()
    rig.csms.answers = "at once"
    await until(lambda: station.connectors[1].transaction_id is not None, timeout=WAIT)
    await until(lambda: len(rig.csms.calls("MeterValues")) >= 1, timeout=WAIT)
    await rig.stop_charging()
    index = len(rig.csms.seen)
    await rig.drained(healed, "late answers")
    await rig.heartbeat_after(index)
    assert len(rig.csms.opened) == 1, "late answers are no reason to reconnect"
    check_delivery(rig.csms, transactions=1, in_flight=1)


async def test_T_5_central_system_closing_right_after_the_handshake_is_retried_with_growing_back_off(
    rig: Rig,
) -> None:
    await rig.boot()
    await rig.start_charging()
    rig.csms.close_at_once = True
    opened = len(rig.csms.opened)
    rig.proxy.drop()
    await rig.offline()
    await until(lambda: len(rig.csms.opened) >= opened + 5, timeout=WAIT)
    check_back_off(rig.csms.opened[opened:], first=1)
    await rig.stop_charging()
    healed = asyncio.get_running_loop().time()
    rig.csms.close_at_once = False
    await rig.drained(healed, "CSMS closes at once")
    check_delivery(rig.csms, transactions=1, in_flight=1)


async def test_T_15_answer_written_twice_is_applied_once(rig: Rig) -> None:
    station = await rig.boot()
    rig.csms.answers = "twice"
    await rig.start_charging()
    first_id = station.connectors[1].transaction_id
    await rig.stop_charging()
    await rig.start_charging()
    assert station.connectors[1].transaction_id != first_id
    await rig.stop_charging()
    healed, index = asyncio.get_running_loop().time(), len(rig.csms.seen)
    await rig.drained(healed, "answers twice")
    await rig.heartbeat_after(index)
    assert len(rig.csms.opened) == 1
    check_delivery(rig.csms, transactions=2, in_flight=0)
