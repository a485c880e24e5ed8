"""Availability: ChangeAvailability of the station, an EVSE or a connector, and hardware faults (G03, G04, G01).

ChangeAvailability sets one scope (the station, an EVSE, a connector) Operative or Inoperative; the store keeps
each scope's word before the answer (G03.FR.08, G04.FR.09), so a station made Operative again gives an EVSE set
Inoperative on its own its state back (G03.FR.07, G04.FR.08). A connector is Unavailable while any scope above or
at it is Inoperative (G03.FR.06, G04.FR.07), which it tells ``EvsesService`` as one of its ``sources``: the EVSE
service sends the StatusNotification of each connector that changed, after the answer (G03.FR.04, G04.FR.05), and
its AvailabilityState variables read the same status.

Whether a transaction runs on an EVSE is the transactions block's to know: it joins ``transactions`` (does one
run on this EVSE?) and calls ``ended(evse)`` when one ends. Inoperative asked of a scope with a transaction is
answered Scheduled and takes effect when it ends (G03.FR.05, G04.FR.06); the idle EVSEs of the station turn
Unavailable at once (TC_G_14_CS). With no participant nothing runs, so nothing is scheduled.

A hardware fault of an EVSE or of the whole station (``fault``, from ``Station.fault`` through the Front) makes
its connectors Faulted, which wins over every other status (G03.FR.06); 2.0.1's StatusNotification has no error
code, so a NotifyEvent of the EVSE's (or the station's) AvailabilityState (trigger Delta, a HardWiredNotification,
N07.FR.19) carries the hardware's code and text; its clearing sends the state it returns to, ``cleared`` true.

A part that fails when a feature uses it (``part_failed``: the transactions block's contactor and cable lock, the
meter through ``GuardedMeter``'s watchers) sets the Problem of its component (``Part``: PowerContactor,
ConnectorPlugRetentionLock, FiscalMetering, Part 2's appendix 3.2) true, read as the variable and told in a
NotifyEvent (G05.FR.02); a contactor or a lock also makes the EVSE Faulted, in the same NotifyEvent, its
AvailabilityState event naming the Problem's as its ``cause`` (N07.FR.05). The meter's clears itself when the
meter answers again; the others when the fault is cleared (``clear_fault``: someone mended the part).

Every NotifyEvent is journaled in the lane (durable, sent in order after the boot and a reconnect's statuses: a
fault while offline reaches the central system, as N07.FR.04 asks of monitored events), and its eventIds go on
from the last one given across restarts (kept in the store's station facts before the message is journaled).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Final

import msgspec

from chargebox.clock import Clock
from chargebox.protocol.v201 import datetimes
from chargebox.protocol.v201 import messages as m
from chargebox.rpc import Handler, Reply
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane, encode
from chargebox.station.kernel.service import Service
from chargebox.station.v201.device_model import DeviceModel
from chargebox.station.v201.evses import EvsesService, Status
from chargebox.station.v201.offer import Block
from chargebox.station.v201.variables import declare
from chargebox.store import Store
from chargebox.store.availability import AvailabilityTable
from chargebox.tasks import Tasks

Answer = m.ChangeAvailabilityStatusEnumType
STATION: Final = (0, 0)  # the scope of a ChangeAvailability without evse (G04.FR.01); (evse, 0) is an EVSE's
TECH_INFO_MAX: Final = 500  # EventDataType.techInfo
TECH_CODE_MAX: Final = 50  # EventDataType.techCode
EVENT_ID: Final = "notify_event_id"  # the store's station fact: the last eventId a NotifyEvent gave
# Does a transaction run on this EVSE? The transactions block's word (G03.FR.05, G04.FR.06).
TransactionProbe = Callable[[int], bool]


class Part(enum.StrEnum):
    """A part of an EVSE the station notices failing, named as its component (Part 2 appendix 3.2)."""

    POWER_CONTACTOR = "PowerContactor"  # 3.2.44, EVSE tier
    PLUG_RETENTION_LOCK = "ConnectorPlugRetentionLock"  # 3.2.17, connector tier
    FISCAL_METERING = "FiscalMetering"  # 3.2.32, EVSE tier


PROBLEMS: Final = tuple(
    declare(part.value, "Problem", description="True while the part failed when it was last used") for part in Part
)


class AvailabilityService(Service[m.Action]):
    """Operative or Inoperative per scope, persisted; Faulted per EVSE, from the hardware."""

    def __init__(
        self,
        *,
        evses: EvsesService,
        store: Store,
        model: DeviceModel,
        lane: Lane,
        clock: Clock,
        log: logging.LoggerAdapter[logging.Logger] | logging.Logger,
    ) -> None:
        self.transactions: list[TransactionProbe] = []
        self._evses = evses
        self._store = store
        self._table = AvailabilityTable(store)
        self._lane = lane
        self._clock = clock
        self._log = log
        self._tasks = Tasks(log, "availability")
        self._inoperative = self._table.inoperative()  # (evse, connector) scopes; STATION, (evse, 0) for an EVSE
        self._faults: dict[int, str] = {}  # EVSE id: what the hardware said; a fact of the hardware, not reset
        self._problems: set[tuple[int, Part]] = set()  # the parts that failed, per EVSE; the hardware's, not reset
        self._event_id = int(store.state.get(EVENT_ID) or 0)  # the last one given, also before a restart
        for evse, _connectors in evses.connectors_by_evse():
            for part in Part:
                where = f"{part.value}@{evse}:1" if part is Part.PLUG_RETENTION_LOCK else f"{part.value}@{evse}"
                model.provide(f"{where}.Problem", self._problem_reader(evse, part))

    def handlers(self) -> dict[m.Action, Handler]:
        return {m.Action.CHANGE_AVAILABILITY: self.on_change_availability}

    def on_change_availability(
        self, request: m.ChangeAvailabilityRequest
    ) -> m.ChangeAvailabilityResponse | Reply[m.ChangeAvailabilityResponse]:
        scope, unknown = self._scope(request.evse)
        if unknown is not None:
            return _answer(Answer.REJECTED, unknown)
        operative = request.operational_status is m.OperationalStatusEnumType.OPERATIVE
        if (scope in self._inoperative) == operative:  # else already in that state: nothing to write (G03.FR.03)
            self._table.set(*scope, operative=operative)  # G03.FR.08, G04.FR.09: kept before it is answered
            (self._inoperative.discard if operative else self._inoperative.add)(scope)
            self._log.info("= %s %s", _what(scope), request.operational_status)
        evse = scope[0] or None
        waits = not operative and self._busy(evse)  # G03.FR.05, G04.FR.06
        answer = _answer(Answer.SCHEDULED if waits else Answer.ACCEPTED)

        async def report() -> None:
            self._evses.refresh(evse)  # G03.FR.04, G04.FR.05: the connectors that changed, after the answer

        return Reply(answer, then=report)

    def status_of(self, evse: int, connector: int) -> Status | None:
        """This feature's word on a connector (an ``EvsesService`` source): Faulted, Unavailable or nothing."""
        if evse in self._faults or 0 in self._faults:
            return Status.FAULTED
        scopes = (STATION, (evse, 0), (evse, connector))
        if any(scope in self._inoperative for scope in scopes) and not self._busy(evse):
            return Status.UNAVAILABLE  # G03.FR.06, G04.FR.07; with a transaction, when it ends (G03.FR.05)
        return None

    def ended(self, evse: int) -> None:
        """A transaction on that EVSE ended: a change that waited for it takes effect (G03.FR.05, G01.FR.05)."""
        self._evses.refresh(evse)

    def fault(self, evse: int, error_code: str, info: str | None = None) -> None:
        """The hardware of an EVSE (0: of the whole station) failed: its connectors are Faulted until
        ``clear_fault``."""
        if evse != 0 and not self._evses.exists(evse):
            raise ValueError(f"EVSE {evse}: the station has EVSEs 1 to {len(self._evses.evses)} (0: all of it)")
        self._faults[evse] = error_code
        self._log.warning("! %s faulted: %s%s", _what((evse, 0)), error_code, f" ({info})" if info else "")
        self._evses.refresh(evse or None)
        self._journal([self._state_event(evse, error_code=error_code, info=info)])

    def clear_fault(self, evse: int) -> None:
        """The fault is gone (someone mended it): the state the EVSE returns to, and the Problem of each part the
        station saw fail there, cleared (a meter's clears itself when it answers)."""
        if self._faults.pop(evse, None) is None:
            return
        self._log.info("= %s: fault cleared", _what((evse, 0)))
        self._evses.refresh(evse or None)
        mended = sorted(p for e, p in self._problems if e == evse and p is not Part.FISCAL_METERING)
        self._problems -= {(evse, part) for part in mended}
        self._journal([self._state_event(evse), *(self._problem_event(evse, part, False) for part in mended)])

    def part_failed(self, evse: int, part: Part, info: str, *, error_code: str | None = None) -> None:
        """A part of the EVSE failed when it was used: its Problem is true (G05.FR.02); with ``error_code`` (1.6's
        ChargePointErrorCode: ConnectorLockFailure, PowerSwitchFailure) the EVSE is Faulted too, in one NotifyEvent
        whose AvailabilityState event names the Problem's as its cause (N07.FR.05)."""
        fresh = (evse, part) not in self._problems
        self._problems.add((evse, part))
        if error_code is not None and self._faults.get(evse) != error_code:
            self._faults[evse] = error_code
            self._log.warning("! EVSE %d faulted: %s (%s)", evse, error_code, info)
            self._evses.refresh(evse)
            problem = self._problem_event(evse, part, True, info)
            self._journal([problem, self._state_event(evse, error_code=error_code, info=info, cause=problem.event_id)])
        elif fresh:
            self._log.warning("! EVSE %d: %s problem (%s)", evse, part, info)
            self._journal([self._problem_event(evse, part, True, info)])

    def part_answers(self, evse: int, part: Part) -> None:
        """The part works again: its Problem is false, ``cleared`` true."""
        if (evse, part) in self._problems:
            self._problems.discard((evse, part))
            self._log.info("= EVSE %d: %s works again", evse, part)
            self._journal([self._problem_event(evse, part, False)])

    def meter_failed(self, connector_id: int, info: str) -> None:
        """``GuardedMeter``'s watcher: the meter cannot be read; the transaction goes on on the last register."""
        if connector_id != 0:
            self.part_failed(connector_id, Part.FISCAL_METERING, info)

    def meter_answers(self, connector_id: int) -> None:
        if connector_id != 0:
            self.part_answers(connector_id, Part.FISCAL_METERING)

    def fault_code(self, evse: int) -> str | None:
        """The hardware's error code of a fault at that EVSE or of the whole station; None without one."""
        return self._faults.get(evse, self._faults.get(0))

    def reset(self) -> None:
        """Availability is persisted and a fault is the hardware's: a reboot forgets neither. What is being
        journaled is the lane's (its place is taken)."""

    # -- internals ----------------------------------------------------------------------------

    def _scope(self, evse: m.EVSEType | msgspec.UnsetType) -> tuple[tuple[int, int], str | None]:
        """The scope a request names, or why it names none the station has (its statusInfo reasonCode)."""
        if isinstance(evse, msgspec.UnsetType):
            return STATION, None  # G04.FR.01
        connector = None if evse.connector_id is msgspec.UNSET else evse.connector_id
        if not self._evses.exists(evse.id):
            return STATION, "UnknownEvse"
        if connector is not None and not self._evses.exists(evse.id, connector):
            return STATION, "UnknownConnector"
        return (evse.id, connector or 0), None

    def _busy(self, evse: int | None) -> bool:
        """Does a transaction run on that EVSE (None: on any)?"""
        evse_ids = range(1, len(self._evses.evses) + 1) if evse is None else (evse,)
        return any(probe(e) for probe in self.transactions for e in evse_ids)

    def _state_event(self, evse: int, *, error_code: str | None = None, info: str | None = None,
                     cause: int | None = None) -> m.EventDataType:  # fmt: skip
        """N07.FR.19: the EVSE's (or the station's) AvailabilityState as it is now, with what the hardware said of
        a fault; ``cleared`` when there is none."""
        if evse == 0:
            state, component = self._evses.station_status(), m.ComponentType(name="ChargingStation")
        else:
            state, component = self._evses.evse_status(evse), m.ComponentType(name="EVSE", evse=m.EVSEType(id=evse))
        return self._event(component, "AvailabilityState", state.value, cleared=error_code is None,
                           tech_code=error_code, info=info, cause=cause)  # fmt: skip

    def _problem_event(self, evse: int, part: Part, problem: bool, info: str | None = None) -> m.EventDataType:
        connector = 1 if part is Part.PLUG_RETENTION_LOCK else msgspec.UNSET
        component = m.ComponentType(name=part.value, evse=m.EVSEType(id=evse, connector_id=connector))
        return self._event(component, "Problem", "true" if problem else "false", cleared=not problem, info=info)

    def _event(
        self, component: m.ComponentType, variable: str, value: str, *, cleared: bool, tech_code: str | None = None,
        info: str | None = None, cause: int | None = None,
    ) -> m.EventDataType:  # fmt: skip
        self._event_id += 1
        return m.EventDataType(
            event_id=self._event_id,
            timestamp=datetimes.wire(self._clock.now()),
            trigger=m.EventTriggerEnumType.DELTA,
            actual_value=value,
            cause=cause if cause is not None else msgspec.UNSET,
            tech_code=tech_code[:TECH_CODE_MAX] if tech_code else msgspec.UNSET,
            tech_info=info[:TECH_INFO_MAX] if info else msgspec.UNSET,
            cleared=True if cleared else msgspec.UNSET,
            component=component,
            variable=m.VariableType(name=variable),
            event_notification_type=m.EventNotificationEnumType.HARD_WIRED_NOTIFICATION,
        )

    def _journal(self, events: list[m.EventDataType]) -> None:
        """One NotifyEvent, its place in the lane taken now: durable, sent in order once the boot is accepted
        (offline: after the reconnect's statuses); the last eventId is kept first, so none is given twice."""
        request = m.NotifyEventRequest(generated_at=datetimes.wire(self._clock.now()), seq_no=0, event_data=events)
        payload, last = encode(request), str(self._event_id)

        async def write(queued: Callable[[int], None]) -> None:
            await self._store.state.put(EVENT_ID, last)
            queued(await self._store.outbox.append(m.Action.NOTIFY_EVENT.value, payload, None))

        self._tasks.spawn(self._lane.journal(write))

    def _problem_reader(self, evse: int, part: Part) -> Callable[[], str]:
        return lambda: "true" if (evse, part) in self._problems else "false"


def _answer(status: Answer, reason: str | None = None) -> m.ChangeAvailabilityResponse:
    info = msgspec.UNSET if reason is None else m.StatusInfoType(reason_code=reason)
    return m.ChangeAvailabilityResponse(status=status, status_info=info)


def _what(scope: tuple[int, int]) -> str:
    evse, connector = scope
    if scope == STATION:
        return "the station"
    return f"EVSE {evse}" if connector == 0 else f"EVSE {evse} connector {connector}"


def _build(kernel: Kernel[DeviceModel], needs: Needs) -> AvailabilityService:
    service = AvailabilityService(evses=needs(EvsesService), store=kernel.store, model=kernel.config, lane=kernel.lane,
                                  clock=kernel.clock, log=kernel.log)  # fmt: skip
    needs(EvsesService).sources.append(service.status_of)  # G01.FR.02: Unavailable from the start, after a reboot
    kernel.meter.watchers.append(service)  # a meter that cannot be read: FiscalMetering's Problem
    return service


FEATURE: Final = Feature(
    name="availability",
    profile=Block.AVAILABILITY,
    service=AvailabilityService,
    build=_build,
    actions=frozenset({m.Action.CHANGE_AVAILABILITY}),
    variables=PROBLEMS,
    tables=frozenset({"availability"}),
    needs=(EvsesService,),
)
