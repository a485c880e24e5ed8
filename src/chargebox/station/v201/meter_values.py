"""Meter values (J01, J02) and their triggers (F06): clock-aligned values, the Ended event's collected values.

Clock-aligned values (AlignedDataCtrlr): at every multiple of Interval seconds after midnight (UTC; 0: none), each
EVSE sends the readings of Measurands with context Sample.Clock, all stamped with that moment (J01.FR.14). An EVSE
without a transaction sends them in MeterValues, an ordinary CALL that is not journaled (a value of the past is not
worth keeping: offline, or before an accepted boot, it is dropped); an EVSE with one sends them in its transaction,
an Updated event with triggerReason MeterValueClock, journaled in the lane as every TransactionEvent (J01.FR.22). The
main meter (the meter port's connector 0, as 1.6's connector 0: the simulator's and the Modbus driver's sum of the
EVSEs' meters) sends its own as evseId 0, the station as a whole (J01.FR.03, J01.FR.04).
AlignedDataCtrlr.SendDuringIdle and SignReadings are optional and not offered (TC_J_04_CS, TC_J_06_CS).

The Ended event's values (E06.FR.11, TC_J_03_CS, TC_J_10_CS): during a transaction the readings of
SampledDataCtrlr.TxEndedMeasurands are collected every TxEndedInterval seconds from its start (Sample.Periodic) and
those of AlignedDataCtrlr.TxEndedMeasurands at every clock-aligned TxEndedInterval (Sample.Clock); the transactions
feature puts them between the Transaction.Begin and Transaction.End values. They are bounded: at most
``ENDED_METER_VALUES`` MeterValue elements in all and ``ENDED_BYTES`` of JSON, thinned by dropping every other
intermediate value (E06.FR.12, E06.FR.13, J02.FR.20), so a journaled Ended event fits in a frame
(``codec.MAX_FRAME_SIZE``) whatever the transaction's length and however many measurands are configured. They are
kept in memory: a power cut loses them, and the Ended event ``recover`` makes carries the begin and end registers
only (what a bill is made from).

TriggerMessage: MeterValues sends the latest readings of AlignedDataCtrlr.Measurands with context Trigger for the
EVSE named or, none named, the main meter and every EVSE (F06.FR.06, F06.FR.11); TransactionEvent sends an Updated
event with triggerReason Trigger, the chargingState and the latest readings of SampledDataCtrlr.TxUpdatedMeasurands
for the transaction of the EVSE named or of every EVSE (F06.FR.07); one for an EVSE without a transaction, or when
none runs, is Rejected (F06.FR.05).

A measurand list may hold only what the meter measures: SetVariables of another is Rejected (B05.FR.07), as is an
interval below 0 (B05.FR.08). The valuesList reported is the catalogue's, every MeasurandEnumType value: declarations
are made before a station's meter is known.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import msgspec

from chargebox.clock import Clock
from chargebox.protocol.codec import MAX_FRAME_SIZE
from chargebox.protocol.v201 import messages as m
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.meter import GuardedMeter, clock_aligned, thin
from chargebox.station.kernel.service import Permit, Service, Trigger, Triggers
from chargebox.station.v201.boot import BootService
from chargebox.station.v201.device_model import DeviceModel
from chargebox.station.v201.evses import EvsesService
from chargebox.station.v201.offer import Block
from chargebox.station.v201.transactions import (
    TX_ENDED_INTERVAL,
    TX_ENDED_MEASURANDS,
    TX_STARTED_MEASURANDS,
    TX_UPDATED_MEASURANDS,
    TransactionService,
)
from chargebox.station.v201.transactions import Trigger as TriggerReason
from chargebox.station.v201.variables import declare
from chargebox.tasks import Tasks

Context = m.ReadingContextEnumType
ENERGY: Final = m.MeasurandEnumType.ENERGY_ACTIVE_IMPORT_REGISTER.value
# E06.FR.12, J02.FR.20: the MeterValue elements an Ended event carries at most, its Transaction.Begin and
# Transaction.End ones included (about 10 kB of JSON with one measurand, 22 kB with three), and the JSON the collected
# ones may take: half a frame, the rest left for the event and its Transaction.Begin and Transaction.End values.
ENDED_METER_VALUES: Final = 48
ENDED_BYTES: Final = MAX_FRAME_SIZE // 2

ALIGNED_MEASURANDS: Final = declare(
    "AlignedDataCtrlr", "Measurands", default=ENERGY,
    description="Measurands of the clock-aligned values, in MeterValues or an Updated event (J01.FR.14, J01.FR.22)",
)  # fmt: skip
ALIGNED_INTERVAL: Final = declare(
    "AlignedDataCtrlr", "Interval", default="0", min_limit=0,
    description="Seconds between clock-aligned values, counted from midnight (UTC); 0: none",
)  # fmt: skip
ALIGNED_TX_ENDED_MEASURANDS: Final = declare(
    "AlignedDataCtrlr", "TxEndedMeasurands", default="",
    description="Clock-aligned measurands a transaction collects for its Ended event",
)  # fmt: skip
ALIGNED_TX_ENDED_INTERVAL: Final = declare(
    "AlignedDataCtrlr", "TxEndedInterval", default="0", min_limit=0,
    description="Seconds between the clock-aligned values an Ended event carries, from midnight (UTC); 0: none",
)  # fmt: skip
MEASURAND_LISTS: Final = (
    ALIGNED_MEASURANDS, ALIGNED_TX_ENDED_MEASURANDS, TX_STARTED_MEASURANDS, TX_UPDATED_MEASURANDS, TX_ENDED_MEASURANDS,
)  # fmt: skip


@dataclass(slots=True)
class Collecting:
    """What one EVSE's transaction collects for its Ended event."""

    values: list[m.MeterValueType] = field(default_factory=list)
    sampler: asyncio.Future[Any] | None = None


class MeterValuesService(Service[m.Action]):
    """MeterValues, clock-aligned TransactionEvents, the Ended event's values, and their triggers."""

    def __init__(
        self,
        *,
        lane: Lane,
        model: DeviceModel,
        clock: Clock,
        meter: GuardedMeter,
        boot: BootService,
        transactions: TransactionService,
        evses: int,
        log: logging.LoggerAdapter[logging.Logger] | logging.Logger,
    ) -> None:
        self._lane = lane
        self._model = model
        self._clock = clock
        self._boot = boot
        self._transactions = transactions
        self._evses = range(1, evses + 1)
        self._tasks = Tasks(log, "meter values")
        self._running: list[asyncio.Future[Any]] = []
        self._collecting: dict[int, Collecting] = {}
        self._aligned_changed = asyncio.Event()
        self._ended_changed = asyncio.Event()
        model.subscribe(ALIGNED_INTERVAL.key, lambda _value: self._aligned_changed.set())
        model.subscribe(ALIGNED_TX_ENDED_INTERVAL.key, lambda _value: self._ended_changed.set())
        measured = meter.measurands()
        for variable in MEASURAND_LISTS:  # B05.FR.07: only what this meter measures
            model.add_rule(variable.key, lambda value: all(item in measured for item in value.split(",") if item))

    def run_clock_aligned(self) -> None:
        """An accepted boot, or a transaction that starts before one (offline): the clock-aligned loops run from now
        on (again, after a reboot)."""
        if self._running and not any(task.done() for task in self._running):
            return
        for task in self._running:
            task.cancel()
        interval, ended = ALIGNED_INTERVAL.key, ALIGNED_TX_ENDED_INTERVAL.key
        self._running = [
            self._tasks.supervise(lambda: clock_aligned(self._clock, lambda: self._model.get_int(interval, 0),
                                                        self._aligned_changed, self._aligned), self._clock,
                                  "clock-aligned meter values"),
            self._tasks.supervise(lambda: clock_aligned(self._clock, lambda: self._model.get_int(ended, 0),
                                                        self._ended_changed, self._aligned_ended), self._clock,
                                  "clock-aligned values for Ended events"),
        ]  # fmt: skip

    # -- the transactions feature's MeterData ---------------------------------------------------

    def started(self, evse: int) -> None:
        self.run_clock_aligned()  # its clock-aligned values are due even if no boot was accepted yet
        collecting = self._collecting[evse] = Collecting()
        interval = self._model.get_int(TX_ENDED_INTERVAL.key, 0)
        if interval > 0:
            collecting.sampler = self._tasks.spawn(self._sample_for_end(evse, collecting, interval))

    def ending(self, evse: int) -> list[m.MeterValueType]:
        collecting = self._collecting.pop(evse, None)
        if collecting is None:
            return []
        if collecting.sampler is not None:
            collecting.sampler.cancel()
        values = thin(collecting.values, ENDED_METER_VALUES - 2)  # room for Transaction.Begin and Transaction.End
        while values and len(msgspec.json.encode(values)) > ENDED_BYTES:  # many measurands: fewer moments
            values = thin(values, len(values) - 1) if len(values) > 2 else values[1:]
        return values

    # -- triggers -------------------------------------------------------------------------------

    def triggers(self, permit: Permit) -> Triggers:
        async def meter_values(evse: int | None) -> None:
            for each in (0, *self._evses) if evse is None else (evse,):  # F06.FR.11: all of them, none named
                values = self._transactions.sample(each, ALIGNED_MEASURANDS.key, Context.TRIGGER)  # F06.FR.06
                if values:
                    permit(m.Action.METER_VALUES)  # B02.FR.02: also while Pending
                    await self._lane.call(m.MeterValuesRequest(evse_id=each, meter_value=values))

        async def transaction_event(evse: int | None) -> None:
            for each in self._evses if evse is None else (evse,):
                values = self._transactions.sample(each, TX_UPDATED_MEASURANDS.key, Context.TRIGGER)
                await self._transactions.meter_event(each, TriggerReason.TRIGGER, values, tell_state=True)  # F06.FR.07

        def running(evse: int | None) -> bool:
            return any(self._transactions.transaction_id(e) is not None for e in self._evses if evse in (None, e))

        triggered = m.MessageTriggerEnumType
        return {
            triggered.METER_VALUES: Trigger(meter_values, per_connector=True),
            triggered.TRANSACTION_EVENT: Trigger(transaction_event, accepts=running, per_connector=True),
        }

    def reset(self) -> None:
        """Runtime state only: the loops start again at the next accepted boot; what was collected for a transaction
        a reboot cut is gone with it (``recover`` ends it with its begin and end registers)."""
        self._tasks.cancel()
        self._running = []
        self._collecting.clear()

    # -- internals ------------------------------------------------------------------------------

    async def _aligned(self, due: datetime) -> None:
        """J01.FR.14, J01.FR.22: each EVSE's clock-aligned values, in its transaction or in MeterValues."""
        for evse in (0, *self._evses):
            values = self._transactions.sample(evse, ALIGNED_MEASURANDS.key, Context.SAMPLE_CLOCK, due)
            if not values:
                continue
            if await self._transactions.meter_event(evse, TriggerReason.METER_VALUE_CLOCK, values):
                continue
            if self._lane.connected and self._boot.accepted:  # not a transaction's: not kept while offline
                self._lane.submit(m.MeterValuesRequest(evse_id=evse, meter_value=values))

    async def _aligned_ended(self, due: datetime) -> None:
        for evse, collecting in list(self._collecting.items()):
            self._collect(collecting, self._transactions.sample(evse, ALIGNED_TX_ENDED_MEASURANDS.key,
                                                                Context.SAMPLE_CLOCK, due))  # fmt: skip

    async def _sample_for_end(self, evse: int, collecting: Collecting, interval: int) -> None:
        while True:
            await self._clock.sleep(interval)
            self._collect(collecting, self._transactions.sample(evse, TX_ENDED_MEASURANDS.key, Context.SAMPLE_PERIODIC))

    def _collect(self, collecting: Collecting, values: list[m.MeterValueType]) -> None:
        collecting.values.extend(values)
        if len(collecting.values) > 2 * ENDED_METER_VALUES:  # E06.FR.13: memory bounded as the transaction goes
            collecting.values = thin(collecting.values, ENDED_METER_VALUES)


def _build(kernel: Kernel[DeviceModel], needs: Needs) -> MeterValuesService:
    transactions = needs(TransactionService)
    service = MeterValuesService(
        lane=kernel.lane, model=kernel.config, clock=kernel.clock, meter=kernel.meter, boot=needs(BootService),
        transactions=transactions, evses=len(needs(EvsesService).evses), log=kernel.log,
    )  # fmt: skip
    transactions.meter_data.append(service)
    return service


FEATURE: Final = Feature(
    name="meter_values",
    profile=Block.METER_VALUES,
    service=MeterValuesService,
    build=_build,
    variables=(ALIGNED_MEASURANDS, ALIGNED_INTERVAL, ALIGNED_TX_ENDED_MEASURANDS, ALIGNED_TX_ENDED_INTERVAL),
    needs=(BootService, EvsesService, TransactionService),
)
