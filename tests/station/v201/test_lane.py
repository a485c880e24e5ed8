"""The kernel's outbound lane carrying a 2.0.1 CALL: what the transactions block will journal (E04, E13). A
TransactionEvent journaled while offline is durable, goes once the boot is accepted, after the statuses, with the
station's own transactionId as it was journaled (no central-system id to fill in), and survives a restart: the lane
decodes it back into 2.0.1's Struct through the station's Version; a CALLERROR answer, or none within MessageTimeout,
is retried MessageAttemptInterval[TransactionEvent] times the attempt later, MessageAttempts[TransactionEvent] times at
most."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from chargebox.clock import VirtualClock
from chargebox.protocol.v201 import messages as m
from chargebox.store import Store
from tests.wire import Wire, make_csms, make_station


def event(seq_no: int) -> m.TransactionEventRequest:
    return m.TransactionEventRequest(
        event_type=m.TransactionEventEnumType.STARTED, timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        trigger_reason=m.TriggerReasonEnumType.CABLE_PLUGGED_IN, seq_no=seq_no, offline=True,
        transaction_info=m.TransactionType(transaction_id="tx-0001"), evse=m.EVSEType(id=1, connector_id=1),
    )  # fmt: skip


async def test_E04_a_transaction_event_journaled_offline_goes_after_the_boot_and_a_restart(tmp_path: Path) -> None:
    clock = VirtualClock()
    station = make_station(clock, Store.open(tmp_path), ocpp="2.0.1")
    await station.lane.append(event(0))
    assert station.lane.pending() == 1
    station.reset_all()
    station.store.close()
    again = make_station(clock, Store.open(tmp_path), ocpp="2.0.1")  # the power came back
    wire = Wire(again, make_csms(clock), clock)
    await wire.connect()
    await wire.until(lambda: again.lane.pending() == 0)
    assert wire.sent_actions() == ["BootNotification", "StatusNotification", "TransactionEvent"]
    sent = wire.calls("TransactionEvent")[0]
    assert (sent["transactionInfo"], sent["seqNo"], sent["offline"]) == ({"transactionId": "tx-0001"}, 0, True)
    await wire.stop()
    again.store.close()


async def test_E13_a_refused_transaction_event_is_retried_then_set_aside(wired: Callable[..., Wire]) -> None:
    attempts = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "MessageAttempts",
                                                                      "instance": "TransactionEvent"}}  # fmt: skip
    wire = wired(ocpp="2.0.1", ocpp_config=[{**attempts, "value": "2"}])

    def refuse(_request: m.TransactionEventRequest) -> m.TransactionEventResponse:
        raise RuntimeError("the central system fails to process it")

    wire.csms.policy.extra_handlers[m.Action.TRANSACTION_EVENT] = refuse
    await wire.connect()
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 1)
    await wire.station.lane.append(event(0))
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 1)
    await wire.clock.advance(60)  # MessageAttemptInterval[TransactionEvent] x 1
    await wire.until(lambda: wire.station.store.dead_letters.count() == 1)
    assert len(wire.calls("TransactionEvent")) == 2
    assert wire.station.lane.pending() == 0


async def test_E13_FR_02_an_unanswered_transaction_event_is_a_failed_attempt(wired: Callable[..., Wire]) -> None:
    """2.0.1 counts a TransactionEvent left unanswered past MessageTimeout as an attempt; 1.6 does not (Q-4)."""
    attempts = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "MessageAttempts",
                                                                      "instance": "TransactionEvent"}}  # fmt: skip
    wire = wired(ocpp="2.0.1", ocpp_config=[{**attempts, "value": "2"}])
    await wire.connect()
    await wire.until(lambda: len(wire.calls("StatusNotification")) == 1)
    wire.hold_answer_to("TransactionEvent")  # the central system's answers never reach the station
    await wire.station.lane.append(event(0))
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 1)
    await wire.clock.advance(30)  # MessageTimeout[Default]: the first attempt failed
    await wire.clock.advance(60)  # MessageAttemptInterval[TransactionEvent] x 1
    await wire.until(lambda: len(wire.calls("TransactionEvent")) == 2)
    await wire.clock.advance(30)  # the second, and last, failed too (E13.FR.04)
    await wire.until(lambda: wire.station.store.dead_letters.count() == 1)
    assert wire.station.lane.pending() == 0 and len(wire.calls("TransactionEvent")) == 2
