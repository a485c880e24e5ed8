"""Smart Charging (checklist 7): SetChargingProfile, ClearChargingProfile, GetCompositeSchedule, the
TxProfile of a RemoteStartTransaction (C-20), and the limit governing the energy.

The profiles live in ``store.charging_profiles`` (SC-11) and, decoded, in memory; the arithmetic is
``schedule`` (pure). Whenever the composite may change — a profile set or cleared, a transaction
starting or ending, a period boundary (a timer on the injected clock) — every charging connector is
offered its limit through ``hal.EvPort.offered_current``; a limit of 0 A or below the minChargingRate
suspends it (SuspendedEVSE) until a later limit lifts it.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any, Final

import msgspec

from chargebox import hal
from chargebox.clock import Clock, TimerHandle
from chargebox.errors import RemoteProtocolError
from chargebox.log import Log
from chargebox.protocol.errors import CallErrorCode
from chargebox.protocol.messages import (
    Action,
    ChargingProfile,
    ChargingProfileKindType,
    ChargingProfileStatus,
    ChargingRateUnitType,
    ChargingSchedule,
    ChargingSchedulePeriod,
    ClearChargingProfileRequest,
    ClearChargingProfileResponse,
    ClearChargingProfileStatus,
    GetCompositeScheduleRequest,
    GetCompositeScheduleResponse,
    GetCompositeScheduleStatus,
    SetChargingProfileRequest,
    SetChargingProfileResponse,
)
from chargebox.rpc import Handler
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.config import Configuration
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.service import Service
from chargebox.station.v16 import schedule
from chargebox.station.v16.config_keys import Profile
from chargebox.station.v16.connectors import ConnectorsService
from chargebox.station.v16.schedule import Installed, Purpose, Situation
from chargebox.station.v16.storage import StorageService
from chargebox.station.v16.transactions import OFFERED_CURRENT, TransactionService
from chargebox.store import Store
from chargebox.store.charging_profiles import ProfileRow

VOLTS = 230.0  # per phase, unless the station is built with another (SC-12: 230 V or 110 V)
# A composite is computed for 31 days at most (the answer's duration says so): a Daily profile over
# a duration of years would cost seconds of the event loop for a schedule no central system plans with.
MAX_COMPOSITE_S = 31 * 86_400
LOOKAHEAD_S = 7 * 86_400.0  # the next period boundary is looked for this far ahead (then again)
UNIT_KEY = {ChargingRateUnitType.A: "Current", ChargingRateUnitType.W: "Power"}  # SC-3
_decoder = msgspec.json.Decoder(ChargingProfile)
_encoder = msgspec.json.Encoder()


class SmartChargingService(Service):
    def __init__(
        self,
        *,
        store: Store,
        config: Configuration,
        clock: Clock,
        connectors: ConnectorsService,
        transactions: TransactionService,
        ev: hal.EvPort,
        log: Log,
        volts: float = VOLTS,
        max_amps: float = OFFERED_CURRENT,
    ) -> None:
        """Governs the energy of ``transactions`` (a station without Smart Charging does not build one)."""
        self._store = store
        self._config = config
        self._clock = clock
        self._connectors = connectors
        self._transactions = transactions
        self._ev = ev
        self._log = log
        self.volts = volts
        self.max_amps = max_amps
        self._tx_start: dict[int, float] = {}
        self._suspended: set[int] = set()  # connectors this service suspended (SuspendedEVSE)
        self._timer: TimerHandle | None = None
        # SC-10, X-12: no transaction survives a restart, so neither does a TxProfile.
        rows = store.charging_profiles.all()
        store.charging_profiles.delete([r.profile_id for r in rows if r.purpose == Purpose.TX_PROFILE])
        self.installed: list[Installed] = [
            Installed(r.connector_id, _decoder.decode(r.profile)) for r in rows if r.purpose != Purpose.TX_PROFILE
        ]
        transactions.energy.append(self)

    def handlers(self) -> dict[Action, Handler]:
        return {
            Action.SET_CHARGING_PROFILE: self.on_set_charging_profile,
            Action.CLEAR_CHARGING_PROFILE: self.on_clear_charging_profile,
            Action.GET_COMPOSITE_SCHEDULE: self.on_get_composite_schedule,
        }

    # -- SetChargingProfile -----------------------------------------------------------------------

    def on_set_charging_profile(self, request: SetChargingProfileRequest) -> SetChargingProfileResponse:
        connector_id, profile = request.connector_id, request.cs_charging_profiles
        self._check_connector(connector_id)
        problem = self._problem(connector_id, profile)
        if problem is not None:
            self._log.info("= charging profile %d rejected: %s", profile.charging_profile_id, problem)
            return SetChargingProfileResponse(status=ChargingProfileStatus.REJECTED)
        self._install(connector_id, profile)
        return SetChargingProfileResponse(status=ChargingProfileStatus.ACCEPTED)

    def _check_connector(self, connector_id: int) -> None:
        if not 0 <= connector_id <= self._connectors.count:  # SC-4
            raise RemoteProtocolError(
                CallErrorCode.PROPERTY_CONSTRAINT_VIOLATION, f"connectorId {connector_id} does not exist"
            )

    def _problem(self, connector_id: int, profile: ChargingProfile) -> str | None:
        """Why the profile cannot be installed on the connector (SC-1..SC-3), or None."""
        purpose = profile.charging_profile_purpose
        if purpose is Purpose.CHARGE_POINT_MAX_PROFILE and connector_id != 0:
            return "SC-1: a ChargePointMaxProfile goes on connector 0"
        if purpose is Purpose.TX_PROFILE:
            if connector_id == 0:
                return "SC-1: a TxProfile goes on a connector"
            session = self._transactions.sessions.get(connector_id)
            if session is None:
                return "SC-2: no transaction runs on the connector"
            running = self._connectors[connector_id].transaction_id
            if profile.transaction_id is not msgspec.UNSET and profile.transaction_id != running:
                return f"SC-2: transaction {profile.transaction_id} is not the one running ({running})"
        elif profile.transaction_id is not msgspec.UNSET:
            return "7.1: a transactionId only in a TxProfile"
        problem = self._schedule_problem(profile)
        if problem is not None:
            return problem
        kept = [i for i in self.installed if not _replaced_by(i, connector_id, profile)]
        if len(kept) + 1 > self._config.get_int("MaxChargingProfilesInstalled", default=16):
            return "SC-3: MaxChargingProfilesInstalled reached"
        return None

    def _schedule_problem(self, profile: ChargingProfile) -> str | None:
        """SC-3: the station's capabilities and the schedule's own consistency."""
        schedule_ = profile.charging_schedule
        periods = schedule_.charging_schedule_period
        if profile.stack_level < 0 or profile.stack_level > self._config.get_int("ChargeProfileMaxStackLevel", 8):
            return "SC-3: stackLevel beyond ChargeProfileMaxStackLevel"
        allowed = self._config.get_list("ChargingScheduleAllowedChargingRateUnit") or list(UNIT_KEY.values())
        if UNIT_KEY[schedule_.charging_rate_unit] not in allowed:
            return f"SC-3: unit {schedule_.charging_rate_unit} not in ChargingScheduleAllowedChargingRateUnit"
        if not periods or len(periods) > self._config.get_int("ChargingScheduleMaxPeriods", 24):
            return "SC-3: no periods, or more than ChargingScheduleMaxPeriods"
        if periods[0].start_period != 0:
            return "SC-3: the first startPeriod is not 0"
        if any(b.start_period <= a.start_period for a, b in itertools.pairwise(periods)):
            return "SC-3: startPeriods do not increase"
        if any(p.limit < 0 or (isinstance(p.number_phases, int) and not 1 <= p.number_phases <= 3) for p in periods):
            return "SC-3: a negative limit, or numberPhases not 1 to 3"
        if isinstance(schedule_.duration, int) and schedule_.duration <= 0:
            return "SC-3: duration not positive"
        if isinstance(schedule_.min_charging_rate, float | int) and schedule_.min_charging_rate < 0:
            return "SC-3: negative minChargingRate"
        kind = profile.charging_profile_kind
        if (kind is ChargingProfileKindType.RECURRING) != (profile.recurrency_kind is not msgspec.UNSET):
            return "SC-3: recurrencyKind goes with Recurring, and only with it"
        if kind is not ChargingProfileKindType.RELATIVE and schedule_.start_schedule is msgspec.UNSET:
            return "SC-3: an Absolute or Recurring profile needs startSchedule"
        if kind is ChargingProfileKindType.RELATIVE and schedule_.start_schedule is not msgspec.UNSET:
            return "SC-8: a Relative profile has no startSchedule"
        valid_from, valid_to = schedule.epoch(profile.valid_from), schedule.epoch(profile.valid_to)
        if valid_from is not None and valid_to is not None and valid_to <= valid_from:
            return "validTo is not after validFrom"
        return None

    def _install(self, connector_id: int, profile: ChargingProfile) -> None:
        """SC-5: replaces by id, and by purpose + stackLevel on the same connector; then re-evaluates."""
        self._store.charging_profiles.install(
            ProfileRow(
                profile_id=profile.charging_profile_id,
                connector_id=connector_id,
                purpose=profile.charging_profile_purpose.value,
                stack_level=profile.stack_level,
                profile=_encoder.encode(profile),
            )
        )
        self.installed = [i for i in self.installed if not _replaced_by(i, connector_id, profile)]
        self.installed.append(Installed(connector_id, profile))
        self._log.info("= charging profile %d (%s, stack %d) installed on connector %d", profile.charging_profile_id,
                       profile.charging_profile_purpose, profile.stack_level, connector_id)  # fmt: skip
        self.apply()

    # -- ClearChargingProfile ---------------------------------------------------------------------

    def on_clear_charging_profile(self, request: ClearChargingProfileRequest) -> ClearChargingProfileResponse:
        """CC-1..CC-3: by id alone, else every profile matching all the fields given."""
        if request.id is not msgspec.UNSET:
            gone = [i for i in self.installed if i.profile.charging_profile_id == request.id]
        else:
            gone = [
                i
                for i in self.installed
                if (request.connector_id is msgspec.UNSET or i.connector_id == request.connector_id)
                and (request.charging_profile_purpose is msgspec.UNSET
                     or i.profile.charging_profile_purpose is request.charging_profile_purpose)
                and (request.stack_level is msgspec.UNSET or i.profile.stack_level == request.stack_level)
            ]  # fmt: skip
        if not gone:
            return ClearChargingProfileResponse(status=ClearChargingProfileStatus.UNKNOWN)
        self._remove(gone)
        return ClearChargingProfileResponse(status=ClearChargingProfileStatus.ACCEPTED)

    def _remove(self, gone: list[Installed]) -> None:
        ids = [i.profile.charging_profile_id for i in gone]
        self._store.charging_profiles.delete(ids)
        self.installed = [i for i in self.installed if i.profile.charging_profile_id not in ids]
        self._log.info("= charging profiles %s cleared", ids)
        self.apply()

    # -- GetCompositeSchedule ---------------------------------------------------------------------

    def on_get_composite_schedule(self, request: GetCompositeScheduleRequest) -> GetCompositeScheduleResponse:
        """CS-1..CS-5: from the moment the request was received for ``duration``, in the unit asked (A when none
        is). The start keeps its fraction of a second (errata 3.28/3.29): rounded down to the whole second, it would
        open with a period of "no limit" before a profile that became valid in that second (TC_056, TC_066)."""
        if not 0 <= request.connector_id <= self._connectors.count or request.duration < 0:
            return GetCompositeScheduleResponse(status=GetCompositeScheduleStatus.REJECTED)  # CS-4
        unit = ChargingRateUnitType.A if request.charging_rate_unit is msgspec.UNSET else request.charging_rate_unit
        now = self._clock.now()
        duration = min(request.duration, MAX_COMPOSITE_S)
        periods = schedule.composite(self.installed, self._situation(), request.connector_id, now.timestamp(),
                                     duration, unit)  # fmt: skip
        return GetCompositeScheduleResponse(
            status=GetCompositeScheduleStatus.ACCEPTED,
            connector_id=request.connector_id,
            schedule_start=now,
            charging_schedule=ChargingSchedule(
                duration=duration,
                charging_rate_unit=unit,
                charging_schedule_period=[
                    ChargingSchedulePeriod(start_period=p.start, limit=p.limit, number_phases=p.phases) for p in periods
                ],
            ),
        )

    # -- transactions (hooks in TransactionService) -----------------------------------------------

    def accepts_remote_profile(self, profile: ChargingProfile) -> bool:
        """C-20: a TxProfile without transactionId, within the station's capabilities."""
        return (
            profile.charging_profile_purpose is Purpose.TX_PROFILE
            and profile.transaction_id is msgspec.UNSET
            and self._schedule_problem(profile) is None
        )

    def started(self, connector_id: int, started: datetime, profile: ChargingProfile | None) -> None:
        self._tx_start[connector_id] = started.timestamp()
        if profile is not None:  # C-20, SC-10: the remote start's TxProfile, for this transaction
            self._install(connector_id, profile)
        else:
            self.apply()

    async def ended(self, connector_id: int) -> None:
        self._tx_start.pop(connector_id, None)
        self._suspended.discard(connector_id)
        gone = [i for i in self._tx_profiles() if i.connector_id == connector_id]
        if gone:
            self._remove(gone)  # SC-10
        else:
            self.apply()

    # -- the limit governs the energy -------------------------------------------------------------

    def _situation(self) -> Situation:
        return Situation(
            connectors=self._connectors.count, volts=self.volts, max_amps=self.max_amps, tx_start=dict(self._tx_start)
        )

    def apply(self) -> None:
        """Offer every charging connector its limit now, and come back at the next period boundary."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = self._clock.now().timestamp()
        situation = self._situation()
        for connector_id, (amps, min_amps) in schedule.offered_amps(self.installed, situation, now).items():
            connector = self._connectors[connector_id]
            if connector.evse_suspended and connector_id not in self._suspended:
                continue  # suspended for another reason: not this service's to lift
            suspend = amps <= 0 or (min_amps is not None and amps < min_amps)
            self._ev.offered_current(connector_id, 0.0 if suspend else schedule.round_down(amps))
            if suspend != (connector_id in self._suspended):
                if suspend:
                    self._suspended.add(connector_id)
                else:
                    self._suspended.discard(connector_id)
                connector.evse_suspended = suspend
                self._connectors.refresh(connector_id)
                self._log.info("= connector %d %s by its charging limit", connector_id,
                               "suspended" if suspend else "resumed")  # fmt: skip
        upcoming = schedule.edges(self.installed, situation, now, now + LOOKAHEAD_S)
        delay = (upcoming[0] - now) if upcoming else LOOKAHEAD_S
        if self.installed:
            self._timer = self._clock.call_later(max(delay, 0.001), self.apply)

    def limit_json(self, connector_id: int) -> dict[str, Any] | None:
        """The active limit of a connector (1..N) for the control API, or None when no profile applies to it
        now (none installed, none for this connector, none valid or started yet): the dashboard shows no limit,
        not the hardware's maximum."""
        situation, t = self._situation(), self._clock.now().timestamp()
        if not self.installed or not schedule.governed(self.installed, situation, connector_id, t):
            return None
        limit = schedule.limit_at(self.installed, situation, connector_id, t)
        return {"value": schedule.round_down(limit.amps), "unit": ChargingRateUnitType.A.value}

    def _tx_profiles(self) -> list[Installed]:
        return [i for i in self.installed if i.profile.charging_profile_purpose is Purpose.TX_PROFILE]

    def reset(self) -> None:
        """Runtime state only; the profiles stay installed (SC-11)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._tx_start.clear()
        self._suspended.clear()
        # SC-10: a reboot ends every transaction, and its TxProfiles with it.
        gone = [i.profile.charging_profile_id for i in self._tx_profiles()]
        if gone:
            self._store.charging_profiles.delete(gone)
            self.installed = [i for i in self.installed if i.profile.charging_profile_id not in gone]


def _replaced_by(installed: Installed, connector_id: int, profile: ChargingProfile) -> bool:
    """SC-5: the same id, or the same purpose and stackLevel on the same connector."""
    old = installed.profile
    return old.charging_profile_id == profile.charging_profile_id or (
        old.charging_profile_purpose is profile.charging_profile_purpose
        and old.stack_level == profile.stack_level
        and installed.connector_id == connector_id
    )


def _build(kernel: Kernel, needs: Needs) -> SmartChargingService:
    service = SmartChargingService(store=kernel.store, config=kernel.config, clock=kernel.clock,
                                   connectors=needs(ConnectorsService), transactions=needs(TransactionService),
                                   ev=needs(StorageService).ev, log=kernel.log)  # fmt: skip
    kernel.clock_sync.moved.append(service.apply)  # a schedule's periods are wall-clock times (SC-8)
    return service


FEATURE: Final = Feature(
    name="smart_charging",
    profile=Profile.SMART_CHARGING,
    service=SmartChargingService,
    build=_build,
    actions=frozenset({Action.SET_CHARGING_PROFILE, Action.CLEAR_CHARGING_PROFILE, Action.GET_COMPOSITE_SCHEDULE}),
    keys=frozenset({
        "ChargeProfileMaxStackLevel", "ChargingScheduleAllowedChargingRateUnit", "ChargingScheduleMaxPeriods",
        "ConnectorSwitch3to1PhaseSupported", "MaxChargingProfilesInstalled",
    }),
    tables=frozenset({"charging_profiles"}),
    needs=(ConnectorsService, StorageService, TransactionService),
)  # fmt: skip
