"""Transactions (E01 to E15) and their remote control (F01 to F03): TransactionEvent Started, Updated, Ended.

Per EVSE the station follows four conditions: EVConnected (a cable), Authorized (an idToken accepted), PowerPathClosed
(both: the contactor is closed) and EnergyTransfer (the power path closed and the EV taking energy: an EV that stops
taking it, ``ev_suspended``, is SuspendedEV, E01.FR.19). A transaction starts when any condition of TxCtrlr.TxStartPoint
is met (E01.FR.02, E01.FR.03, E01.FR.05, E01.FR.06) and ends when a condition of TxCtrlr.TxStopPoint that was met during
it no longer is (E06.FR.02, E06.FR.03, E06.FR.06, E06.FR.07); the event that does it is the Started or Ended event's
triggerReason, and every other change during the transaction is an Updated event (E02). The station makes the
transactionId (a UUID, never the same twice: E01.FR.08), numbers the events of a transaction from seqNo 0 (E01.FR.07),
names the idToken in the event after the authorization (E03.FR.01), marks an event made offline with ``offline``
(E04.FR.03) and sends meter values of SampledDataCtrlr's measurands: TxStartedMeasurands in Started (Transaction.Begin),
TxUpdatedMeasurands every TxUpdatedInterval (Sample.Periodic), TxEndedMeasurands in Ended (Transaction.Begin and
Transaction.End, E06.FR.11), with what the meter values feature (``meter_values.py``, its ``MeterData``) collected for
the Ended event between them.

Every TransactionEvent is journaled in the kernel's lane in one commit with the transaction's row
(``store/transaction_events.py``): durable before sent, sent in order after a reconnect (E04, E12), retried as
OCPPCommCtrlr.MessageAttempts/MessageAttemptInterval[TransactionEvent] say (E13). A transaction a power cut left open is
ended at the next start with stoppedReason PowerLoss, one a reboot cut with Reboot (``recover``); a clean stop ends each
with its reason (``stop_all``). An idToken the central system refuses in a TransactionEventResponse ends its
authorization (StopTxOnInvalidId: E05.FR.09, E05.FR.10; the cable kept locked for its owner, C15.FR.05) or suspends its
energy (C15.FR.06), once the transaction has delivered TxCtrlr.MaxEnergyOnInvalidId Wh (C15.FR.07). A card ends the
authorization it gave, or one of its groupIdToken (C09), and a master pass ends every transaction (C16):
``id_token_presented``.

The power path closes through the cable lock, then the contactor. A lock that does not lock (G05) or a contactor that
does not switch is a part failed (``AvailabilityService.part_failed``: its Problem in a NotifyEvent, the EVSE
Faulted): nothing charges, the authorization ends and so does what it started (AbnormalCondition, Other; G05.FR.01).
A contactor that does not open ends the transaction all the same. The cable is unlocked when the power path opens
without an authorization left (a suspended one keeps it locked).

The station is told an unplug, not at which side: it is taken as a disconnect at the EV, which deauthorizes the
transaction (StopTxOnEVSideDisconnect, E09.FR.01).
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
from chargebox.errors import HardwareError
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
from chargebox.station.v201.availability import AvailabilityService, Part
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
ENERGY_TRANSFER: Final = "EnergyTransfer"
POINTS: Final = (EV_CONNECTED, AUTHORIZED, POWER_PATH_CLOSED, ENERGY_TRANSFER)
ENERGY: Final = m.MeasurandEnumType.ENERGY_ACTIVE_IMPORT_REGISTER.value
CONNECTOR_LOCK_FAILURE, POWER_SWITCH_FAILURE = "ConnectorLockFailure", "PowerSwitchFailure"  # 1.6's codes: techCode
OFFERED_CURRENT: Final = 32.0  # amps per phase offered to the EV while the power path is closed (no smart charging yet)
ALLOWANCE_CHECK_S: Final = 1  # seconds between the meter readings that watch MaxEnergyOnInvalidId

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
MAX_ENERGY_ON_INVALID_ID: Final = declare(
    "TxCtrlr", "MaxEnergyOnInvalidId", default="0", min_limit=0,
    description="Wh a transaction may deliver in all once the central system refused its idToken (StopTxOnInvalidId "
    "false); 0: its energy is suspended at once",
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
    connector: int = 1  # the connector the cable is at: the one of its EVSE a transaction uses (E01.FR.14)
    token: m.IdTokenType | None = None  # the idToken that authorizes charging here
    group: m.IdTokenType | None = None  # its groupIdToken, when the central system gave one (C09.FR.02)
    token_told: bool = False  # the central system heard it in a TransactionEvent
    stop_token: m.IdTokenType | None = None  # another idToken of the group that ends it: named in the next event
    locked_for: m.IdTokenType | None = None  # C15.FR.05: deauthorized, the cable stays locked until its owner is back
    remote_start_id: int | None = None
    suspended: bool = False  # the central system refused the idToken and StopTxOnInvalidId is false
    ev_suspended: bool = False  # the EV takes no energy (SuspendedEV, E01.FR.19); until it leaves or resumes
    cable_spent: bool = False  # a transaction ended with this cable in: the cable alone starts no other
    closed: bool = False  # the contactor is closed
    tx: Tx | None = None
    timeout: TimerHandle | None = None
    sampler: asyncio.Future[Any] | None = None
    allowance: asyncio.Future[Any] | None = None  # watches MaxEnergyOnInvalidId (C15.FR.07)


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
        fixed_cable: bool,
        meter: GuardedMeter,
        boot: BootService,
        evses: EvsesService,
        authorization: AuthorizationService,
        availability: AvailabilityService,
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
        self._availability = availability
        self._lock = None if fixed_cable else ports.lock
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
            group = request.group_id_token if isinstance(request.group_id_token, m.IdTokenType) else None
            if self._model.get_bool(AUTHORIZE_REMOTE_START.key):  # F01.FR.01, F02.FR.09
                info = await self._authorization.authorize(request.id_token)
                if info.status is not m.AuthorizationStatusEnumType.ACCEPTED:
                    self._log.info("= remote start on EVSE %d: idToken %s", evse, info.status)
                    return
                group = group or _group(info)
            remote_start_id = request.remote_start_id  # F02.FR.21: told in the next TransactionEvent
            await self._authorized(evse, request.id_token, Trigger.REMOTE_START, remote_start_id=remote_start_id,
                                   group=group)  # fmt: skip

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

    async def plugged(self, evse: int, connector: int = 1) -> Outcome:
        here = self._state[evse]
        if not self._evses.exists(evse, connector):  # a driver's mistake: nothing changes
            return Outcome("refused", evse, f"EVSE {evse} has no connector {connector}")
        if here.plugged and here.connector != connector:  # E01.FR.14: one connector of an EVSE in use at a time
            return Outcome("refused", evse, f"connector {here.connector} of EVSE {evse} is in use (E01.FR.14)")
        here.plugged, here.connector = True, connector
        self._evses.plugged(evse, connector)
        self._cancel_timeout(here)
        await self._changed(evse, Trigger.CABLE_PLUGGED_IN)
        return self._outcome(evse, "Occupied")

    def cable_in(self, evse: int) -> None:
        """A cable found in at a start or after a reboot: Occupied, and no transaction of its own (the one it had,
        if any, was ended by ``recover``)."""
        here = self._state[evse]
        here.plugged = here.cable_spent = True
        self._evses.plugged(evse, here.connector)

    async def unplugged(self, evse: int) -> None:
        here = self._state[evse]
        here.plugged = here.cable_spent = here.ev_suspended = False  # the EV leaves with its cable
        here.locked_for = None
        if here.tx is not None and self._model.get_bool(STOP_TX_ON_EV_SIDE_DISCONNECT.key):
            here.token = None  # E09.FR.01: an unplug during a transaction is taken as the EV side's: deauthorized
        self._evses.unplugged(evse, here.connector)
        await self._changed(evse, Trigger.EV_COMMUNICATION_LOST, Reason.EV_DISCONNECTED)  # E06.FR.02, E06.FR.06

    async def ev_suspended(self, evse: int, suspended: bool) -> None:
        """The EV stopped (``suspended``) or resumed taking energy. Where energy is offered that changes the
        chargingState (SuspendedEV, E01.FR.19) and EnergyTransfer alike, told with ChargingStateChanged; EnergyTransfer
        as a stop point ends the transaction (E06.FR.07, StoppedByEV), as a start point starts one (E01.FR.06)."""
        here = self._state[evse]
        before = self._charging_state(here)
        here.ev_suspended = suspended
        if self._charging_state(here) is not before:
            await self._changed(evse, Trigger.CHARGING_STATE_CHANGED, Reason.STOPPED_BY_EV)

    async def id_token_presented(
        self, id_tag: str, evse: int | None, kind: m.IdTokenEnumType = m.IdTokenEnumType.ISO14443
    ) -> Outcome:
        """A card at a reader (``evse`` None: the station's one reader). The idToken that authorized an EVSE ends
        that authorization (C01.FR.03, StopAuthorized), and so does another, valid, of its group (C09.FR.03; never
        one not Accepted, C09.FR.11); a master pass (AuthCtrlr.MasterPassGroupId) ends every transaction and starts
        none (C16.FR.02, C16.FR.03: this station has no UI to choose one); the owner of a cable kept locked takes it
        back (C15.FR.05); any other idToken is authorized for a free EVSE (use case C01), never for one another
        idToken holds (C01.FR.23)."""
        token = m.IdTokenType(id_token=id_tag, type=kind)
        reachable = [e for e in self._state if evse is None or e == evse]
        mine = next((e for e in reachable if self._state[e].token == token), None)
        if mine is not None:
            await self._deauthorized(mine, Trigger.STOP_AUTHORIZED, Reason.LOCAL)
            return Outcome("stopped", mine, Reason.LOCAL.value)
        kept = next((e for e in reachable if self._state[e].locked_for == token), None)
        if kept is not None:
            self._state[kept].locked_for = None
            await self._unlock(kept)
            return Outcome("released", kept, "the cable is unlocked for its owner")
        held = [e for e in reachable if self._state[e].token is not None]
        target = evse if evse is not None else self._free_evse()
        if not held and (why := self._not_startable(target)) is not None:
            return Outcome("refused", target, why)  # nothing it could stop, nowhere to start: not asked for
        info = await (self._authorization.authorize_to_stop(token) if held else self._authorization.authorize(token))
        if info.status is not m.AuthorizationStatusEnumType.ACCEPTED:
            offline = self._authorization.offline()  # decided by the cache's and AuthCtrlr's offline rules: say so
            reason = info.status.value if offline is None else f"{info.status.value} ({offline}: decided locally)"
            self._log.info("= idToken %s at EVSE %s: %s", id_tag, target, reason)
            return Outcome("refused", target, reason)
        if self._authorization.master_pass(info):
            return await self._master_pass(token)
        group = _group(info)
        same = next((e for e in held if group is not None and _same(group, self._state[e].group)), None)
        if same is not None:
            await self._deauthorized(same, Trigger.STOP_AUTHORIZED, Reason.LOCAL, by=token)  # C09.FR.03
            return Outcome("stopped", same, Reason.LOCAL.value)
        if (why := self._not_startable(target)) is not None:
            return Outcome("refused", target, why)
        assert target is not None
        await self._authorized(target, token, Trigger.AUTHORIZED, group=group)
        return self._outcome(target, "Authorized")

    async def _master_pass(self, token: m.IdTokenType) -> Outcome:
        """C16.FR.02: every transaction ends (MasterPass), the cables unlocked; C16.FR.03: none starts."""
        running = [e for e, here in self._state.items() if here.tx is not None]
        for evse in running:
            await self._deauthorized(evse, Trigger.STOP_AUTHORIZED, Reason.MASTER_PASS, by=token)
        self._log.info("= master pass %s: %d transaction(s) ended", token.id_token, len(running))
        if not running:
            return Outcome("refused", None, "a master pass starts no transaction")
        return Outcome("stopped", running[0] if len(running) == 1 else None, Reason.MASTER_PASS.value)

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

    def last_seq_no(self, evse: int) -> int | None:
        """The seqNo of the transaction's latest TransactionEvent (E01.FR.07), None without a transaction."""
        tx = self._state[evse].tx
        return tx.seq_no - 1 if tx is not None else None

    def customer_data(self, id_token: m.IdTokenType) -> list[str]:
        """What runs for an idToken now, in words (N09.FR.05). A running transaction keeps its idToken: a clear
        does not take it from the journal, whose messages must stay sendable."""
        return [
            f"EVSE {evse}: " + (f"transaction {here.tx.transaction_id}" if here.tx else "authorized, waiting")
            for evse, here in self._state.items()
            if here.token is not None and (here.token.id_token, here.token.type) == (id_token.id_token, id_token.type)
        ]

    def status_of(self, evse: int, connector: int) -> m.ConnectorStatusEnumType | None:
        """EvsesService's source: an EVSE with a transaction or an authorization waiting for a cable is Occupied,
        but for the connectors beside the cable's (EvsesService says Unavailable: E01.FR.14)."""
        here = self._state.get(evse)
        if not here or not (here.tx or here.token) or ((here.plugged or here.tx) and connector != here.connector):
            return None
        return m.ConnectorStatusEnumType.OCCUPIED

    def reset(self) -> None:
        """Runtime state only: a reboot's ``recover`` ends what the store holds open."""
        self._tasks.cancel()
        for here in self._state.values():
            self._cancel_timeout(here)
        self._state = {evse: EvseState() for evse in self._state}

    # -- internals ------------------------------------------------------------------------------

    async def _authorized(self, evse: int, token: m.IdTokenType, trigger: Trigger, *,
                          remote_start_id: int | None = None, group: m.IdTokenType | None = None) -> None:  # fmt: skip
        here = self._state[evse]
        here.token, here.token_told, here.remote_start_id, here.group = token, False, remote_start_id, group
        here.locked_for = None
        if here.tx is not None and remote_start_id is not None:
            here.tx.remote_start_id = remote_start_id  # F01.FR.25: the running transaction's next event tells it
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

    async def _deauthorized(self, evse: int, trigger: Trigger, reason: Reason, *,
                            by: m.IdTokenType | None = None) -> None:  # fmt: skip
        """The authorization ends; ``by``, another idToken than the one that authorized, is named in the event that
        says so."""
        here = self._state[evse]
        here.token = here.group = None
        here.stop_token = by
        self._cancel_timeout(here)
        await self._changed(evse, trigger, reason)
        here.stop_token = None

    async def _changed(self, evse: int, trigger: Trigger, reason: Reason = Reason.LOCAL) -> None:
        """Something of the EVSE changed because of ``trigger``: the contactor follows, then the transaction
        starts, ends (with ``reason``) or is updated."""
        here = self._state[evse]
        met = self._conditions(here)
        if not await self._power_path(evse, POWER_PATH_CLOSED in met):
            if here.tx is not None:
                here.tx.reached |= met  # it was authorized: a stop point Authorized ends it below
            here.token = None  # G05.FR.01: a part failed, nothing charges: the authorization ends, and what it started
            self._cancel_timeout(here)
            met = self._conditions(here)
            trigger, reason = Trigger.ABNORMAL_CONDITION, Reason.OTHER
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
        for task in (here.sampler, here.allowance):
            if task is not None:
                task.cancel()
        here.sampler = here.allowance = None
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
        if tx.remote_start_id is not None:
            trigger = Trigger.REMOTE_START  # F02.FR.21: the next event after a remote start, whatever started it
        state = self._charging_state(here)
        if kind is Event.ENDED:  # E01.FR.18: energy stopped; a cable still in is EVConnected (TC_B_22_CS)
            state = State.EV_CONNECTED if here.plugged else State.IDLE
        token: m.IdTokenType | msgspec.UnsetType = msgspec.UNSET
        if here.stop_token is not None:
            token, here.stop_token = here.stop_token, None  # who ended it, when not the one that authorized
        elif here.token is not None and not here.token_told:
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
            offline=True if self._authorization.offline() else msgspec.UNSET, transaction_info=info,
            evse=m.EVSEType(id=evse, connector_id=here.connector) if kind is Event.STARTED else msgspec.UNSET,
            id_token=token, meter_value=meter_value,
        )  # fmt: skip

    def _ended(self, record: TxRecord, trigger: Trigger, reason: Reason) -> m.TransactionEventRequest:
        """The Ended event of a transaction the station no longer follows (cut by a power loss or a reboot)."""
        end = self.sample(record.evse, TX_ENDED_MEASURANDS.key, m.ReadingContextEnumType.TRANSACTION_END)
        samples = [*self._begin_sample(record.meter_start), *end]
        return m.TransactionEventRequest(
            event_type=Event.ENDED, timestamp=datetimes.wire(self._clock.now()), trigger_reason=trigger,
            seq_no=record.next_seq_no, offline=True if self._authorization.offline() else msgspec.UNSET,
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
        info = response.id_token_info
        self._authorization.learn(request.id_token, info)
        evse = self._evse_of(request.transaction_info.transaction_id)
        here = self._state[evse] if evse is not None else None
        if here is not None and here.token == request.id_token and _group(info) is not None:
            here.group = _group(info)  # C09.FR.12: the central system names the idToken's group here too
        if info.status is not m.AuthorizationStatusEnumType.ACCEPTED and evse is not None:
            self._tasks.spawn(self._refused(evse))

    async def _refused(self, evse: int) -> None:
        here = self._state[evse]
        tx = here.tx
        if tx is None or here.allowance is not None:
            return  # C15.FR.03 to 07 ask for a transaction still ongoing; one on its allowance is already watched
        if self._model.get_bool(STOP_TX_ON_INVALID_ID.key):  # MaxEnergyOnInvalidId does not count (C15.FR.03/04)
            here.locked_for = here.token  # C15.FR.05, E05.FR.11: the cable stays locked until its owner is back
            await self._deauthorized(evse, Trigger.DEAUTHORIZED, Reason.DE_AUTHORIZED)
        elif self._delivered(evse, tx) < self._model.get_int(MAX_ENERGY_ON_INVALID_ID.key, 0):
            here.allowance = self._tasks.spawn(self._on_allowance(evse, tx))  # C15.FR.07, E05.FR.03
        else:
            await self._suspend(evse)

    async def _on_allowance(self, evse: int, tx: Tx) -> None:
        """Energy flows until the transaction has delivered MaxEnergyOnInvalidId Wh (read again as it may change)."""
        while self._delivered(evse, tx) < self._model.get_int(MAX_ENERGY_ON_INVALID_ID.key, 0):
            await self._clock.sleep(ALLOWANCE_CHECK_S)
            if self._state[evse].tx is not tx:
                return
        self._state[evse].allowance = None
        self._log.info("= EVSE %d: MaxEnergyOnInvalidId delivered; the energy is suspended", evse)
        await self._suspend(evse)

    async def _suspend(self, evse: int) -> None:
        """C15.FR.06, E05.FR.02: the energy stops at once, SuspendedEVSE with ChargingStateChanged; a TxStopPoint
        that this breaks (PowerPathClosed, EnergyTransfer) ends the transaction instead, DeAuthorized."""
        self._state[evse].suspended = True
        await self._changed(evse, Trigger.CHARGING_STATE_CHANGED, Reason.DE_AUTHORIZED)

    def _delivered(self, evse: int, tx: Tx) -> int:
        """Wh the transaction has delivered so far."""
        return self._meter.energy_wh(evse) - tx.meter_start

    async def _power_path(self, evse: int, closed: bool) -> bool:
        """The cable lock, the contactor and the current offered to the EV follow PowerPathClosed, switched only
        when that changes; False when a part failed as the power path was to close (the EVSE is Faulted then)."""
        here = self._state[evse]
        if closed == here.closed:
            return True
        if closed and self._lock is not None and not await self._lock.lock(evse):  # G05.FR.01: no charging
            self._availability.part_failed(evse, Part.PLUG_RETENTION_LOCK, "the cable lock did not lock",
                                           error_code=CONNECTOR_LOCK_FAILURE)  # fmt: skip  # G05.FR.02
            return False
        try:
            await (self._ports.contactor.close(evse) if closed else self._ports.contactor.open(evse))
        except HardwareError as exc:  # opening: energy may still flow, what ends ends all the same
            did_not = f"the contactor did not {'close' if closed else 'open'} ({exc})"
            self._availability.part_failed(evse, Part.POWER_CONTACTOR, did_not, error_code=POWER_SWITCH_FAILURE)
            if closed:
                await self._unlock(evse)  # the cable goes back to its owner
                return False
        here.closed = closed
        self._ports.ev.offered_current(evse, OFFERED_CURRENT if closed else 0.0)
        if not closed and here.token is None and here.locked_for is None:
            await self._unlock(evse)
        return True

    async def _unlock(self, evse: int) -> None:
        if self._lock is not None and not await self._lock.unlock(evse):
            self._log.warning("! EVSE %d: the cable lock did not unlock", evse)

    def _conditions(self, here: EvseState) -> set[str]:
        met = set()
        if here.plugged:
            met.add(EV_CONNECTED)
        if here.token is not None:
            met.add(AUTHORIZED)
            if here.plugged and not here.suspended:
                met.add(POWER_PATH_CLOSED)
                if not here.ev_suspended:
                    met.add(ENERGY_TRANSFER)  # the station offers energy and the EV takes it
        return met

    def _charging_state(self, here: EvseState) -> State:
        if here.suspended:
            return State.SUSPENDED_EVSE
        if here.plugged and here.token is not None:
            return State.SUSPENDED_EV if here.ev_suspended else State.CHARGING  # E01.FR.19
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

    def _not_startable(self, target: int | None) -> str | None:
        """Why a card cannot be authorized for that EVSE (None: the station's reader found no free one)."""
        if target is None or target not in self._state:
            return "no EVSE free for this idToken"
        if self._state[target].token is not None:
            return "another idToken holds this EVSE"  # C01.FR.23
        if not self._usable(target):
            return f"EVSE {target} is {self._evses.evse_status(target)}"
        return None

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
        if tx is not None:
            return Outcome("started", evse, tx.transaction_id)
        fault = self._availability.fault_code(evse)
        return Outcome("waiting", evse, waiting) if fault is None else Outcome("refused", evse, f"Faulted: {fault}")


def _group(info: m.IdTokenInfoType) -> m.IdTokenType | None:
    return info.group_id_token if isinstance(info.group_id_token, m.IdTokenType) else None


def _same(group: m.IdTokenType, other: m.IdTokenType | None) -> bool:
    """Are these the same groupIdToken? An idToken is case-insensitive (IdTokenType)."""
    return other is not None and (group.id_token.lower(), group.type) == (other.id_token.lower(), other.type)


def _build(kernel: Kernel[DeviceModel], needs: Needs) -> TransactionService:
    reset = needs(ResetService)
    service = TransactionService(
        lane=kernel.lane, store=kernel.store, model=kernel.config, clock=kernel.clock, ports=kernel.ports,
        fixed_cable=kernel.settings.fixed_cable, meter=kernel.meter, boot=needs(BootService), evses=needs(EvsesService),
        authorization=needs(AuthorizationService), availability=needs(AvailabilityService), idle=reset.idle,
        log=kernel.log,
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
        MAX_ENERGY_ON_INVALID_ID,
        TX_STARTED_MEASURANDS,
        TX_UPDATED_MEASURANDS,
        TX_UPDATED_INTERVAL,
        TX_ENDED_MEASURANDS,
        TX_ENDED_INTERVAL,
    ),
    tables=frozenset({"tx_events"}),
    needs=(BootService, EvsesService, AuthorizationService, ResetService, AvailabilityService, UnlockService),
)
