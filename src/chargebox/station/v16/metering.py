"""Meter values: sampled, clock-aligned, triggered, and kept for StopTransaction (checklist 5.4).

Sends: MeterValues. Periodic samples of a transaction (MeterValueSampleInterval,
MeterValuesSampledData, MV-1) and clock-aligned samples of a connector with a transaction
(ClockAlignedDataInterval, MeterValuesAlignedData, MV-2) are transaction messages: they are journaled
in the outbound lane. Clock-aligned samples of connector 0 and of idle connectors are not, and are
dropped while offline. StopTxnSampledData / StopTxnAlignedData samples are kept with the transaction for
StopTransaction's transactionData, with Transaction.Begin and Transaction.End values (MV-3) and at
most StopTransactionMaxMeterValues of them (MV-4).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

import msgspec

from chargebox import hal
from chargebox.clock import Clock, Event, sleep_or_wake
from chargebox.log import Log
from chargebox.protocol.messages import (
    Action,
    MessageTrigger,
    MeterValue,
    MeterValuesRequest,
    ReadingContext,
    SampledValue,
    StopTransactionMeterValue,
)
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.config import Configuration
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane, encode
from chargebox.station.kernel.meter import clock_aligned, thin
from chargebox.station.kernel.service import Service, Trigger, Triggers
from chargebox.station.v16.config_keys import MEASURANDS, Profile
from chargebox.station.v16.connectors import ConnectorsService
from chargebox.store import Store
from chargebox.tasks import Tasks

_stop_value_decoder: Final = msgspec.json.Decoder(StopTransactionMeterValue)
# What a power cut may cost (docs/reliability.md): between samples the register of a running
# transaction is persisted once it has advanced REGISTER_STEP_WH, or REGISTER_STEP_S after the last
# time, looked at every REGISTER_POLL_S: at most 5 s of charging is lost, without an fsync storm.
REGISTER_STEP_WH: Final = 10
REGISTER_STEP_S: Final = 5.0
REGISTER_POLL_S: Final = 1.0


class MeteringService(Service):
    def __init__(
        self,
        *,
        lane: Lane,
        store: Store,
        clock: Clock,
        config: Configuration,
        connectors: ConnectorsService,
        meter: hal.EnergyMeter,
        log: Log,
    ) -> None:
        self._lane = lane
        self._store = store
        self._clock = clock
        self._config = config
        self._connectors = connectors
        self._meter = meter
        self._log = log
        self._tasks = Tasks(log, "metering")
        self._sampling: dict[int, asyncio.Future[Any]] = {}
        self._keepers: dict[int, asyncio.Future[Any]] = {}
        self._persisted: dict[int, tuple[int, float]] = {}  # connector -> (register Wh, monotonic time)
        # connector -> the transaction whose StopTransaction is being journaled: the connector still holds
        # its ref until that commit, but no MeterValues of it may take a place behind its StopTransaction
        self._stopping: dict[int, int] = {}
        self._aligned: asyncio.Future[Any] | None = None
        self._changed = Event()
        for key in ("MeterValueSampleInterval", "ClockAlignedDataInterval"):
            config.subscribe(key, lambda _value: self._changed.set())
        supported = meter.measurands()
        for key in ("MeterValuesSampledData", "MeterValuesAlignedData", "StopTxnSampledData", "StopTxnAlignedData"):
            if config.has(key):  # MV-5: only what this meter can measure
                config.add_rule(key, lambda value: all(item in supported for item in value.split(",") if item))

    # -- transactions ---------------------------------------------------------------------------

    async def transaction_started(self, connector_id: int, ref: int, started: datetime) -> None:
        self._stopping.pop(connector_id, None)
        # MV-3: the Transaction.Begin values
        await self._record(connector_id, ref, ReadingContext.TRANSACTION_BEGIN, started, send=[],
                           keep=self._stop_items())  # fmt: skip
        self._sampling[connector_id] = self._tasks.supervise(
            lambda: self._sample_transaction(connector_id, ref), self._clock, f"sampling connector {connector_id}"
        )
        self._keepers[connector_id] = self._tasks.supervise(
            lambda: self._keep_register(connector_id, ref), self._clock, f"register of connector {connector_id}"
        )

    async def transaction_stopping(
        self, connector_id: int, ref: int, stopped: datetime
    ) -> list[StopTransactionMeterValue]:
        self._stopping[connector_id] = ref
        for tasks in (self._sampling, self._keepers):
            task = tasks.pop(connector_id, None)
            if task is not None:
                task.cancel()
        self._persisted.pop(connector_id, None)
        end = self.sample(connector_id, self._stop_items(), ReadingContext.TRANSACTION_END, stopped)
        values = self._kept(ref)
        if end is not None:
            values.append(_as_stop_value(end))
        return self._thin(values)

    async def persist_registers(self) -> None:
        """A clean shutdown: the exact register of every running transaction, so nothing is lost."""
        for connector in self._connectors.connectors[1:]:
            if connector.transaction_ref is not None:
                await self._persist_register(connector.id, connector.transaction_ref)

    async def _keep_register(self, connector_id: int, ref: int) -> None:
        while True:
            await self._clock.sleep(REGISTER_POLL_S)
            energy = self._meter.energy_wh(connector_id)
            wh, at = self._persisted.get(connector_id, (0, float("-inf")))
            if energy - wh >= REGISTER_STEP_WH or self._clock.monotonic() - at >= REGISTER_STEP_S:
                await self._persist_register(connector_id, ref, energy)

    async def _persist_register(self, connector_id: int, ref: int, energy: int | None = None) -> None:
        energy = self._meter.energy_wh(connector_id) if energy is None else energy
        self._persisted[connector_id] = (energy, self._clock.monotonic())
        await self._store.transactions.record_register(
            ref, connector_id=connector_id, meter_wh=energy, at=self._clock.now().isoformat()
        )

    def stored_samples(self, ref: int) -> list[StopTransactionMeterValue]:
        """The transactionData kept so far (a power loss leaves no Transaction.End value)."""
        return self._thin(self._kept(ref))

    def _kept(self, ref: int) -> list[StopTransactionMeterValue]:
        return [_stop_value_decoder.decode(raw) for raw in self._store.transactions.samples(ref)]

    def _thin(self, values: list[StopTransactionMeterValue]) -> list[StopTransactionMeterValue]:
        """MV-4: over StopTransactionMaxMeterValues, drop every other intermediate value, never the
        first (Transaction.Begin) or the last (Transaction.End)."""
        return thin(values, self._config.get_int("StopTransactionMaxMeterValues", default=0))

    async def _sample_transaction(self, connector_id: int, ref: int) -> None:
        """MV-1: every MeterValueSampleInterval from the transaction start."""
        while True:
            self._changed.clear()
            interval = self._config.get_int("MeterValueSampleInterval")
            if interval <= 0:
                await self._changed.wait()
                continue
            if not await sleep_or_wake(self._clock, interval, self._changed):
                continue
            await self._record(
                connector_id,
                ref,
                ReadingContext.SAMPLE_PERIODIC,
                self._clock.now(),
                send=self._config.get_list("MeterValuesSampledData"),
                keep=self._config.get_list("StopTxnSampledData"),
            )

    async def _record(
        self, connector_id: int, ref: int, context: ReadingContext, when: datetime, *, send: list[str], keep: list[str]
    ) -> None:
        """One reading of the meter: the MeterValues to queue, the sample kept for StopTransaction
        and the register, all in one commit (a crash never leaves a queued value ahead of the
        register a restart continues from, X-15)."""
        energy = self._meter.energy_wh(connector_id)
        readings = self._meter.read(connector_id)
        sent = self.sample(connector_id, send, context, when, readings)
        kept = self.sample(connector_id, keep, context, when, readings)
        message = None
        if sent is not None:
            request = MeterValuesRequest(connector_id=connector_id, transaction_id=0, meter_value=[sent])
            message = (Action.METER_VALUES.value, encode(request))
        stop_sample = None if kept is None else encode(kept)
        self._persisted[connector_id] = (energy, self._clock.monotonic())
        await self._lane.journal(
            lambda queued: self._store.transactions.record_sample(
                ref,
                connector_id=connector_id,
                meter_wh=energy,
                at=self._clock.now().isoformat(),
                stop_sample=stop_sample,
                message=message,
                queued=queued,
            )
        )

    def _stop_items(self) -> list[str]:
        items = self._config.get_list("StopTxnSampledData") + self._config.get_list("StopTxnAlignedData")
        return list(dict.fromkeys(items))

    # -- clock-aligned --------------------------------------------------------------------------

    def online(self) -> None:
        if self._aligned is None or self._aligned.done():
            self._aligned = self._tasks.supervise(self._clock_aligned, self._clock, "clock-aligned sampling")

    async def _clock_aligned(self) -> None:
        """MV-2: at every multiple of ClockAlignedDataInterval after midnight (UTC)."""
        await clock_aligned(self._clock, lambda: self._config.get_int("ClockAlignedDataInterval"), self._changed,
                            self._aligned_sample)  # fmt: skip

    async def _aligned_sample(self, when: datetime) -> None:
        items = self._config.get_list("MeterValuesAlignedData")
        for connector in self._connectors.connectors:
            ref = connector.transaction_ref
            if ref is not None and self._stopping.get(connector.id) == ref:
                continue  # its Transaction.End value goes in the StopTransaction instead
            if ref is not None:
                await self._record(connector.id, ref, ReadingContext.SAMPLE_CLOCK, when, send=items,
                                   keep=self._config.get_list("StopTxnAlignedData"))  # fmt: skip
            elif self._lane.connected:  # not a transaction message: not journaled (MV-8: no transactionId)
                value = self.sample(connector.id, items, ReadingContext.SAMPLE_CLOCK, when)
                if value is not None:
                    await self._lane.call(MeterValuesRequest(connector_id=connector.id, meter_value=[value]))

    # -- trigger --------------------------------------------------------------------------------

    def triggers(self, permit: Callable[[Action], None]) -> Triggers:
        async def meter_values(connector_id: int | None) -> None:
            """C-30: the latest values of MeterValuesSampledData, context Trigger, per connector."""
            items = self._config.get_list("MeterValuesSampledData")
            for cid in range(1, self._connectors.count + 1) if connector_id is None else (connector_id,):
                value = self.sample(cid, items, ReadingContext.TRIGGER, self._clock.now())
                if value is None:
                    continue
                transaction_id = self._connectors[cid].transaction_id
                permit(Action.METER_VALUES)
                await self._lane.call(
                    MeterValuesRequest(
                        connector_id=cid,
                        transaction_id=msgspec.UNSET if transaction_id is None else transaction_id,
                        meter_value=[value],
                    )
                )

        return {MessageTrigger.METER_VALUES: Trigger(meter_values, per_connector=True)}

    # -- sampling -------------------------------------------------------------------------------

    def sample(
        self,
        connector_id: int,
        items: list[str],
        context: ReadingContext,
        when: datetime,
        readings: list[hal.Reading] | None = None,
    ) -> MeterValue | None:
        """One MeterValue with every reading the items ask for (MV-6: all phases a bare measurand has)."""
        if not items:
            return None
        readings = self._meter.read(connector_id) if readings is None else readings
        values: list[SampledValue] = []
        for item in items:
            measurand, phase = (item, None) if item in MEASURANDS else item.rsplit(".", 1)
            for reading in readings:
                if reading.measurand == measurand and (phase is None or (reading.phase or "") == phase):
                    values.append(_sampled_value(reading, context))
        return MeterValue(timestamp=when, sampled_value=values) if values else None

    def reset(self) -> None:
        self._tasks.cancel()
        self._sampling.clear()
        self._keepers.clear()
        self._persisted.clear()
        self._stopping.clear()
        self._aligned = None


def _sampled_value(reading: hal.Reading, context: ReadingContext) -> SampledValue:
    value = reading.value
    text = str(int(value)) if float(value).is_integer() else f"{value:.3f}".rstrip("0")
    return SampledValue(
        value=text,
        context=context,
        measurand=reading.measurand,
        location=reading.location,
        phase=msgspec.UNSET if reading.phase is None else reading.phase,
        unit=msgspec.UNSET if reading.unit is None else reading.unit,
    )


def _as_stop_value(value: MeterValue) -> StopTransactionMeterValue:
    return _stop_value_decoder.decode(encode(value))


def _build(kernel: Kernel, needs: Needs) -> MeteringService:
    return MeteringService(lane=kernel.lane, store=kernel.store, config=kernel.config, clock=kernel.clock,
                           connectors=needs(ConnectorsService), meter=kernel.meter, log=kernel.log)  # fmt: skip


FEATURE: Final = Feature(
    name="metering",
    profile=Profile.CORE,
    service=MeteringService,
    build=_build,
    keys=frozenset({
        "ClockAlignedDataInterval", "MeterValuesAlignedData", "MeterValuesAlignedDataMaxLength",
        "MeterValuesSampledData", "MeterValuesSampledDataMaxLength", "MeterValueSampleInterval",
        "StopTransactionMaxMeterValues", "StopTxnAlignedData", "StopTxnAlignedDataMaxLength", "StopTxnSampledData",
        "StopTxnSampledDataMaxLength",
    }),
    needs=(ConnectorsService,),
)  # fmt: skip
