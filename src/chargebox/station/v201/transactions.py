"""Transactions (E01 to E15) and their remote control (F01 to F03): TransactionEvent Started, Updated, Ended.

Per EVSE the station follows three conditions: EVConnected (a cable), Authorized (an idToken accepted) and
PowerPathClosed (both: the contactor is closed). A transaction starts when any condition of TxCtrlr.TxStartPoint is met
(E01.FR.02, E01.FR.03, E01.FR.05) and ends when a condition of TxCtrlr.TxStopPoint that was met during it no longer is
(E06.FR.02, E06.FR.03, E06.FR.06); the event that does it is the Started or Ended event's triggerReason, and every other
change during the transaction is an Updated event (E02). The station makes the transactionId (a UUID, never the same
twice: E01.FR.08), numbers the events of a transaction from seqNo 0 (E01.FR.07), names the idToken in the event after
the authorization (E03.FR.01), marks an event made offline with ``offline`` (E04.FR.03) and sends meter values of
SampledDataCtrlr's measurands: TxStartedMeasurands in Started (Transaction.Begin), TxUpdatedMeasurands every
TxUpdatedInterval (Sample.Periodic), TxEndedMeasurands in Ended (Transaction.Begin and Transaction.End, E06.FR.11),
with what the meter values feature (``meter_values.py``, its ``MeterData``) collected for the Ended event between them.

Every TransactionEvent is journaled in the kernel's lane in one commit with the transaction's row
(``store/transaction_events.py``): durable before sent, sent in order after a reconnect (E04, E12), retried as
OCPPCommCtrlr.MessageAttempts/MessageAttemptInterval[TransactionEvent] say (E13). A transaction a power cut left open is
ended at the next start with stoppedReason PowerLoss, one a reboot cut with Reboot (``recover``); a clean stop ends each
with its reason (``stop_all``). An idToken the central system refuses in a TransactionEventResponse ends its
authorization (StopTxOnInvalidId: E05.FR.09, E05.FR.10) or suspends its energy.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol

import msgspec

from chargebox.clock import Clock, TimerHandle
from chargebox.protocol.v201 import datetimes
from chargebox.protocol.v201 import messages as m
from chargebox.rpc import Handler, Reply
from chargebox.station.feature import Feature, Needs
from chargebox.station.front import Outcome
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane, encode
from chargebox.station.kernel.meter import GuardedMeter
from chargebox.station.kernel.service import Service
from chargebox.station.kernel.settings import Ports
from chargebox.station.v201.authorization import AUTHORIZE_REMOTE_START, AuthorizationService
from chargebox.station.v201.availability import AvailabilityService
from chargebox.station.v201.boot import BootService
from chargebox.station.v201.device_model import DeviceModel
from chargebox.station.v201.evses import EvsesService
from chargebox.station.v201.offer import Block
from chargebox.station.v201.reset import ResetService
from chargebox.station.v201.unlock import UnlockService
from chargebox.station.v201.variables import Mutability, declare
from chargebox.store import Store
from chargebox.store.transaction_events import TransactionEventsTable, TxRecord
from chargebox.tasks import Tasks

Event = m.TransactionEventEnumType
Trigger = m.TriggerReasonEnumType
Reason = m.ReasonEnumType
State = m.ChargingStateEnumType
EV_CONNECTED, AUTHORIZED, POWER_PATH_CLOSED = "EVConnected", "Authorized", "PowerPathClosed"
POINTS: Final = (EV_CONNECTED, AUTHORIZED, POWER_PATH_CLOSED)
ENERGY: Final = m.MeasurandEnumType.ENERGY_ACTIVE_IMPORT_REGISTER.value
OFFERED_CURRENT: Final = 32.0  # amps per phase offered to the EV while the power path is closed (no smart charging yet)

TX_START_POINT: Final = declare(
    "TxCtrlr", "TxStartPoint", mutability=Mutability.READ_WRITE, default=POWER_PATH_CLOSED, values=POINTS,
    description="What starts a transaction: the first of these met (use case E01)",
)  # fmt: skip
TX_STOP_POINT: Final = declare(
    "TxCtrlr", "TxStopPoint", mutability=Mutability.READ_WRITE, default=f"{EV_CONNECTED},{AUTHORIZED}",
    values=POINTS,
    description="What ends a transaction: the first of these, met during it, that no longer is (use case E06)",
)  # fmt: skip
EV_CONNECTION_TIME_OUT: Final = declare(
    "TxCtrlr", "EVConnectionTimeOut", default="60", min_limit=1,
    description="Seconds an authorization waits for a cable before it lapses (E03.FR.05)",
)  # fmt: skip
STOP_TX_ON_EV_SIDE_DISCONNECT: Final = declare(
    "TxCtrlr", "StopTxOnEVSideDisconnect", mutability=Mutability.READ_ONLY, default="true",
    description="A cable pulled at the EV ends the transaction; this station's cables have one side",
)  # fmt: skip
STOP_TX_ON_INVALID_ID: Final = declare(
    "TxCtrlr", "StopTxOnInvalidId", default="true",
    description="An idToken the central system refuses in a TransactionEventResponse ends its authorization",
)  # fmt: skip
TX_STARTED_MEASURANDS: Final = declare(
    "SampledDataCtrlr", "TxStartedMeasurands", default=ENERGY, description="Measurands of a Started event",
)  # fmt: skip
TX_UPDATED_MEASURANDS: Final = declare(
    "SampledDataCtrlr", "TxUpdatedMeasurands", default=ENERGY, description="Measurands of a periodic Updated event"
)
TX_UPDATED_INTERVAL: Final = declare(
    "SampledDataCtrlr", "TxUpdatedInterval", default="60", min_limit=0,
    description="Seconds between the Updated events with meter values during a transaction; 0: none",
)  # fmt: skip
TX_ENDED_MEASURANDS: Final = declare(
    "SampledDataCtrlr", "TxEndedMeasurands", default=ENERGY,
    description="Measurands of an Ended event, read at the start and at the end of the transaction",
)  # fmt: skip
TX_ENDED_INTERVAL: Final = declare(
    "SampledDataCtrlr", "TxEndedInterval", default="0", min_limit=0,
    description="Seconds between the samples of TxEndedMeasurands an Ended event carries; 0: at the start and end only",
)  # fmt: skip
STOP_REASONS: Final = {
    "HardReset": Reason.IMMEDIATE_RESET, "SoftReset": Reason.IMMEDIATE_RESET, "UnlockCommand": Reason.OTHER,
}  # fmt: skip  # the 1.6 spellings of a SIGTERM reason 2.0.1 names otherwise; the others are spelt alike


def reason_for(sigterm_reason: str) -> Reason:
    """The settings' SIGTERM reason (1.6's Reason vocabulary) as 2.0.1's ReasonEnumType."""
    if sigterm_reason in STOP_REASONS:
        return STOP_REASONS[sigterm_reason]
    try:
        return Reason(sigterm_reason)
    except ValueError:
        return Reason.OTHER


class MeterData(Protocol):
    """Told when a transaction starts on an EVSE; asked, when it ends, for the meter values it collected meanwhile for
    the Ended event (between the Transaction.Begin and Transaction.End ones)."""

    def started(self, evse: int) -> None: ...

    def ending(self, evse: int) -> list[m.MeterValueType]: ...


@dataclass(slots=True)
class Tx:
    """A running transaction as the service follows it."""

    ref: int
    transaction_id: str
    meter_start: int
    seq_no: int = 0
    reached: set[str] = field(default_factory=set)  # the conditions met during it (a stop point must be, first)
    state: State | None = None  # the chargingState last sent
    remote_start_id: int | None = None  # sent once, in the next event (F01.FR.25, F02.FR.21)
    started: datetime | None = None  # the moment of its Transaction.Begin value


@dataclass(slots=True)
class EvseState:
    """One EVSE's conditions and its transaction."""

    plugged: bool = False
    token: m.IdTokenType | None = None  # the idToken that authorizes charging here
    token_told: bool = False  # the central system heard it in a TransactionEvent
    remote_start_id: int | None = None
    suspended: bool = False  # the central system refused the idToken and StopTxOnInvalidId is false
    cable_spent: bool = False  # a transaction ended with this cable in: the cable alone starts no other
    closed: bool = False  # the contactor is closed
    tx: Tx | None = None
    timeout: TimerHandle | None = None
    sampler: asyncio.Future[Any] | None = None


class TransactionService(Service[m.Action]):
    """TransactionEvent, RequestStartTransaction, RequestStopTransaction, GetTransactionStatus."""

    def __init__(
        self,
        *,
        lane: Lane,
        store: Store,
        model: DeviceModel,
        clock: Clock,
        ports: Ports,
        meter: GuardedMeter,
        boot: BootService,
        evses: EvsesService,
        authorization: AuthorizationService,
        idle: Callable[[], None],
        log: logging.LoggerAdapter[logging.Logger] | logging.Logger,
    ) -> None:
        self._lane = lane
        self._table = TransactionEventsTable(store)
        self._model = model
        self._clock = clock
        self._ports = ports
        self._meter = meter
        self._boot = boot
        self._evses = evses
        self._authorization = authorization
        self._idle = idle
        self._log = log
        self._tasks = Tasks(log, "transactions")
        self._state = {evse: EvseState() for evse in range(1, len(evses.evses) + 1)}
        self.meter_data: list[MeterData] = []
        lane.on_answer[m.Action.TRANSACTION_EVENT.value] = self._answered

    def handlers(self) -> dict[m.Action, Handler]:
        return {
            m.Action.REQUEST_START_TRANSACTION: self.on_request_start_transaction,
            m.Action.REQUEST_STOP_TRANSACTION: self.on_request_stop_transaction,
            m.Action.GET_TRANSACTION_STATUS: self.on_get_transaction_status,
        }

    # -- what the central system asks ----------------------------------------------------------

    def on_request_start_transaction(
        self, request: m.RequestStartTransactionRequest
    ) -> m.RequestStartTransactionResponse | Reply[m.RequestStartTransactionResponse]:
        evse = self._free_evse() if request.evse_id is msgspec.UNSET else request.evse_id
        here = self._state.get(evse) if evse is not None else None
        if evse is None or here is None or here.token is not None or not self._boot.accepted or not self._usable(evse):
            return m.RequestStartTransactionResponse(status=m.RequestStartStopStatusEnumType.REJECTED)  # F01.FR.23/24
        running = here.tx.transaction_id if here.tx is not None else msgspec.UNSET  # F01.FR.13: already started

        async def start() -> None:
            if self._model.get_bool(AUTHORIZE_REMOTE_START.key):  # F01.FR.01, F02.FR.09
                info = await self._authorization.authorize(request.id_token)
                if info.status is not m.AuthorizationStatusEnumType.ACCEPTED:
                    self._log.info("= remote start on EVSE %d: idToken %s", evse, info.status)
                    return
            remote_start_id = request.remote_start_id  # F02.FR.21: told in the next TransactionEvent
            await self._authorized(evse, request.id_token, Trigger.REMOTE_START, remote_start_id=remote_start_id)

        return Reply(m.RequestStartTransactionResponse(status=m.RequestStartStopStatusEnumType.ACCEPTED,
                                                       transaction_id=running), then=start)  # fmt: skip

    def on_request_stop_transaction(
        self, request: m.RequestStopTransactionRequest
    ) -> m.RequestStopTransactionResponse | Reply[m.RequestStopTransactionResponse]:
        evse = self._evse_of(request.transaction_id)
        if evse is None:
            return m.RequestStopTransactionResponse(status=m.RequestStartStopStatusEnumType.REJECTED)  # F03.FR.08

        async def stop() -> None:
            await self._deauthorized(evse, Trigger.REMOTE_STOP, Reason.REMOTE)  # F03.FR.07, F03.FR.02

        return Reply(m.RequestStopTransactionResponse(status=m.RequestStartStopStatusEnumType.ACCEPTED), then=stop)

    def on_get_transaction_status(self, request: m.GetTransactionStatusRequest) -> m.GetTransactionStatusResponse:
        if request.transaction_id is msgspec.UNSET:
            return m.GetTransactionStatusResponse(messages_in_queue=self._table.queued())  # E14.FR.06
        record = self._table.find(request.transaction_id)
        if record is None:
            return m.GetTransactionStatusResponse(messages_in_queue=False)  # E14.FR.01: unknown, nothing queued
        return m.GetTransactionStatusResponse(
            ongoing_indicator=self._evse_of(request.transaction_id) is not None,  # E14.FR.02, E14.FR.03
            messages_in_queue=self._table.queued(record.ref),  # E14.FR.04, E14.FR.05
        )

    # -- hardware events ----------------------------------------------------------------------

    async def plugged(self, evse: int) -> Outcome:
        here = self._state[evse]
        here.plugged = True
        self._evses.plugged(evse)
        self._cancel_timeout(here)
        await self._changed(evse, Trigger.CABLE_PLUGGED_IN)
        return self._outcome(evse, "Occupied")

    def cable_in(self, evse: int) -> None:
        """A cable found in at a start or after a reboot: Occupied, and no transaction of its own (the one it had,
        if any, was ended by ``recover``)."""
        here = self._state[evse]
        here.plugged = here.cable_spent = True
        self._evses.plugged(evse)

    async def unplugged(self, evse: int) -> None:
        here = self._state[evse]
        here.plugged = here.cable_spent = False
        self._evses.unplugged(evse)
        await self._changed(evse, Trigger.EV_COMMUNICATION_LOST, Reason.EV_DISCONNECTED)  # E06.FR.02, E06.FR.06

    async def id_token_presented(self, id_tag: str, evse: int | None) -> Outcome:
        """A card at a reader (``evse`` None: the station's one reader): the same idToken again stops what it
        authorized (C01.FR.03, StopAuthorized), another is authorized for a free EVSE (use case C01)."""
        token = m.IdTokenType(id_token=id_tag, type=m.IdTokenEnumType.ISO14443)
        mine = next((e for e, s in self._state.items() if s.token == token and (evse is None or e == evse)), None)
        if mine is not None:
            await self._deauthorized(mine, Trigger.STOP_AUTHORIZED, Reason.LOCAL)
            return Outcome("stopped", mine, Reason.LOCAL.value)
        target = evse if evse is not None else self._free_evse()
        if target is None or target not in self._state or self._state[target].token is not None:
            return Outcome("refused", target, "no EVSE free for this idToken")
        if not self._usable(target):
            return Outcome("refused", target, f"EVSE {target} is {self._evses.evse_status(target)}")
        info = await self._authorization.authorize(token)
        if info.status is not m.AuthorizationStatusEnumType.ACCEPTED:
            self._log.info("= idToken %s at EVSE %d: %s", id_tag, target, info.status)
            return Outcome("refused", target, info.status.value)
        await self._authorized(target, token, Trigger.AUTHORIZED)
        return self._outcome(target, "Authorized")

    # -- the station's life ---------------------------------------------------------------------

    async def recover(self, reason: Reason, placed: asyncio.Event | None = None) -> None:
        """End every transaction the store holds open, with ``reason`` (PowerLoss at a start, Reboot after a
        reboot): what a power cut or a restart left of them is ended before anything newer is journaled."""
        endings = []
        for record in self._table.open():
            self._log.info("= transaction %s on EVSE %d was cut: ended with %s", record.transaction_id,
                           record.evse, reason)  # fmt: skip
            payload = encode(self._ended(record, Trigger.ABNORMAL_CONDITION, reason))
            endings.append(self._journal(record.ref, payload, ended=True))
        if placed is not None:
            placed.set()
        for ending in endings:
            await ending

    async def stop_all(self, reason: Reason) -> None:
        """A clean stop (SIGTERM, X-8 in 1.6's words): every transaction ends with ``reason``."""
        for evse, here in self._state.items():
            if here.tx is not None:
                await self._end(evse, Trigger.ABNORMAL_CONDITION, reason)

    def busy(self, evse_id: int | None) -> bool:
        """Reset's participant: does a transaction run there (B12.FR.01)?"""
        return any(s.tx is not None for e, s in self._state.items() if evse_id is None or e == evse_id)

    async def end(self, evse_id: int | None) -> None:
        """Reset's participant, an Immediate reset: ResetCommand, ImmediateReset (B12.FR.04, B12.FR.08)."""
        for evse, here in self._state.items():
            if here.tx is not None and (evse_id is None or evse == evse_id):
                await self._end(evse, Trigger.RESET_COMMAND, Reason.IMMEDIATE_RESET)

    def authorized(self, evse: int, _connector: int) -> bool:
        """UnlockService's probe: an authorized transaction runs on that EVSE (F05.FR.02)."""
        here = self._state.get(evse)
        return here is not None and here.tx is not None and here.token is not None

    def transaction_id(self, evse: int) -> str | None:
        tx = self._state[evse].tx
        return tx.transaction_id if tx is not None else None

    def customer_data(self, id_token: m.IdTokenType) -> list[str]:
        """What runs for an idToken now, in words (N09.FR.05). A running transaction keeps its idToken: a clear
        does not take it from the journal, whose messages must stay sendable."""
        return [
            f"EVSE {evse}: " + (f"transaction {here.tx.transaction_id}" if here.tx else "authorized, waiting")
            for evse, here in self._state.items()
            if here.token is not None and (here.token.id_token, here.token.type) == (id_token.id_token, id_token.type)
        ]

    def status_of(self, evse: int, _connector: int) -> m.ConnectorStatusEnumType | None:
        """EvsesService's source: an EVSE with a transaction or an authorization waiting for a cable is Occupied."""
        here = self._state.get(evse)
        return m.ConnectorStatusEnumType.OCCUPIED if here and (here.tx or here.token) else None

    def reset(self) -> None:
        """Runtime state only: a reboot's ``recover`` ends what the store holds open."""
        self._tasks.cancel()
        for here in self._state.values():
            self._cancel_timeout(here)
        self._state = {evse: EvseState() for evse in self._state}

    # -- internals ------------------------------------------------------------------------------

    async def _authorized(self, evse: int, token: m.IdTokenType, trigger: Trigger, *,
                          remote_start_id: int | None = None) -> None:  # fmt: skip
        here = self._state[evse]
        here.token, here.token_told, here.remote_start_id = token, False, remote_start_id
        if not here.plugged:  # E03.FR.05: the authorization lapses without a cable
            timeout = self._model.get_int(EV_CONNECTION_TIME_OUT.key, 60)
            here.timeout = self._clock.call_later(timeout, lambda: self._tasks.spawn(self._timed_out(evse)))
        await self._changed(evse, trigger)

    async def _timed_out(self, evse: int) -> None:
        here = self._state[evse]
        here.timeout = None
        if not here.plugged and here.token is not None:
            self._log.info("= EVSE %d: no cable within EVConnectionTimeOut; the authorization lapses", evse)
            await self._deauthorized(evse, Trigger.EV_CONNECT_TIMEOUT, Reason.TIMEOUT)

    async def _deauthorized(self, evse: int, trigger: Trigger, reason: Reason) -> None:
        here = self._state[evse]
        here.token = None
        self._cancel_timeout(here)
        await self._changed(evse, trigger, reason)

    async def _changed(self, evse: int, trigger: Trigger, reason: Reason = Reason.LOCAL) -> None:
        """Something of the EVSE changed because of ``trigger``: the contactor follows, then the transaction
        starts, ends (with ``reason``) or is updated."""
        here = self._state[evse]
        met = self._conditions(here)
        await self._power_path(evse, POWER_PATH_CLOSED in met)
        if here.tx is None:
            start = set(self._model.get_list(TX_START_POINT.key)) & met
            if here.cable_spent:
                start.discard(EV_CONNECTED)
            if start:
                await self._start(evse, trigger)
            self._evses.refresh(evse)  # an authorization waiting for its cable is Occupied too
            return
        tx = here.tx
        tx.reached |= met
        stop = set(self._model.get_list(TX_STOP_POINT.key))
        if (stop & tx.reached) - met:
            await self._end(evse, trigger, reason)
        else:
            await self._event(evse, Event.UPDATED, trigger)

    async def _start(self, evse: int, trigger: Trigger) -> None:
        here = self._state[evse]
        meter_start = self._meter.energy_wh(evse)
        tx = Tx(ref=0, transaction_id=str(uuid.uuid4()), meter_start=meter_start, reached=self._conditions(here),
                remote_start_id=here.remote_start_id, started=self._clock.now())  # fmt: skip
        here.tx = tx
        for data in self.meter_data:
            data.started(evse)
        token = msgspec.json.encode(here.token) if here.token is not None else None
        request = self._request(evse, Event.STARTED, trigger, meter_value=self.sample(
            evse, TX_STARTED_MEASURANDS.key, m.ReadingContextEnumType.TRANSACTION_BEGIN))  # fmt: skip
        payload = encode(request)

        async def write(queued: Callable[[int], None]) -> None:
            tx.ref, seq = await self._table.begin(transaction_id=tx.transaction_id, evse=evse, id_token=token,
                                                  remote_start_id=tx.remote_start_id, meter_start=meter_start,
                                                  payload=payload)  # fmt: skip
            queued(seq)

        self._log.info("= transaction %s started on EVSE %d (%s)", tx.transaction_id, evse, trigger)
        self._evses.refresh(evse)
        await self._lane.journal(write)
        interval = self._model.get_int(TX_UPDATED_INTERVAL.key, 0)
        if interval > 0:
            here.sampler = self._tasks.spawn(self._sample_periodically(evse, tx, interval))

    async def _event(self, evse: int, kind: Event, trigger: Trigger, **more: Any) -> None:
        tx = self._state[evse].tx
        assert tx is not None
        request = self._request(evse, kind, trigger, **more)
        await self._journal(tx.ref, encode(request), ended=False)

    async def _end(self, evse: int, trigger: Trigger, reason: Reason) -> None:
        here = self._state[evse]
        tx = here.tx
        assert tx is not None
        end_sample = self.sample(evse, TX_ENDED_MEASURANDS.key, m.ReadingContextEnumType.TRANSACTION_END)
        collected = [value for data in self.meter_data for value in data.ending(evse)]
        samples = [*self._begin_sample(tx.meter_start, tx.started), *collected, *end_sample]
        request = self._request(evse, Event.ENDED, trigger, stopped_reason=reason, meter_value=samples or msgspec.UNSET)
        if here.sampler is not None:
            here.sampler.cancel()
            here.sampler = None
        here.tx = None
        here.token = None
        here.suspended = False
        here.cable_spent = here.plugged
        self._cancel_timeout(here)
        await self._power_path(evse, False)
        self._log.info("= transaction %s ended on EVSE %d (%s, %s)", tx.transaction_id, evse, trigger, reason)
        ending = self._journal(tx.ref, encode(request), ended=True)
        self._evses.refresh(evse)
        await ending
        self._idle()  # a reset waiting for idle may go (B12.FR.03)

    def _request(
        self, evse: int, kind: Event, trigger: Trigger, *, stopped_reason: Reason | None = None,
        meter_value: list[m.MeterValueType] | msgspec.UnsetType = msgspec.UNSET,
    ) -> m.TransactionEventRequest:  # fmt: skip
        """The next event of the EVSE's transaction: its seqNo taken, the idToken, the chargingState and the
        remoteStartId named once, when they are new to the central system."""
        here = self._state[evse]
        tx = here.tx
        assert tx is not None
        state = self._charging_state(here)
        if kind is Event.ENDED:  # E01.FR.18: energy stopped; a cable still in is EVConnected (TC_B_22_CS)
            state = State.EV_CONNECTED if here.plugged else State.IDLE
        token: m.IdTokenType | msgspec.UnsetType = msgspec.UNSET
        if here.token is not None and not here.token_told:
            token, here.token_told = here.token, True  # E03.FR.01: the idToken once, after it authorized
        info = m.TransactionType(
            transaction_id=tx.transaction_id,
            charging_state=state if state is not tx.state else msgspec.UNSET,
            stopped_reason=stopped_reason if stopped_reason is not None else msgspec.UNSET,
            remote_start_id=tx.remote_start_id if tx.remote_start_id is not None else msgspec.UNSET,
        )
        tx.state, tx.remote_start_id = state, None
        seq_no, tx.seq_no = tx.seq_no, tx.seq_no + 1
        return m.TransactionEventRequest(
            event_type=kind, timestamp=datetimes.wire(self._clock.now()), trigger_reason=trigger, seq_no=seq_no,
            offline=True if not self._lane.connected else msgspec.UNSET, transaction_info=info,
            evse=m.EVSEType(id=evse, connector_id=1) if kind is Event.STARTED else msgspec.UNSET,
            id_token=token, meter_value=meter_value,
        )  # fmt: skip

    def _ended(self, record: TxRecord, trigger: Trigger, reason: Reason) -> m.TransactionEventRequest:
        """The Ended event of a transaction the station no longer follows (cut by a power loss or a reboot)."""
        end = self.sample(record.evse, TX_ENDED_MEASURANDS.key, m.ReadingContextEnumType.TRANSACTION_END)
        samples = [*self._begin_sample(record.meter_start), *end]
        return m.TransactionEventRequest(
            event_type=Event.ENDED, timestamp=datetimes.wire(self._clock.now()), trigger_reason=trigger,
            seq_no=record.next_seq_no, offline=True if not self._lane.connected else msgspec.UNSET,
            transaction_info=m.TransactionType(transaction_id=record.transaction_id, stopped_reason=reason),
            meter_value=samples or msgspec.UNSET,
        )  # fmt: skip

    def _journal(self, ref: int, payload: bytes, *, ended: bool) -> Awaitable[None]:
        """Take the event's place in the lane now; the awaitable returns once it is durable, with the
        transaction's row in the same commit."""

        async def write(queued: Callable[[int], None]) -> None:
            queued(await self._table.event(ref, payload, ended=ended))

        return self._lane.journal(write)

    async def _sample_periodically(self, evse: int, tx: Tx, interval: int) -> None:
        while True:
            await self._clock.sleep(interval)
            samples = self.sample(evse, TX_UPDATED_MEASURANDS.key, m.ReadingContextEnumType.SAMPLE_PERIODIC)
            if self._state[evse].tx is not tx:
                return
            await self._event(evse, Event.UPDATED, Trigger.METER_VALUE_PERIODIC, meter_value=samples or msgspec.UNSET)

    async def meter_event(
        self, evse: int, trigger: Trigger, meter_value: list[m.MeterValueType], *, tell_state: bool = False
    ) -> bool:
        """An Updated event of the EVSE's transaction carrying ``meter_value`` (J01.FR.22, F06.FR.07: with the
        chargingState when ``tell_state``), journaled as every other; False if no transaction runs there."""
        here = self._state.get(evse)
        tx = here.tx if here is not None else None
        if tx is None:
            return False
        if tell_state:
            tx.state = None
        await self._event(evse, Event.UPDATED, trigger, meter_value=meter_value or msgspec.UNSET)
        return True

    def sample(
        self, evse: int, key: str, context: m.ReadingContextEnumType, when: datetime | None = None
    ) -> list[m.MeterValueType]:
        """The meter's readings of the measurands ``key`` lists, as one MeterValue stamped ``when`` (now if None),
        none if it lists none."""
        wanted = set(self._model.get_list(key))
        values = [
            m.SampledValueType(
                value=float(reading.value), context=context, measurand=m.MeasurandEnumType(reading.measurand.value),
                phase=m.PhaseEnumType(reading.phase.value) if reading.phase is not None else msgspec.UNSET,
                location=m.LocationEnumType(reading.location.value),
                unit_of_measure=m.UnitOfMeasureType(unit=reading.unit.value) if reading.unit else msgspec.UNSET,
            )
            for reading in self._meter.read(evse)
            if reading.measurand.value in wanted
        ]  # fmt: skip
        stamp = datetimes.wire(self._clock.now() if when is None else when)
        return [m.MeterValueType(sampled_value=values, timestamp=stamp)] if values else []

    def _begin_sample(self, meter_start: int, started: datetime | None = None) -> list[m.MeterValueType]:
        """The register at the start of the transaction, for its Ended event (what a bill is made from), stamped
        with the start when the station knows it (the store does not keep it for ``recover``: then now)."""
        if ENERGY not in self._model.get_list(TX_ENDED_MEASURANDS.key):
            return []
        value = m.SampledValueType(value=float(meter_start), context=m.ReadingContextEnumType.TRANSACTION_BEGIN,
                                   measurand=m.MeasurandEnumType.ENERGY_ACTIVE_IMPORT_REGISTER)  # fmt: skip
        stamp = datetimes.wire(self._clock.now() if started is None else started)
        return [m.MeterValueType(sampled_value=[value], timestamp=stamp)]

    def _answered(self, _item: Any, request: m.TransactionEventRequest, response: m.TransactionEventResponse) -> None:
        """A TransactionEventResponse: its IdTokenInfo is cached (C10.FR.05); a refused idToken of a running
        transaction ends its authorization (E05.FR.09, E05.FR.10, E06.FR.04) or suspends its energy."""
        if request.id_token is msgspec.UNSET or response.id_token_info is msgspec.UNSET:
            return
        self._authorization.learn(request.id_token, response.id_token_info)
        if response.id_token_info.status is m.AuthorizationStatusEnumType.ACCEPTED:
            return
        evse = self._evse_of(request.transaction_info.transaction_id)
        if evse is not None:
            self._tasks.spawn(self._refused(evse))

    async def _refused(self, evse: int) -> None:
        if self._model.get_bool(STOP_TX_ON_INVALID_ID.key):
            await self._deauthorized(evse, Trigger.DEAUTHORIZED, Reason.DE_AUTHORIZED)
        else:
            self._state[evse].suspended = True
            await self._changed(evse, Trigger.DEAUTHORIZED)

    async def _power_path(self, evse: int, closed: bool) -> None:
        """The contactor and the current offered to the EV follow PowerPathClosed: switched only when that changes."""
        here = self._state[evse]
        if closed != here.closed:
            here.closed = closed
            await (self._ports.contactor.close(evse) if closed else self._ports.contactor.open(evse))
            self._ports.ev.offered_current(evse, OFFERED_CURRENT if closed else 0.0)

    def _conditions(self, here: EvseState) -> set[str]:
        met = set()
        if here.plugged:
            met.add(EV_CONNECTED)
        if here.token is not None:
            met.add(AUTHORIZED)
            if here.plugged and not here.suspended:
                met.add(POWER_PATH_CLOSED)
        return met

    def _charging_state(self, here: EvseState) -> State:
        if here.suspended:
            return State.SUSPENDED_EVSE
        if here.plugged and here.token is not None:
            return State.CHARGING
        return State.EV_CONNECTED if here.plugged else State.IDLE

    def _evse_of(self, transaction_id: str) -> int | None:
        return next((e for e, s in self._state.items() if s.tx and s.tx.transaction_id == transaction_id), None)

    def _usable(self, evse: int) -> bool:
        """An Unavailable or Faulted EVSE starts nothing: a remote start is Rejected (F01.FR.23, F02.FR.25), and so
        is a card (a choice: the EVSE's status says why)."""
        return self._evses.evse_status(evse) not in (
            m.ConnectorStatusEnumType.UNAVAILABLE,
            m.ConnectorStatusEnumType.FAULTED,
        )

    def _free_evse(self) -> int | None:
        """For a card at the station's reader or a remote start without an EVSE: the EVSE with a cable waiting,
        else the first without an authorization that can start one."""
        free = [e for e, s in self._state.items() if s.token is None and self._usable(e)]
        return next((e for e in free if self._state[e].plugged), free[0] if free else None)

    def _cancel_timeout(self, here: EvseState) -> None:
        if here.timeout is not None:
            here.timeout.cancel()
            here.timeout = None

    def _outcome(self, evse: int, waiting: str) -> Outcome:
        tx = self._state[evse].tx
        return Outcome("started", evse, tx.transaction_id) if tx is not None else Outcome("waiting", evse, waiting)


def _build(kernel: Kernel[DeviceModel], needs: Needs) -> TransactionService:
    reset = needs(ResetService)
    service = TransactionService(
        lane=kernel.lane, store=kernel.store, model=kernel.config, clock=kernel.clock, ports=kernel.ports,
        meter=kernel.meter, boot=needs(BootService), evses=needs(EvsesService),
        authorization=needs(AuthorizationService), idle=reset.idle, log=kernel.log,
    )  # fmt: skip
    needs(EvsesService).sources.append(service.status_of)
    reset.participants.append(service)
    needs(AvailabilityService).transactions.append(service.busy)  # Scheduled while one runs (G03.FR.05)
    needs(UnlockService).authorized.append(service.authorized)  # OngoingAuthorizedTransaction (F05.FR.02)
    for evse in range(1, len(needs(EvsesService).evses) + 1):  # the cable may be in already (a restart)
        if kernel.ports.ev.plugged(evse):
            service.cable_in(evse)
    return service


FEATURE: Final = Feature(
    name="transactions",
    profile=Block.TRANSACTIONS,
    service=TransactionService,
    build=_build,
    actions=frozenset(
        {m.Action.REQUEST_START_TRANSACTION, m.Action.REQUEST_STOP_TRANSACTION, m.Action.GET_TRANSACTION_STATUS}
    ),
    variables=(
        TX_START_POINT,
        TX_STOP_POINT,
        EV_CONNECTION_TIME_OUT,
        STOP_TX_ON_EV_SIDE_DISCONNECT,
        STOP_TX_ON_INVALID_ID,
        TX_STARTED_MEASURANDS,
        TX_UPDATED_MEASURANDS,
        TX_UPDATED_INTERVAL,
        TX_ENDED_MEASURANDS,
        TX_ENDED_INTERVAL,
    ),
    tables=frozenset({"tx_events"}),
    needs=(BootService, EvsesService, AuthorizationService, ResetService, AvailabilityService, UnlockService),
)
