"""Reservation: ReserveNow and CancelReservation (checklist R-1..R-8, C-1, S-1's Reserved).

Answers: ReserveNow, CancelReservation. A reservation holds a connector (or, for connector 0, one
connector of the charge point, R-4) for one card or its group until its expiryDate, a transaction
started by that card (whose StartTransaction carries the reservationId, R-6, X-14), a fault or an
Unavailable connector, or CancelReservation. Reservations are persisted, so a restart keeps them and
their expiry; the expiry is a timer on the injected clock.

Connector 0: the station keeps at least one free connector per connector-0 reservation. While more
connectors are free than such reservations, none reports Reserved; when only as many are left, those
report Reserved (so a single-connector station reports its connector Reserved, R-4), and a card of no
reservation is refused on any connector it would take from them.

The service is one of the transaction service's ``start_permits``: it is asked ``permit`` before a
start and told ``used`` once a transaction took a reservation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Final

import msgspec

from chargebox.clock import RECHECK, Clock, TimerHandle
from chargebox.log import Log
from chargebox.protocol.messages import (
    Action,
    CancelReservationRequest,
    CancelReservationResponse,
    CancelReservationStatus,
    ChargePointStatus,
    IdTagInfo,
    ReservationStatus,
    ReserveNowRequest,
    ReserveNowResponse,
)
from chargebox.rpc import Handler, Reply
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.config import Configuration
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.service import Service
from chargebox.station.v16.authorization import AuthorizationService
from chargebox.station.v16.config_keys import Profile
from chargebox.station.v16.connectors import Connector, ConnectorsService
from chargebox.station.v16.transactions import TransactionService
from chargebox.store import Store
from chargebox.store.reservations import ReservationRecord

S = ChargePointStatus
Authorize = Callable[[str], Awaitable[IdTagInfo]]
_ENDS: frozenset[ChargePointStatus] = frozenset({S.FAULTED, S.UNAVAILABLE})  # R-6 (c)


class ReservationService(Service):
    def __init__(
        self,
        *,
        store: Store,
        config: Configuration,
        connectors: ConnectorsService,
        authorize: Authorize,
        validate: Callable[[str], Awaitable[None]],
        clock: Clock,
        log: Log,
    ) -> None:
        """``authorize`` looks a card up (list, cache, Authorize.req) when only its parentIdTag can
        match a reservation (R-5); ``validate`` asks the central system about a reserved card once the
        ReserveNow is answered (R-8), so what it says is cached before the driver arrives."""
        self._store = store
        self._config = config
        self._connectors = connectors
        self._authorize = authorize
        self._validate = validate
        self._clock = clock
        self._log = log
        self.reservations: dict[int, ReservationRecord] = {}
        self._timers: dict[int, TimerHandle] = {}
        connectors.observers.append(self._status_changed)
        self._load(arm=True)

    def handlers(self) -> dict[Action, Handler]:
        return {Action.RESERVE_NOW: self.on_reserve_now, Action.CANCEL_RESERVATION: self.on_cancel_reservation}

    # -- the central system's requests ----------------------------------------------------------

    def on_reserve_now(self, request: ReserveNowRequest) -> Reply[ReserveNowResponse]:
        self._drop_expired()
        status = self._check(request)
        if status is ReservationStatus.ACCEPTED:
            record = ReservationRecord(
                request.reservation_id,
                request.connector_id,
                request.id_tag,
                None if request.parent_id_tag is msgspec.UNSET else request.parent_id_tag,
                request.expiry_date.isoformat(),
            )
            self._store.reservations.put(record)  # persisted before it is acted on (R-1 replaces)
            self._cancel_timer(record.reservation_id)
            self.reservations[record.reservation_id] = record
            self._arm(record)
            self._mark()
        self._log.info("= ReserveNow %d on connector %d for %s: %s", request.reservation_id, request.connector_id,
                       request.id_tag, status)  # fmt: skip
        response = ReserveNowResponse(status=status)
        if status is not ReservationStatus.ACCEPTED:
            return Reply(response)
        return Reply(response, then=lambda: self._validate(request.id_tag))

    def on_cancel_reservation(self, request: CancelReservationRequest) -> CancelReservationResponse:
        """C-1 (TC_051_CS): Accepted and the connector Available again; an unknown id is Rejected (TC_052_CS)."""
        if request.reservation_id not in self.reservations:
            return CancelReservationResponse(status=CancelReservationStatus.REJECTED)
        self._end(request.reservation_id, "cancelled")
        return CancelReservationResponse(status=CancelReservationStatus.ACCEPTED)

    def _check(self, request: ReserveNowRequest) -> ReservationStatus:
        """R-3, R-4: what the target says, a replaced reservation (R-1) not counting against itself; an
        expiryDate already past is Rejected only after that (TC_048_1, TC_050_1: a Faulted connector says so)."""
        status = self._target_status(request)
        if status is ReservationStatus.ACCEPTED and request.expiry_date <= self._clock.now():
            return ReservationStatus.REJECTED
        return status

    def _target_status(self, request: ReserveNowRequest) -> ReservationStatus:
        connector_id = request.connector_id
        if not self._connectors.exists(connector_id):
            return ReservationStatus.REJECTED
        others = [r for r in self.reservations.values() if r.reservation_id != request.reservation_id]
        station = self._connectors[0]
        if connector_id == 0:
            supported = self._config.has("ReserveConnectorZeroSupported")
            if not (supported and self._config.get_bool("ReserveConnectorZeroSupported")):
                return ReservationStatus.REJECTED  # R-4 (TC_050_4_CS)
            if station.status is S.FAULTED:
                return ReservationStatus.FAULTED
            if station.status is S.UNAVAILABLE:
                return ReservationStatus.UNAVAILABLE
            held = {r.connector_id for r in others if r.connector_id > 0}
            free = [c for c in self._connectors.connectors[1:] if self._connectors.free(c.id) and c.id not in held]
            if len(free) > sum(1 for r in others if r.connector_id == 0):
                return ReservationStatus.ACCEPTED
            return _why_not(self._connectors.connectors[1:])  # TC_050_1..3_CS
        connector = self._connectors[connector_id]
        unreserved = self._connectors.derive_unreserved(connector)
        if unreserved is S.FAULTED:
            return ReservationStatus.FAULTED  # TC_048_1_CS
        if unreserved is S.UNAVAILABLE:
            return ReservationStatus.UNAVAILABLE  # TC_048_3_CS
        if unreserved is not S.AVAILABLE or any(r.connector_id == connector_id for r in others):
            return ReservationStatus.OCCUPIED  # TC_048_2_CS
        if self._free_after(others, taking=connector_id) < sum(1 for r in others if r.connector_id == 0):
            return ReservationStatus.OCCUPIED  # R-4: the last free connector is held for connector 0's card
        return ReservationStatus.ACCEPTED

    # -- what the transaction service asks ------------------------------------------------------

    async def permit(self, connector_id: int, id_tag: str, info: IdTagInfo) -> tuple[bool, int | None]:
        """May this accepted card start on the connector, and with which reservation (R-5, R-6)?

        (True, id): it uses reservation ``id``; (True, None): no reservation concerns it; (False, None):
        the connector is held for another card."""
        self._drop_expired()
        here = [r for r in self.reservations.values() if r.connector_id == connector_id]
        zero = [r for r in self.reservations.values() if r.connector_id == 0]
        for reservation in here + zero:
            if await self._matches(reservation, id_tag, info):
                return True, reservation.reservation_id
        if here:
            return False, None  # R-5 (TC_053_*: another card of no matching group)
        others = list(self.reservations.values())
        if self._free_after(others, taking=connector_id) < len(zero):
            return False, None  # this would take the connector a connector-0 reservation needs
        return True, None

    def used(self, reservation_id: int) -> None:
        """R-6 (a): a transaction started with it."""
        if reservation_id in self.reservations:
            self._end(reservation_id, "used")

    async def _matches(self, reservation: ReservationRecord, id_tag: str, info: IdTagInfo) -> bool:
        if id_tag.lower() == reservation.id_tag.lower():
            return True
        if reservation.parent_id_tag is None:
            return False
        parent = info.parent_id_tag
        if parent is msgspec.UNSET:  # its group is learned from the list, the cache or Authorize.req
            parent = (await self._authorize(id_tag)).parent_id_tag
        return parent is not msgspec.UNSET and parent.lower() == reservation.parent_id_tag.lower()

    def snapshot(self, connector_id: int) -> dict[str, object] | None:
        """The control API's view of the reservation holding a connector (``/api/state``), else None;
        a connector-0 reservation shows on the connectors it holds."""
        connector = self._connectors[connector_id]
        if not connector.reserved:
            return None
        mine = [r for r in self.reservations.values() if r.connector_id == connector_id]
        mine = mine or [r for r in self.reservations.values() if r.connector_id == 0]
        if not mine:
            return None
        record = mine[0]
        return {"id": record.reservation_id, "idTag": record.id_tag, "expiryDate": record.expiry_date}

    # -- state ----------------------------------------------------------------------------------

    def _free_after(self, reservations: list[ReservationRecord], *, taking: int) -> int:
        """How many connectors stay free for connector-0 reservations if ``taking`` is taken."""
        held = {r.connector_id for r in reservations if r.connector_id > 0}
        return sum(
            1
            for c in self._connectors.connectors[1:]
            if c.id != taking and c.id not in held and self._connectors.free(c.id)
        )

    def _mark(self) -> None:
        """Which connectors report Reserved: each one reserved by id, and, when connector-0
        reservations need every free connector left, those too (R-4)."""
        held = {r.connector_id for r in self.reservations.values() if r.connector_id > 0}
        zero = sum(1 for r in self.reservations.values() if r.connector_id == 0)
        free = [c.id for c in self._connectors.connectors[1:] if c.id not in held and self._connectors.free(c.id)]
        hold_free = zero > 0 and len(free) <= zero
        for connector in self._connectors.connectors[1:]:
            reserved = connector.id in held or (hold_free and connector.id in free)
            if connector.reserved != reserved:
                connector.reserved = reserved
                self._connectors.refresh(connector.id)

    def _status_changed(self, connector: Connector) -> None:
        """R-6 (c): a reservation ends when its connector (or the station) goes Faulted or Unavailable;
        any change may free or take a connector that connector-0 reservations count on."""
        if connector.status in _ENDS:
            ending = [
                r.reservation_id
                for r in self.reservations.values()
                if r.connector_id == connector.id or (connector.id == 0 and r.connector_id == 0)
            ]
            for reservation_id in ending:
                self._end(reservation_id, f"connector {connector.id} {connector.status}")
        if any(r.connector_id == 0 for r in self.reservations.values()):
            self._mark()

    def _end(self, reservation_id: int, why: str) -> None:
        self._store.reservations.remove(reservation_id)
        self._cancel_timer(reservation_id)
        record = self.reservations.pop(reservation_id)
        self._log.info("= reservation %d on connector %d ended: %s", reservation_id, record.connector_id, why)
        self._mark()

    def _arm(self, record: ReservationRecord) -> None:
        """R-6 (b): at expiryDate the reservation ends and the connector is Available again (TC_047_CS). The
        expiry is a wall-clock time, read again at least every ``RECHECK`` seconds: a time sync moves it too."""
        expiry = datetime.fromisoformat(record.expiry_date)

        def expire() -> None:
            self._timers.pop(record.reservation_id, None)
            if self.reservations.get(record.reservation_id) != record:
                return
            if expiry <= self._clock.now():
                self._end(record.reservation_id, "expired")
            else:
                self._arm(record)

        delay = (expiry - self._clock.now()).total_seconds()
        self._timers[record.reservation_id] = self._clock.call_later(min(max(delay, 0.0), RECHECK), expire)

    def _cancel_timer(self, reservation_id: int) -> None:
        timer = self._timers.pop(reservation_id, None)
        if timer is not None:
            timer.cancel()

    def _load(self, *, arm: bool) -> None:
        """The reservations the store kept; one that expired meanwhile ends at once."""
        self.reservations = {r.reservation_id: r for r in self._store.reservations.all()}
        self._drop_expired()
        if arm:
            for record in self.reservations.values():
                self._arm(record)
        self._mark()

    def _drop_expired(self) -> None:
        """R-6 (b) at the moment it matters, whether or not a timer ran (after a reset, before resume)."""
        now = self._clock.now()
        for record in list(self.reservations.values()):
            if datetime.fromisoformat(record.expiry_date) <= now:
                self._end(record.reservation_id, "expired")

    async def resume(self) -> None:
        """After a reboot's accepted boot: the expiry timers again."""
        for record in self.reservations.values():
            if record.reservation_id not in self._timers:
                self._arm(record)

    def reset(self) -> None:
        """Timers are runtime state (a reset station arms them again in ``resume``, and ends an
        expired reservation whenever one is looked at); the reservations are reloaded from the store."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for connector in self._connectors.connectors:
            connector.reserved = False
        self._load(arm=False)


def _why_not(connectors: list[Connector]) -> ReservationStatus:
    """R-3 for connector 0, no connector being free: Faulted or Unavailable when every connector is."""
    statuses = {c.status for c in connectors}
    if statuses == {S.FAULTED}:
        return ReservationStatus.FAULTED
    if statuses == {S.UNAVAILABLE}:
        return ReservationStatus.UNAVAILABLE
    return ReservationStatus.OCCUPIED


def _build(kernel: Kernel, needs: Needs) -> ReservationService:
    authorization = needs(AuthorizationService)
    service = ReservationService(
        store=kernel.store,
        config=kernel.config,
        connectors=needs(ConnectorsService),
        authorize=authorization.authorize,
        validate=authorization.validate,
        clock=kernel.clock,
        log=kernel.log,
    )
    needs(TransactionService).start_permits.append(service)
    return service


FEATURE: Final = Feature(
    name="reservation",
    profile=Profile.RESERVATION,
    service=ReservationService,
    build=_build,
    actions=frozenset({Action.RESERVE_NOW, Action.CANCEL_RESERVATION}),
    keys=frozenset({"ReserveConnectorZeroSupported"}),
    tables=frozenset({"reservations"}),
    needs=(ConnectorsService, AuthorizationService, TransactionService),
    # R-3 (TC_048_4): a station that does not take reservations says so; CancelReservation stays NotSupported
    absent={Action.RESERVE_NOW: lambda _request: ReserveNowResponse(status=ReservationStatus.REJECTED)},
)
