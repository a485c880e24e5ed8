"""Connector status: the StatusNotification state machine (checklist section 6).

Sends: StatusNotification on every change (S-1) after MinimumStatusDuration (S-6), for connector
0 and every connector after an accepted boot (B-4), and for what changed while offline after a
reconnect (S-7). The status is derived from the connector's facts (fault, availability, cable,
waiting for a plug...), and every change is checked against the allowed transitions (S-1), so
an impossible sequence is a bug that fails loudly, never a frame on the wire.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from chargebox.clock import Clock, Event, TimerHandle
from chargebox.errors import LocalProtocolError
from chargebox.log import Log
from chargebox.protocol.messages import (
    Action,
    AvailabilityType,
    ChargePointErrorCode,
    ChargePointStatus,
    MessageTrigger,
    StatusNotificationRequest,
    StatusNotificationResponse,
)
from chargebox.rpc import SendResult
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.config import Configuration
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Service, Trigger, Triggers
from chargebox.station.v16.config_keys import Profile
from chargebox.store import Store

S = ChargePointStatus
# S-1: [S] §4.9 with errata 3.20 (B6 Preparing → Finishing); the key may go to each listed status.
TRANSITIONS: Final[dict[ChargePointStatus, frozenset[ChargePointStatus]]] = {
    S.AVAILABLE: frozenset({S.PREPARING, S.CHARGING, S.SUSPENDED_EV, S.SUSPENDED_EVSE, S.RESERVED,
                            S.UNAVAILABLE, S.FAULTED}),
    S.PREPARING: frozenset({S.AVAILABLE, S.CHARGING, S.SUSPENDED_EV, S.SUSPENDED_EVSE, S.FINISHING, S.FAULTED}),
    S.CHARGING: frozenset({S.AVAILABLE, S.SUSPENDED_EV, S.SUSPENDED_EVSE, S.FINISHING, S.UNAVAILABLE, S.FAULTED}),
    S.SUSPENDED_EV: frozenset({S.AVAILABLE, S.CHARGING, S.SUSPENDED_EVSE, S.FINISHING, S.UNAVAILABLE, S.FAULTED}),
    S.SUSPENDED_EVSE: frozenset({S.AVAILABLE, S.CHARGING, S.SUSPENDED_EV, S.FINISHING, S.UNAVAILABLE, S.FAULTED}),
    S.FINISHING: frozenset({S.AVAILABLE, S.PREPARING, S.UNAVAILABLE, S.FAULTED}),
    S.RESERVED: frozenset({S.AVAILABLE, S.PREPARING, S.UNAVAILABLE, S.FAULTED}),
    S.UNAVAILABLE: frozenset({S.AVAILABLE, S.PREPARING, S.CHARGING, S.SUSPENDED_EV, S.SUSPENDED_EVSE, S.FAULTED}),
    S.FAULTED: frozenset({S.AVAILABLE, S.PREPARING, S.CHARGING, S.SUSPENDED_EV, S.SUSPENDED_EVSE, S.FINISHING,
                          S.RESERVED, S.UNAVAILABLE}),
}  # fmt: skip
STATION_STATUSES: Final = frozenset({S.AVAILABLE, S.UNAVAILABLE, S.FAULTED})  # S-2: connector 0


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """A status as it was when it was decided, so that it is reported as it was (S-7)."""

    status: ChargePointStatus
    error_code: ChargePointErrorCode
    info: str | None
    vendor_error_code: str | None

    @classmethod
    def of(cls, connector: Connector) -> _Snapshot:
        return cls(connector.status, connector.error_code, connector.info, connector.vendor_error_code)

    @property
    def key(self) -> tuple[ChargePointStatus, ChargePointErrorCode]:
        return self.status, self.error_code


@dataclass(slots=True)
class Connector:
    """What is known of one connector (id 0 is the charge point as a whole)."""

    id: int
    status: ChargePointStatus = S.AVAILABLE
    error_code: ChargePointErrorCode = ChargePointErrorCode.NO_ERROR
    info: str | None = None
    vendor_error_code: str | None = None
    availability: AvailabilityType = AvailabilityType.OPERATIVE
    plugged: bool = False
    faulted: bool = False
    awaiting_plug: bool = False  # identified first, waiting for the cable
    finishing: bool = False  # a transaction ended (or X-3 timed out) and the user must still act
    ev_suspended: bool = False  # the EV does not take energy (SuspendedEV)
    evse_suspended: bool = False  # the station does not offer energy (SuspendedEVSE, X-5)
    ev_disconnected: bool = False  # the EV side was unplugged during a transaction that goes on
    reserved: bool = False  # held for a reservation: Reserved while otherwise Available
    transaction_id: int | None = None  # the central system's id, once StartTransaction is answered
    transaction_ref: int | None = None  # our own reference, from the moment a transaction starts
    reported: tuple[ChargePointStatus, ChargePointErrorCode] | None = None  # last one answered
    queued: tuple[ChargePointStatus, ChargePointErrorCode] | None = None  # last one handed to the Rpc
    _generation: int = 0
    _report_timer: TimerHandle | None = None


class ConnectorsService(Service):
    """Connector 0..N, their status, and StatusNotification."""

    def __init__(
        self,
        *,
        lane: Lane,
        config: Configuration,
        clock: Clock,
        store: Store,
        count: int,
        log: Log,
    ) -> None:
        self._lane = lane
        self._config = config
        self._clock = clock
        self._store = store
        self._log = log
        self._online = False
        self._maintenance = False
        self._store_fault: str | None = None  # the store refuses writes: the info reported (StorageService)
        self._idle = Event()
        self._idle.set()
        store.connectors.ensure(count)
        self.connectors = [Connector(i) for i in range(count + 1)]
        # Told of every status change (the reservation service ends a reservation on Faulted, R-6).
        self.observers: list[Callable[[Connector], None]] = []
        self._load()

    def _load(self) -> None:
        availability = self._store.connectors.availability()
        for connector in self.connectors:
            connector.availability = AvailabilityType(availability.get(connector.id, "Operative"))  # C-7
            connector.status = self.derive(connector)
            connector.reported = connector.queued = None

    @property
    def count(self) -> int:
        return len(self.connectors) - 1

    def __getitem__(self, connector_id: int) -> Connector:
        return self.connectors[connector_id]

    def exists(self, connector_id: int) -> bool:
        return 0 <= connector_id < len(self.connectors)

    def reset(self) -> None:
        """Forget runtime state (timers, what was reported); persisted availability is reloaded."""
        for connector in self.connectors:
            if connector._report_timer is not None:
                connector._report_timer.cancel()
                connector._report_timer = None
            connector.plugged = connector.faulted = connector.awaiting_plug = connector.finishing = False
            connector.ev_suspended = connector.evse_suspended = connector.ev_disconnected = False
            connector.error_code = ChargePointErrorCode.NO_ERROR
            connector.info = None
            connector.transaction_id = connector.transaction_ref = None
        self._maintenance = False
        self._online = False
        self._load()
        self.store_fault(self._store_fault)  # a reboot does not give the disk room

    # -- facts from the hardware and the other services ----------------------------------------

    def plugged(self, connector_id: int) -> None:
        connector = self.connectors[connector_id]
        connector.plugged = True
        connector.awaiting_plug = False
        connector.ev_disconnected = False
        self.refresh(connector_id)

    def unplugged(self, connector_id: int) -> None:
        connector = self.connectors[connector_id]
        connector.plugged = False
        connector.finishing = False
        self.refresh(connector_id)

    def fault(self, connector_id: int, error_code: ChargePointErrorCode, info: str | None = None,
              vendor_error_code: str | None = None) -> None:  # fmt: skip
        """A fault that prevents charging (X-13): Faulted until cleared (I1..I8)."""
        connector = self.connectors[connector_id]
        connector.faulted = True
        connector.error_code, connector.info, connector.vendor_error_code = (
            error_code,
            info,
            vendor_error_code,
        )
        self.refresh(connector_id)

    def clear_fault(self, connector_id: int) -> None:
        connector = self.connectors[connector_id]
        connector.faulted = False
        connector.error_code, connector.info, connector.vendor_error_code = (
            ChargePointErrorCode.NO_ERROR,
            None,
            None,
        )
        self.refresh(connector_id)

    def warn(self, connector_id: int, error_code: ChargePointErrorCode, info: str) -> None:
        """A failure that does not stop charging (a meter that cannot be read): the status stays,
        its errorCode says what is wrong (StatusNotification with the same status, S-1)."""
        connector = self.connectors[connector_id]
        if not connector.faulted:
            connector.error_code, connector.info = error_code, info
            self.refresh(connector_id)

    def clear_warning(self, connector_id: int, error_code: ChargePointErrorCode) -> None:
        connector = self.connectors[connector_id]
        if not connector.faulted and connector.error_code is error_code:
            connector.error_code, connector.info = ChargePointErrorCode.NO_ERROR, None
            self.refresh(connector_id)

    def meter_failed(self, connector_id: int, info: str) -> None:
        """The meter cannot be read: PowerMeterFailure on an unchanged status, the session goes on."""
        self.warn(connector_id, ChargePointErrorCode.POWER_METER_FAILURE, info)

    def meter_answers(self, connector_id: int) -> None:
        self.clear_warning(connector_id, ChargePointErrorCode.POWER_METER_FAILURE)

    def identified(self, connector_id: int) -> None:
        """A card was presented before the cable: Preparing (X-2); the transactions service ends
        the wait after ConnectionTimeOut."""
        connector = self.connectors[connector_id]
        if connector.plugged or connector.status not in (S.AVAILABLE, S.RESERVED):
            return
        connector.awaiting_plug = True
        self.refresh(connector_id)

    def set_availability(self, connector_id: int, availability: AvailabilityType) -> None:
        """Persisted first, so it survives a reboot (C-7, S-9)."""
        self._store.connectors.set_availability(connector_id, availability.value)
        self.connectors[connector_id].availability = availability
        for cid in range(len(self.connectors)) if connector_id == 0 else (connector_id,):
            self.refresh(cid)

    def store_fault(self, info: str | None) -> None:
        """The store refuses writes (``info`` says why, for StatusNotification) or, None, takes them again.

        Nothing can be journaled meanwhile: a connector with a transaction is SuspendedEVSE (the station
        offers no energy, the transaction goes on and resumes by itself) and every other one, with
        connector 0, is Faulted (no transaction can start, X-13); all report errorCode InternalError
        ("error in internal hard- or software component", OCPP 1.6 §7.6) with ``info``, unless a fault
        of their own stands. Both clear themselves when writes succeed again."""
        self._store_fault = info
        for connector in self.connectors:
            if info is not None and not connector.faulted:
                connector.error_code, connector.info = ChargePointErrorCode.INTERNAL_ERROR, info
            elif info is None and not connector.faulted and connector.error_code is ChargePointErrorCode.INTERNAL_ERROR:
                connector.error_code, connector.info = ChargePointErrorCode.NO_ERROR, None
        for connector in self.connectors:
            self.refresh(connector.id)

    def transaction_running(self) -> bool:
        return any(c.transaction_ref is not None for c in self.connectors)

    async def wait_until_no_transactions(self) -> None:
        """F-6: returns once no connector has a transaction (never aborts one)."""
        while self.transaction_running():
            self._idle.clear()
            await self._idle.wait()

    def set_maintenance(self, on: bool) -> None:
        """S-9, F-6: every connector without a transaction goes (and stays) Unavailable, e.g. while
        firmware waits to be installed. Not persisted: a reboot ends it."""
        self._maintenance = on
        for connector in self.connectors[1:]:
            self.refresh(connector.id)

    # -- status ---------------------------------------------------------------------------------

    def derive(self, connector: Connector) -> ChargePointStatus:
        """The status the facts call for (S-3): Reserved is a connector a reservation holds (R-2) that is
        otherwise Available, or Preparing for a cable alone: the only Reserved -> Preparing edge is G2, "the
        reservation identity is presented", so a cable waits in a Reserved connector for the reserved card."""
        status = self.derive_unreserved(connector)
        return S.RESERVED if connector.reserved and self._holdable(connector, status) else status

    def free(self, connector_id: int) -> bool:
        """Nothing but a reservation could keep a card from this connector now (R-3, R-4); a cable in a
        connector a reservation holds does not take it from the reservation (G2)."""
        if connector_id == 0:
            return False
        connector = self.connectors[connector_id]
        status = self.derive_unreserved(connector)
        return status is S.AVAILABLE or (connector.reserved and self._holdable(connector, status))

    @staticmethod
    def _holdable(connector: Connector, status: ChargePointStatus) -> bool:
        """Available, or Preparing with a cable and no card: what a reservation keeps showing as Reserved."""
        return status is S.AVAILABLE or (status is S.PREPARING and connector.plugged and not connector.awaiting_plug)

    def derive_unreserved(self, connector: Connector) -> ChargePointStatus:
        """The status the facts other than a reservation call for."""
        station = self.connectors[0]
        if connector.faulted:
            return S.FAULTED
        if self._store_fault is not None:
            return S.SUSPENDED_EVSE if connector.id and connector.transaction_ref is not None else S.FAULTED
        if connector.id == 0:
            return S.UNAVAILABLE if connector.availability is AvailabilityType.INOPERATIVE else S.AVAILABLE
        if connector.transaction_ref is not None:  # C-4: availability waits for the transaction
            if connector.evse_suspended:
                return S.SUSPENDED_EVSE  # S-4: both suspended counts as EVSE
            if connector.ev_suspended or connector.ev_disconnected:
                return S.SUSPENDED_EV
            return S.CHARGING
        inoperative = AvailabilityType.INOPERATIVE in (connector.availability, station.availability)
        if inoperative and not self.unavailable_blocked(connector.id):
            return S.UNAVAILABLE
        if self._maintenance:
            return S.UNAVAILABLE
        if connector.finishing:
            return S.FINISHING
        if connector.plugged or connector.awaiting_plug:
            return S.PREPARING
        return S.AVAILABLE

    def unavailable_blocked(self, connector_id: int) -> bool:
        """C-4: an Inoperative change waits (Scheduled) while the connector is in use: a transaction, or a driver
        already Preparing (a cable in or a card presented). The one rule of both the answer and the status: a
        Preparing connector stays Preparing and goes Unavailable once it is free (§7.3, §4.9)."""
        connector = self.connectors[connector_id]
        preparing = (connector.plugged or connector.awaiting_plug) and not connector.finishing
        return connector.transaction_ref is not None or (connector.status is S.PREPARING and preparing)

    def refresh(self, connector_id: int) -> None:
        """Re-derive the status and report a change."""
        connector = self.connectors[connector_id]
        if not self.transaction_running():
            self._idle.set()
        status = self.derive(connector)
        if status is S.FINISHING and connector.status is S.UNAVAILABLE:
            # S-1 has no Unavailable -> Finishing: a connector made operative again with the cable of
            # a finished session still in is a cable waiting for a card (Preparing, F2).
            connector.finishing = False
            status = self.derive(connector)
        if status is connector.status:
            if connector.queued is not None and connector.queued != (status, connector.error_code):
                self._schedule_report(connector)  # same status, another error code
            return
        if connector.id == 0 and status not in STATION_STATUSES:
            raise LocalProtocolError(f"S-2: connector 0 cannot be {status}")
        if status not in TRANSITIONS[connector.status]:
            # S-1: no direct edge (e.g. Preparing -> Unavailable): pass through Available, which every status
            # may reach and which reaches every status but Finishing; with a cable in, through Finishing where
            # it leads there (B6, F8): Available is never reported with a cable in.
            hops = (S.FINISHING, S.AVAILABLE) if connector.plugged else (S.AVAILABLE,)
            hop = next((h for h in hops if h in TRANSITIONS[connector.status] and status in TRANSITIONS[h]), None)
            if hop is None:
                raise LocalProtocolError(f"S-1: connector {connector.id} cannot go {connector.status} -> {status}")
            self._enter(connector, hop)
        self._enter(connector, status)

    def _enter(self, connector: Connector, status: ChargePointStatus) -> None:
        self._log.info("= connector %d: %s -> %s", connector.id, connector.status, status)
        connector.status = status
        connector._generation += 1
        self._schedule_report(connector)
        for observer in self.observers:
            observer(connector)

    def _schedule_report(self, connector: Connector) -> None:
        """Report this status as it is now, in event order (S-7), once it has lasted (S-6)."""
        if not self._online:
            return  # S-7: reported after the reconnect, if it still differs then
        snapshot = _Snapshot.of(connector)
        delay = self._config.get_int("MinimumStatusDuration")
        if delay <= 0:
            self._queue(connector, snapshot)
            return
        generation = connector._generation

        def report() -> None:  # S-6: only a status that lasted is reported
            if connector._generation == generation:
                self._queue(connector, snapshot)

        if connector._report_timer is not None:
            connector._report_timer.cancel()  # superseded: that status did not last
        connector._report_timer = self._clock.call_later(delay, report)

    def _queue(self, connector: Connector, snapshot: _Snapshot) -> None:
        """Hand a status to the lane now, so it keeps its place among the station's CALLs (S-7),
        unless it is the one handed over last."""
        if connector.queued != snapshot.key:
            connector.queued = snapshot.key
            self._submit(connector, snapshot)

    async def send_status_notification(self, connector_id: int) -> SendResult[StatusNotificationResponse]:
        """Send the connector's current status."""
        connector = self.connectors[connector_id]
        return await self._submit(connector, _Snapshot.of(connector))

    def _submit(self, connector: Connector, snapshot: _Snapshot) -> Awaitable[SendResult[StatusNotificationResponse]]:
        """Hand the status to the lane at once, so it keeps its place among the station's CALLs
        (S-7); it counts as reported the moment it is answered."""

        def answered(result: SendResult[StatusNotificationResponse]) -> None:
            if result.ok:
                connector.reported = snapshot.key

        return self._lane.submit(self._request(connector, snapshot), on_result=answered)

    def _request(self, connector: Connector, snapshot: _Snapshot) -> StatusNotificationRequest:
        return StatusNotificationRequest(
            connector_id=connector.id,
            error_code=snapshot.error_code,
            status=snapshot.status,
            timestamp=self._clock.now(),
            **_optional(info=snapshot.info, vendor_error_code=snapshot.vendor_error_code),
        )

    def triggers(self, permit: Callable[[Action], None]) -> Triggers:
        async def status(connector_id: int | None) -> None:
            for cid in range(len(self.connectors)) if connector_id is None else (connector_id,):  # C-29
                permit(Action.STATUS_NOTIFICATION)
                await self.send_status_notification(cid)

        return {MessageTrigger.STATUS_NOTIFICATION: Trigger(status, per_connector=True)}

    async def online(self, *, after_boot: bool) -> None:
        """B-4: after an accepted boot, every connector; S-7: after a reconnect, what changed."""
        self._online = True
        for connector in self.connectors:
            connector.queued = (connector.status, connector.error_code)
            if after_boot or connector.reported != connector.queued:
                await self.send_status_notification(connector.id)

    def offline(self) -> None:
        self._online = False


def _optional(**values: str | None) -> dict[str, str]:
    return {name: value for name, value in values.items() if value is not None}


def _build(kernel: Kernel, _needs: Needs) -> ConnectorsService:
    service = ConnectorsService(lane=kernel.lane, config=kernel.config, clock=kernel.clock, store=kernel.store,
                                count=kernel.connector_count, log=kernel.log)  # fmt: skip
    kernel.meter.watchers.append(service)  # a meter that cannot be read: PowerMeterFailure
    return service


FEATURE: Final = Feature(
    name="connectors",
    profile=Profile.CORE,
    service=ConnectorsService,
    build=_build,
    keys=frozenset({"MinimumStatusDuration", "NumberOfConnectors"}),
)
