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
"""

from __future__ import annotations

import itertools
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
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Service
from chargebox.station.v201.device_model import DeviceModel
from chargebox.station.v201.evses import EvsesService, Status
from chargebox.station.v201.offer import Block
from chargebox.store.availability import AvailabilityTable

Answer = m.ChangeAvailabilityStatusEnumType
STATION: Final = (0, 0)  # the scope of a ChangeAvailability without evse (G04.FR.01); (evse, 0) is an EVSE's
TECH_INFO_MAX: Final = 500  # EventDataType.techInfo
TECH_CODE_MAX: Final = 50  # EventDataType.techCode
# Does a transaction run on this EVSE? The transactions block's word (G03.FR.05, G04.FR.06).
TransactionProbe = Callable[[int], bool]


class AvailabilityService(Service[m.Action]):
    """Operative or Inoperative per scope, persisted; Faulted per EVSE, from the hardware."""

    def __init__(
        self,
        *,
        evses: EvsesService,
        table: AvailabilityTable,
        lane: Lane,
        clock: Clock,
        log: logging.LoggerAdapter[logging.Logger] | logging.Logger,
    ) -> None:
        self.transactions: list[TransactionProbe] = []
        self._evses = evses
        self._table = table
        self._lane = lane
        self._clock = clock
        self._log = log
        self._inoperative = table.inoperative()  # (evse, connector) scopes; STATION, (evse, 0) for an EVSE
        self._faults: dict[int, str] = {}  # EVSE id: what the hardware said; a fact of the hardware, not reset
        self._event_ids = itertools.count(1)

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
        self._notify(evse, error_code=error_code, info=info)

    def clear_fault(self, evse: int) -> None:
        if self._faults.pop(evse, None) is None:
            return
        self._log.info("= %s: fault cleared", _what((evse, 0)))
        self._evses.refresh(evse or None)
        self._notify(evse)

    def fault_code(self, evse: int) -> str | None:
        """The hardware's error code of a fault at that EVSE or of the whole station; None without one."""
        return self._faults.get(evse, self._faults.get(0))

    def reset(self) -> None:
        """Availability is persisted and a fault is the hardware's: a reboot forgets neither."""

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

    def _notify(self, evse: int, *, error_code: str | None = None, info: str | None = None) -> None:
        """N07.FR.19: the EVSE's (or the station's) AvailabilityState as it is now, with what the hardware said of
        a fault."""
        now = datetimes.wire(self._clock.now())
        if evse == 0:
            state, component = self._evses.station_status(), m.ComponentType(name="ChargingStation")
        else:
            state, component = self._evses.evse_status(evse), m.ComponentType(name="EVSE", evse=m.EVSEType(id=evse))
        event = m.EventDataType(
            event_id=next(self._event_ids),
            timestamp=now,
            trigger=m.EventTriggerEnumType.DELTA,
            actual_value=state.value,
            tech_code=error_code[:TECH_CODE_MAX] if error_code else msgspec.UNSET,
            tech_info=info[:TECH_INFO_MAX] if info else msgspec.UNSET,
            cleared=True if error_code is None else msgspec.UNSET,
            component=component,
            variable=m.VariableType(name="AvailabilityState"),
            event_notification_type=m.EventNotificationEnumType.HARD_WIRED_NOTIFICATION,
        )
        self._lane.submit(m.NotifyEventRequest(generated_at=now, seq_no=0, event_data=[event]))


def _answer(status: Answer, reason: str | None = None) -> m.ChangeAvailabilityResponse:
    info = msgspec.UNSET if reason is None else m.StatusInfoType(reason_code=reason)
    return m.ChangeAvailabilityResponse(status=status, status_info=info)


def _what(scope: tuple[int, int]) -> str:
    evse, connector = scope
    if scope == STATION:
        return "the station"
    return f"EVSE {evse}" if connector == 0 else f"EVSE {evse} connector {connector}"


def _build(kernel: Kernel[DeviceModel], needs: Needs) -> AvailabilityService:
    service = AvailabilityService(evses=needs(EvsesService), table=AvailabilityTable(kernel.store), lane=kernel.lane,
                                  clock=kernel.clock, log=kernel.log)  # fmt: skip
    needs(EvsesService).sources.append(service.status_of)  # G01.FR.02: Unavailable from the start, after a reboot
    return service


FEATURE: Final = Feature(
    name="availability",
    profile=Block.AVAILABILITY,
    service=AvailabilityService,
    build=_build,
    actions=frozenset({m.Action.CHANGE_AVAILABILITY}),
    tables=frozenset({"availability"}),
    needs=(EvsesService,),
)
