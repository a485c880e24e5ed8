"""Transactions: start, stop, and everything that may end one (checklist 5.2, C-13..C-22).

Answers: RemoteStartTransaction, RemoteStopTransaction. Sends (journaled in the outbound lane):
StartTransaction, StopTransaction. A transaction is journaled with its StartTransaction in one commit
before energy flows; it is closed with its StopTransaction in one commit. A contactor that will not
close ends the transaction at once (reason Other); one that will not open still closes the
transaction; both leave the connector Faulted (PowerSwitchFailure). Start paths: cable first then card
(X-1), card first then cable within ConnectionTimeOut (X-2), remote start (C-13, C-14, C-19). Stop
paths: the same card or one of its group (X-6, M-1), remote stop (C-21), EV-side disconnect (X-9,
X-10), an idTag the central system calls invalid (X-5), and reset, unlock and power loss (their
services call ``stop``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

import msgspec

from chargebox import hal
from chargebox.clock import Clock, TimerHandle
from chargebox.errors import HardwareError
from chargebox.log import Log
from chargebox.protocol.messages import (
    Action,
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    ChargingProfile,
    IdTagInfo,
    Reason,
    RegistrationStatus,
    RemoteStartStopStatus,
    RemoteStartTransactionRequest,
    RemoteStartTransactionResponse,
    RemoteStopTransactionRequest,
    RemoteStopTransactionResponse,
    StartTransactionRequest,
    StartTransactionResponse,
    StopTransactionRequest,
    StopTransactionResponse,
)
from chargebox.rpc import Handler, Reply
from chargebox.station.feature import Feature, Needs
from chargebox.station.front import Outcome as Outcome  # where the sim and the control API have found it
from chargebox.station.kernel.config import Configuration
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import UNDELIVERABLE, Lane, encode
from chargebox.station.kernel.service import Service
from chargebox.station.v16.authorization import AuthorizationService, is_id_token
from chargebox.station.v16.boot import BootService
from chargebox.station.v16.config_keys import Profile
from chargebox.station.v16.connectors import Connector, ConnectorsService
from chargebox.station.v16.metering import MeteringService
from chargebox.station.v16.storage import StorageService
from chargebox.store import Op, OutboxItem, Store
from chargebox.tasks import Tasks

S = ChargePointStatus
OFFERED_CURRENT: Final = 32.0  # amps per phase offered to the EV (smart charging will limit it)


class StartPermit(Protocol):
    """Takes part in a transaction's start (the Reservation feature, R-5, R-6): may an accepted card
    start on the connector, and with which reservationId; then told the start used it."""

    async def permit(self, connector_id: int, id_tag: str, info: IdTagInfo) -> tuple[bool, int | None]:
        """(True, id): the start uses reservation ``id``; (True, None): nothing of it concerns the
        start; (False, None): the connector is held for another card."""
        ...

    def used(self, reservation_id: int) -> None:
        """R-6 (a): a transaction started with the reservation."""
        ...


class Energy(Protocol):
    """Governs the energy a transaction is offered (the Smart Charging feature, SC-10, C-20). Without
    one, the EV is offered OFFERED_CURRENT and a remote start's chargingProfile is ignored."""

    def started(self, connector_id: int, started: datetime, profile: ChargingProfile | None) -> None:
        """A transaction started (with the TxProfile its remote start carried): offer the current."""
        ...

    async def ended(self, connector_id: int) -> None:
        """A transaction ended (its TxProfiles go with it, SC-10)."""
        ...

    def accepts_remote_profile(self, profile: ChargingProfile) -> bool:
        """C-20: may a RemoteStartTransaction carry this chargingProfile?"""
        ...


@dataclass(slots=True)
class Session:
    """A running transaction, as the station acts on it."""

    ref: int
    connector_id: int
    id_tag: str
    parent_id_tag: str | None


class TransactionService(Service):
    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        config: Configuration,
        connectors: ConnectorsService,
        authorization: AuthorizationService,
        lane: Lane,
        metering: MeteringService,
        meter: hal.EnergyMeter,
        contactor: hal.Contactor,
        lock: hal.ConnectorLock | None,
        ev: hal.EvPort,
        registration: Callable[[], RegistrationStatus | None],
        log: Log,
    ) -> None:
        """``lock`` is None for a fixed cable (nothing to lock or unlock, C-35)."""
        self._store = store
        self._clock = clock
        self._config = config
        self._connectors = connectors
        self._auth = authorization
        self._lane = lane
        self._metering = metering
        self._meter = meter
        self._contactor = contactor
        self._lock = lock
        self._ev = ev
        self._registration = registration
        self._log = log
        self.sessions: dict[int, Session] = {}  # by connector
        # card first, waiting for the cable: the card, its IdTagInfo, the reservation it uses
        self._authorized: dict[int, tuple[str, IdTagInfo, int | None]] = {}
        self.start_permits: list[StartPermit] = []  # each must allow a start; none: every card may
        self._timers: dict[int, TimerHandle] = {}
        self._tasks = Tasks(log, "transaction task")
        self._locked_for: dict[int, Session] = {}  # cable kept locked until its owner returns
        lane.on_answer[Action.START_TRANSACTION] = self._on_start_answer
        lane.on_answer[Action.STOP_TRANSACTION] = self._on_stop_answer
        lane.on_dropped[Action.START_TRANSACTION] = self._on_start_dropped
        self.energy: list[Energy] = []  # what governs the current offered (SC-10, C-20)
        self._remote_profiles: dict[int, ChargingProfile] = {}
        connectors.observers.append(self._status_changed)  # X-3 from whenever a cable alone makes it Preparing

    def handlers(self) -> dict[Action, Handler]:
        return {
            Action.REMOTE_START_TRANSACTION: self.on_remote_start_transaction,
            Action.REMOTE_STOP_TRANSACTION: self.on_remote_stop_transaction,
        }

    @property
    def has_lock(self) -> bool:
        return self._lock is not None

    # -- hardware events ------------------------------------------------------------------------

    async def plugged(self, connector_id: int) -> Outcome:
        connector = self._connectors[connector_id]
        session = self.sessions.get(connector_id)
        self._connectors.plugged(connector_id)
        if session is not None:  # the EV is back, energy resumes
            self._connectors.refresh(connector_id)
            return Outcome("resumed", connector_id)
        waiting = self._authorized.pop(connector_id, None)
        if waiting is not None:
            self._cancel_timer(connector_id)
            return await self._started(connector_id, await self._start(connector_id, *waiting))
        if connector.status is S.PREPARING:  # X-3's wait began as it became Preparing (_status_changed)
            return Outcome("waiting", connector_id, "a card or a RemoteStartTransaction")
        if connector.status is S.RESERVED:  # G2: the cable waits for the reserved card
            return Outcome("waiting", connector_id, "the reserved card")
        return Outcome("refused", connector_id, f"connector is {connector.status}")

    async def unplugged(self, connector_id: int) -> None:
        """The EV side is disconnected (the cable leaves the EV)."""
        session = self.sessions.get(connector_id)
        self._cancel_timer(connector_id)
        if session is None:
            self._locked_for.pop(connector_id, None)
            self._connectors.unplugged(connector_id)
            return
        connector = self._connectors[connector_id]
        if self._config.get_bool("StopTransactionOnEVSideDisconnect"):
            connector.info = "EV side disconnected"
            unlock = self._config.get_bool("UnlockConnectorOnEVSideDisconnect")
            await self.stop(connector_id, Reason.EV_DISCONNECTED, unlock=unlock)
            connector.info = None
            if unlock:
                self._connectors.unplugged(connector_id)
            else:
                self._locked_for[connector_id] = session
                connector.plugged = False
            return
        connector.ev_disconnected = True  # SuspendedEV, the transaction goes on, stays locked
        connector.info = "EV side disconnected"
        self._connectors.refresh(connector_id)
        connector.info = None

    async def id_tag_presented(self, id_tag: str, connector_id: int | None) -> Outcome:
        """A card at a reader: stop the transaction it may end, or start one (X-1, X-2, X-6).

        A card the reader read wrong (not an IdToken: over 20 characters, not printable ASCII, G-1)
        is an unknown card: never authorized, never journaled."""
        if not is_id_token(id_tag):
            self._log.warning("! unknown card %r: not an OCPP IdToken (G-1)", id_tag[:40])
            return Outcome("refused", connector_id, "not an OCPP IdToken")
        owners = [(s.connector_id, s, True) for s in self.sessions.values()]
        owners += [(cid, owner, False) for cid, owner in self._locked_for.items()]
        owners = [o for o in owners if connector_id in (None, o[0])]
        info: IdTagInfo | None = None
        for cid, owner, running in owners:
            if id_tag.lower() != owner.id_tag.lower():
                if owner.parent_id_tag is None:
                    continue
                if info is None:  # another card of the same group, known only by asking (list, cache, CSMS)
                    info = await self._auth.authorize(id_tag)
                if not _same_group(info, owner):
                    continue
            if running:
                await self.stop(cid, Reason.LOCAL, id_tag=id_tag)
                return Outcome("stopped", cid, Reason.LOCAL.value)
            await self._unlock(cid)  # the owner takes the cable back
            self._locked_for.pop(cid, None)
            self._connectors.unplugged(cid)
            return Outcome("released", cid, "the cable is unlocked for its owner")
        target = self._target_connector(connector_id)
        if target is None:
            self._log.info("= card %s: no connector can use it", id_tag)
            return Outcome("refused", connector_id, "no connector can use it")
        return await self._begin_if_accepted(target, id_tag, info or await self._auth.authorize(id_tag))

    def _target_connector(self, connector_id: int | None) -> int | None:
        """With one reader for several connectors: the cable waiting for a card, else a free one."""
        candidates = [
            c for c in self._connectors.connectors[1:] if c.id not in self.sessions and c.id not in self._locked_for
        ]
        if connector_id is not None:
            candidates = [c for c in candidates if c.id == connector_id]
        usable = [c for c in candidates if c.status in _STARTABLE]
        plugged = [c for c in usable if c.plugged]
        chosen = plugged or usable
        return chosen[0].id if chosen else None

    async def _begin_if_accepted(self, connector_id: int, id_tag: str, info: IdTagInfo) -> Outcome:
        connector = self._connectors[connector_id]
        if info.status is not AuthorizationStatus.ACCEPTED:
            self._log.info("= card %s refused: %s", id_tag, info.status)
            if connector.awaiting_plug:
                connector.awaiting_plug = False
                self._connectors.refresh(connector_id)
            return Outcome("refused", connector_id, f"idTag {info.status.value}")
        allowed, reservation_id = await self._permitted(connector_id, id_tag, info)
        if not allowed:  # the connector is held for another card
            self._log.info("= card %s refused: connector %d is reserved", id_tag, connector_id)
            if connector.awaiting_plug:
                connector.awaiting_plug = False
                self._connectors.refresh(connector_id)
            return Outcome("refused", connector_id, "the connector is reserved for another card")
        if connector.plugged:
            return await self._started(connector_id, await self._start(connector_id, id_tag, info, reservation_id))
        self._connectors.identified(connector_id)  # S-3: Preparing once the card is accepted, not before
        self._authorized[connector_id] = (id_tag, info, reservation_id)  # wait for the cable
        self._arm_connection_timeout(connector_id, finishing=False)
        return Outcome("waiting", connector_id, "the cable")

    async def _permitted(self, connector_id: int, id_tag: str, info: IdTagInfo) -> tuple[bool, int | None]:
        """Whether every start permit allows the card on the connector, and the reservation it uses."""
        reservation_id = None
        for permit in self.start_permits:
            allowed, given = await permit.permit(connector_id, id_tag, info)
            if not allowed:
                return False, None
            reservation_id = given if given is not None else reservation_id
        return True, reservation_id

    async def _started(self, connector_id: int, session: Session | None) -> Outcome:
        if session is not None:
            return Outcome("started", connector_id)
        connector = self._connectors[connector_id]
        return Outcome("refused", connector_id, f"connector is {connector.status}")

    def _status_changed(self, connector: Connector) -> None:
        """X-3: a cable in and no card waits ConnectionTimeOut from the moment the connector became Preparing:
        when the cable went in, or when a reservation that held the connector with the cable in ended (G2)."""
        cid = connector.id
        if (
            connector.status is S.PREPARING
            and connector.plugged
            and cid not in self.sessions
            and cid not in self._authorized
            and cid not in self._timers
        ):
            self._arm_connection_timeout(cid, finishing=True)

    def _arm_connection_timeout(self, connector_id: int, *, finishing: bool) -> None:
        """X-2: no cable in time → Available; X-3: no card in time → Finishing."""
        self._cancel_timer(connector_id)
        timeout = self._config.get_int("ConnectionTimeOut", default=30)

        def expire() -> None:
            self._timers.pop(connector_id, None)
            self._remote_profiles.pop(connector_id, None)
            connector = self._connectors[connector_id]
            if connector_id in self.sessions:
                return
            if finishing and connector.plugged and connector.status is S.PREPARING:
                connector.finishing = True
            self._authorized.pop(connector_id, None)
            connector.awaiting_plug = False
            self._connectors.refresh(connector_id)

        self._timers[connector_id] = self._clock.call_later(timeout, expire)

    def _cancel_timer(self, connector_id: int) -> None:
        timer = self._timers.pop(connector_id, None)
        if timer is not None:
            timer.cancel()

    # -- starting -------------------------------------------------------------------------------

    async def _start(
        self, connector_id: int, id_tag: str, info: IdTagInfo, reservation_id: int | None = None
    ) -> Session | None:
        connector = self._connectors[connector_id]
        if connector.faulted or connector_id in self.sessions:
            return None  # no transaction on a faulted connector
        if connector.status not in _STARTABLE:
            # It changed while the card was checked (C-4, F-6: Unavailable for maintenance): no start.
            self._log.info("= connector %d is %s: not starting for %s", connector_id, connector.status, id_tag)
            return None
        if connector.finishing:  # F2: a new card on a cable still in: Preparing, then Charging (B3)
            connector.finishing = False
            self._connectors.refresh(connector_id)
        if reservation_id is not None:  # R-6 (a), G2: the reserved card is here: Reserved -> Preparing, then Charging
            for permit in self.start_permits:
                permit.used(reservation_id)
        self._cancel_timer(connector_id)  # X-2, X-3: the wait is over (the steps above may have begun X-3's)
        if self._lock is not None and not await self._lock.lock(connector_id):
            self._log.warning("! connector %d: cable lock failed; not starting", connector_id)
            self._connectors.fault(connector_id, ChargePointErrorCode.CONNECTOR_LOCK_FAILURE)
            return None
        parent = None if info.parent_id_tag is msgspec.UNSET else info.parent_id_tag
        meter_start = self._meter.energy_wh(connector_id)
        started = self._clock.now()
        payload = encode(  # validated before it is journaled: what is journaled can be sent
            StartTransactionRequest(
                connector_id=connector_id,
                id_tag=id_tag,
                meter_start=meter_start,
                timestamp=started,
                **({} if reservation_id is None else {"reservation_id": reservation_id}),
            )
        )
        ref = await self._lane.journal(  # journal first, in its place in the lane
            lambda queued: self._store.transactions.begin(
                connector_id=connector_id,
                id_tag=id_tag,
                parent_id_tag=parent,
                reservation_id=reservation_id,
                meter_start=meter_start,
                started_at=started.isoformat(),
                start_request=lambda _ref: (Action.START_TRANSACTION.value, payload),
                queued=queued,
            )
        )
        session = Session(ref, connector_id, id_tag, parent)
        self.sessions[connector_id] = session
        connector.transaction_ref = ref
        connector.finishing = connector.awaiting_plug = False
        self._authorized.pop(connector_id, None)
        self._log.info("= transaction started on connector %d for %s (meter %d Wh)", connector_id, id_tag, meter_start)
        try:
            await self._contactor.close(connector_id)
        except HardwareError as exc:
            self._log.error("! connector %d: the contactor did not close (%s); ending transaction %d", connector_id,
                            exc, ref)  # fmt: skip
            await self.stop(connector_id, Reason.OTHER, fault="contactor did not close")
            return None
        profile = self._remote_profiles.pop(connector_id, None)
        if not self.energy:
            self._ev.offered_current(connector_id, OFFERED_CURRENT)
        for governor in self.energy:
            governor.started(connector_id, started, profile)
        self._connectors.refresh(connector_id)
        await self._metering.transaction_started(connector_id, ref, started)
        return session

    # -- stopping -------------------------------------------------------------------------------

    async def stop(
        self,
        connector_id: int,
        reason: Reason,
        *,
        id_tag: str | None = None,
        unlock: bool = True,
        fault: str | None = None,
    ) -> bool:
        """End the transaction on the connector, journaling its StopTransaction; False if none runs.

        ``fault`` (the StatusNotification info) leaves the connector Faulted with PowerSwitchFailure."""
        session = self.sessions.pop(connector_id, None)
        if session is None:
            return False
        connector = self._connectors[connector_id]
        try:
            await self._contactor.open(connector_id)
        except HardwareError as exc:  # energy may still flow: the transaction ends all the same
            self._log.error("! connector %d: the contactor did not open (%s)", connector_id, exc)
            fault = fault or "contactor did not open"
        self._ev.offered_current(connector_id, 0)
        for governor in self.energy:
            await governor.ended(connector_id)  # SC-10: its TxProfiles go with it
        meter_stop = self._meter.energy_wh(connector_id)
        stopped = self._clock.now()
        transaction_data = await self._metering.transaction_stopping(connector_id, session.ref, stopped)
        request = StopTransactionRequest(
            meter_stop=meter_stop,
            timestamp=stopped,
            transaction_id=0,  # filled in when sent
            id_tag=msgspec.UNSET if id_tag is None else id_tag,  # when known
            reason=reason,  # X-8 (Local may be omitted; we always say it)
            transaction_data=transaction_data if transaction_data else msgspec.UNSET,
        )
        await self._finish(session.ref, request, reason)
        self._log.info("= transaction %s stopped (%s), meter %d Wh", _csms_id(connector.transaction_id), reason,
                       meter_stop)  # fmt: skip
        connector.transaction_ref = connector.transaction_id = None
        connector.ev_suspended = connector.evse_suspended = connector.ev_disconnected = False
        connector.finishing = connector.plugged  # the user must still take the cable
        if unlock:
            await self._unlock(connector_id)
        if fault is not None:
            self._connectors.fault(connector_id, ChargePointErrorCode.POWER_SWITCH_FAILURE, fault)
        else:
            self._connectors.refresh(connector_id)
        return True

    def _finish(self, ref: int, request: StopTransactionRequest, reason: Reason) -> Awaitable[None]:
        """Close the transaction and journal its StopTransaction, in one commit, in its place in the lane
        (taken now; the awaitable ends once it is durable)."""
        payload = encode(request)
        return self._lane.journal(
            lambda queued: self._store.transactions.finish(
                ref,
                meter_stop=request.meter_stop,
                stopped_at=request.timestamp.isoformat(),
                reason=reason.value,
                stop_request=(Action.STOP_TRANSACTION.value, payload),
                queued=queued,
            )
        )

    async def stop_all(self, reason: Reason) -> None:
        for connector_id in list(self.sessions):
            await self.stop(connector_id, reason)

    async def _unlock(self, connector_id: int) -> bool:
        return True if self._lock is None else await self._lock.unlock(connector_id)

    async def unlock(self, connector_id: int) -> bool:
        """UnlockConnector's hardware step (C-33)."""
        self._locked_for.pop(connector_id, None)
        return await self._unlock(connector_id)

    # -- answers from the central system --------------------------------------------------------

    def _on_start_answer(self, item: OutboxItem, request: StartTransactionRequest,
                         response: StartTransactionResponse) -> Op:  # fmt: skip
        """Applied the moment the answer arrives, before the next frame is handled: a
        RemoteStopTransaction for this id, or a card of the same group, in the very next frame
        finds the transaction (C-21, X-6). Only the durable record of the id follows."""
        ref = item.tx_ref
        assert ref is not None
        self._lane.remember_transaction_id(ref, response.transaction_id)
        info = response.id_tag_info
        self._auth.learn(request.id_tag, info)  # M-2
        session = self.sessions.get(request.connector_id)
        self._log.info("= transaction %d on connector %d: the central system's transactionId",
                       response.transaction_id, request.connector_id)  # fmt: skip
        if session is not None and session.ref == ref:
            self._connectors[session.connector_id].transaction_id = response.transaction_id
            if info.parent_id_tag is not msgspec.UNSET:
                session.parent_id_tag = info.parent_id_tag
            if info.status is not AuthorizationStatus.ACCEPTED:
                self._tasks.spawn(self._deauthorized(session))
        return self._store.transactions.set_transaction_id(ref, response.transaction_id)

    async def _deauthorized(self, session: Session) -> None:
        """X-5: the central system does not accept the idTag of a running transaction."""
        await self._store.transactions.mark_deauthorized(session.ref)
        if self._config.get_bool("StopTransactionOnInvalidId"):
            self._log.info("= transaction %s deauthorized: stopping", self._csms_id_of(session))
            if await self.stop(session.connector_id, Reason.DE_AUTHORIZED, unlock=False):
                self._locked_for[session.connector_id] = session
        else:
            self._log.info("= transaction %s deauthorized: energy stopped, transaction goes on",
                           self._csms_id_of(session))  # fmt: skip
            self._ev.offered_current(session.connector_id, 0)
            try:
                await self._contactor.open(session.connector_id)
            except HardwareError as exc:  # it cannot be made safe: end it, Faulted
                self._log.error("! connector %d: the contactor did not open (%s)", session.connector_id, exc)
                await self.stop(session.connector_id, Reason.DE_AUTHORIZED, unlock=False,
                                fault="contactor did not open")  # fmt: skip
                return
            self._connectors[session.connector_id].evse_suspended = True
            self._connectors.refresh(session.connector_id)

    def _on_stop_answer(self, _item: OutboxItem, request: StopTransactionRequest,
                        response: StopTransactionResponse) -> None:  # fmt: skip
        if response.id_tag_info is not msgspec.UNSET and request.id_tag is not msgspec.UNSET:
            self._auth.learn(request.id_tag, response.id_tag_info)  # M-2

    async def _on_start_dropped(self, item: OutboxItem) -> None:
        """X-4: a StartTransaction that could never be delivered: its messages use -1."""
        if item.tx_ref is not None:
            self._lane.remember_transaction_id(item.tx_ref, UNDELIVERABLE)
            await self._store.write(self._store.transactions.set_transaction_id(item.tx_ref, UNDELIVERABLE))

    # -- remote start / stop --------------------------------------------------------------------

    def on_remote_start_transaction(
        self, request: RemoteStartTransactionRequest
    ) -> RemoteStartTransactionResponse | Reply[RemoteStartTransactionResponse]:
        rejected = RemoteStartTransactionResponse(status=RemoteStartStopStatus.REJECTED)
        if self._registration() is not RegistrationStatus.ACCEPTED:
            return rejected  # B-5: not while Pending
        if request.connector_id is msgspec.UNSET:
            connector_id = self._target_connector(None)  # C-17: we choose
        elif not 1 <= request.connector_id <= self._connectors.count:
            return rejected  # C-15
        else:
            connector_id = request.connector_id
        if connector_id is None or connector_id in self.sessions or connector_id in self._locked_for:
            return rejected  # C-16
        if self._connectors[connector_id].status not in _STARTABLE:
            return rejected  # C-16: unavailable, faulted (a reservation decides once authorized, R-7)
        id_tag = request.id_tag
        target = connector_id
        profile = None if request.charging_profile is msgspec.UNSET else request.charging_profile
        if profile is not None and not all(governor.accepts_remote_profile(profile) for governor in self.energy):
            return rejected  # C-20 (TC_060_CS): not a TxProfile, or beyond the station's capabilities

        async def go() -> None:
            if self._config.get_bool("AuthorizeRemoteTxRequests"):
                info = await self._auth.authorize(id_tag)  # C-13
            else:
                info = IdTagInfo(status=AuthorizationStatus.ACCEPTED)  # C-14
            if profile is not None and self.energy:
                self._remote_profiles[target] = profile  # C-20: installed when the transaction starts
            await self._begin_if_accepted(target, id_tag, info)  # C-18, C-19
            if target not in self._authorized:  # started (and taken), or refused: nothing waits for it
                self._remote_profiles.pop(target, None)

        # C-20: without Smart Charging the chargingProfile is ignored.
        return Reply(RemoteStartTransactionResponse(status=RemoteStartStopStatus.ACCEPTED), then=go)

    def on_remote_stop_transaction(
        self, request: RemoteStopTransactionRequest
    ) -> RemoteStopTransactionResponse | Reply[RemoteStopTransactionResponse]:
        matching = [s.connector_id for s in self.sessions.values()
                    if self._connectors[s.connector_id].transaction_id == request.transaction_id]  # fmt: skip
        if not matching:
            return RemoteStopTransactionResponse(status=RemoteStartStopStatus.REJECTED)  # C-22
        connector_id = matching[0]

        async def stop() -> None:
            await self.stop(connector_id, Reason.REMOTE)  # C-21

        return Reply(RemoteStopTransactionResponse(status=RemoteStartStopStatus.ACCEPTED), then=stop)

    # -- power loss and reboots -----------------------------------------------------------------

    async def recover(self, reason: Reason = Reason.POWER_LOSS, *, placed: asyncio.Event | None = None) -> None:
        """X-12: a transaction still open after a restart was cut by it: by a power loss (at start), or
        by a software reboot (``Reason.REBOOT``, X-8). The station never resumes a session across a
        restart, so it is ended; the StopTransaction goes out after the boot is accepted. ``placed`` is set
        once every StopTransaction has its place in the lane, ahead of anything later (Q-2): the station
        may connect then, while a full disk keeps them from being journaled (and it must report that)."""
        journaled: list[Awaitable[None]] = []
        for record in self._store.transactions.open_transactions():
            # The register as last persisted, or the meter's own if it kept counting (a real meter's
            # register survives the cut); the time is the last moment the station knew it was charging.
            meter_stop = max(record.meter_last, self._meter.energy_wh(record.connector_id))
            stopped = datetime.fromisoformat(record.meter_last_at)
            self._log.warning("! transaction %s was cut (%s); stopping it at %d Wh, %s",
                              _csms_id(record.transaction_id), reason, meter_stop, record.meter_last_at)  # fmt: skip
            try:
                await self._contactor.open(record.connector_id)  # no energy for a session that is over
            except HardwareError as exc:
                self._log.error("! connector %d: the contactor did not open (%s)", record.connector_id, exc)
            transaction_data = self._metering.stored_samples(record.ref)
            request = StopTransactionRequest(
                meter_stop=meter_stop,
                timestamp=stopped,
                transaction_id=0,
                reason=reason,
                transaction_data=transaction_data if transaction_data else msgspec.UNSET,
            )
            journaled.append(self._finish(record.ref, request, reason))
        if placed is not None:
            placed.set()
        await asyncio.gather(*journaled)

    def _csms_id_of(self, session: Session) -> str:
        return _csms_id(self._connectors[session.connector_id].transaction_id)

    def reset(self) -> None:
        """Runtime state only: sessions are forgotten (a reboot stops them first, or ``recover`` does)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._tasks.cancel()
        self._authorized.clear()
        self._locked_for.clear()
        self._remote_profiles.clear()
        self.sessions.clear()


# Where a start may begin: a Reserved connector too, for its card (the reservation hook decides, R-5).
_STARTABLE: Final = frozenset({S.AVAILABLE, S.PREPARING, S.FINISHING, S.RESERVED})


def _same_group(info: IdTagInfo, owner: Session) -> bool:
    """X-6, M-1: an accepted card whose parentIdTag is the transaction's (compared case-insensitively)."""
    return (
        info.status is AuthorizationStatus.ACCEPTED
        and info.parent_id_tag is not msgspec.UNSET
        and owner.parent_id_tag is not None
        and info.parent_id_tag.lower() == owner.parent_id_tag.lower()
    )


def _csms_id(transaction_id: int | None) -> str:
    """Logs name the central system's transactionId (the one its operator can look up), or say it is
    not yet known (the StartTransaction is still unanswered)."""
    return str(transaction_id) if transaction_id is not None else "(transactionId not yet known)"


def _build(kernel: Kernel, needs: Needs) -> TransactionService:
    boot, ports = needs(BootService), kernel.ports
    return TransactionService(
        store=kernel.store,
        clock=kernel.clock,
        config=kernel.config,
        connectors=needs(ConnectorsService),
        authorization=needs(AuthorizationService),
        lane=kernel.lane,
        metering=needs(MeteringService),
        meter=kernel.meter,
        contactor=ports.contactor,
        lock=None if kernel.settings.fixed_cable else ports.lock,
        ev=needs(StorageService).ev,  # gated: no energy while the store refuses writes
        registration=lambda: boot.registration,
        log=kernel.log,
    )


FEATURE: Final = Feature(
    name="transactions",
    profile=Profile.CORE,
    service=TransactionService,
    build=_build,
    actions=frozenset({Action.REMOTE_START_TRANSACTION, Action.REMOTE_STOP_TRANSACTION}),
    keys=frozenset({
        "AuthorizeRemoteTxRequests", "ConnectionTimeOut", "MaxEnergyOnInvalidId", "StopTransactionOnEVSideDisconnect",
        "StopTransactionOnInvalidId", "UnlockConnectorOnEVSideDisconnect",
    }),
    needs=(BootService, ConnectorsService, StorageService, AuthorizationService, MeteringService),
)  # fmt: skip
