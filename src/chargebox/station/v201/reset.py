"""Reset of the station or of one EVSE, at once or when idle (B11, B12).

Reset answers at once: Accepted, or Scheduled for an OnIdle reset while a transaction runs where it applies
(B12.FR.01: the reset follows when it ends, B12.FR.03, B12.FR.07), or Rejected for an EVSE the station does not
have, or while something that cannot be interrupted vetoes it (B11.FR.06). Then, after the answer is out: an
Immediate reset first has every transaction where it applies ended (B12.FR.02, B12.FR.04, B12.FR.08); a reset of
the station delivers what it can within MessageTimeout and reboots, booting again with reason RemoteReset, or
ScheduledReset after waiting for idle (B11.FR.03, B11.FR.04); a reset of one EVSE (B11.FR.08; announced by
EVSE.AllowReset, B11.FR.10) restarts that EVSE only.

What runs on an EVSE is not this feature's to know: the features that run something take part through
``participants`` (``ResetParticipant``: are you busy there, end what runs there) and tell ``idle()`` when
something ends; a feature that must not be interrupted (a firmware installation) adds a veto to ``vetoes``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final, Protocol

import msgspec

from chargebox.clock import Clock
from chargebox.protocol.v201 import messages as m
from chargebox.rpc import Handler, Reply
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Service
from chargebox.station.v201.boot import BootService
from chargebox.station.v201.device_model import DeviceModel
from chargebox.station.v201.evses import EvsesService
from chargebox.station.v201.offer import Block
from chargebox.station.v201.variables import declare
from chargebox.tasks import Tasks

Kind = m.ResetEnumType
Status = m.ResetStatusEnumType
REBOOT_GRACE: Final = 0.5  # seconds between the last delivery before a reboot and going down

RESET_RETRIES: Final = declare(
    "OCPPCommCtrlr", "ResetRetries", default="2", min_limit=0,
    description="Attempts of a reset that fails; a reset of this station's software does not fail",
)  # fmt: skip
ALLOW_RESET: Final = declare(
    "EVSE", "AllowReset", default="true", description="Each EVSE resets on its own (B11.FR.10)"
)


class ResetParticipant(Protocol):
    """A feature that runs something on an EVSE (a transaction) and has a say in a reset."""

    def busy(self, evse_id: int | None) -> bool:
        """Does something run on that EVSE (None: anywhere on the station) that an OnIdle reset waits for?"""
        ...

    async def end(self, evse_id: int | None) -> None:
        """An Immediate reset: end what runs there now (a transaction: Ended with stoppedReason ImmediateReset,
        triggerReason ResetCommand, B12.FR.04, B12.FR.08) and journal what says so."""
        ...


# Why no reset may happen now (B11.FR.06), or None: the station or EVSE (None: the station) it would reset.
ResetVeto = Callable[[int | None], str | None]


class ResetService(Service[m.Action]):
    """Reset: the station or one EVSE, Immediate or OnIdle."""

    def __init__(
        self,
        *,
        boot: BootService,
        evses: EvsesService,
        lane: Lane,
        model: DeviceModel,
        message_timeout_key: str,
        clock: Clock,
        reboot: Callable[[], None],
        log: logging.LoggerAdapter[logging.Logger] | logging.Logger,
    ) -> None:
        self.participants: list[ResetParticipant] = []
        self.vetoes: list[ResetVeto] = []
        self.idle_listeners: list[Callable[[], None]] = []  # told what idle() is told (a firmware install waits)
        self._boot = boot
        self._evses = evses
        self._lane = lane
        self._model = model
        self._message_timeout = message_timeout_key
        self._clock = clock
        self._reboot = reboot
        self._log = log
        self._scheduled: set[int | None] = set()  # OnIdle resets waiting for idle: EVSE ids, None the station
        self._tasks = Tasks(log, "reset")

    def handlers(self) -> dict[m.Action, Handler]:
        return {m.Action.RESET: self.on_reset}

    def on_reset(self, request: m.ResetRequest) -> m.ResetResponse | Reply[m.ResetResponse]:
        evse = None if request.evse_id is msgspec.UNSET else request.evse_id
        if evse is not None and not self._evses.exists(evse):
            return _answer(Status.REJECTED, "UnknownEvse")
        veto = next((why for check in self.vetoes if (why := check(evse)) is not None), None)
        if veto is not None:
            self._log.info("= reset of %s rejected: %s", _what(evse), veto)
            return _answer(Status.REJECTED, "OngoingOperation", veto)  # B11.FR.06
        if request.type is Kind.ON_IDLE and self.busy(evse):
            self._log.info("= reset of %s scheduled: it waits until nothing runs there", _what(evse))
            self._scheduled.add(evse)
            return _answer(Status.SCHEDULED)  # B12.FR.01

        async def reset() -> None:
            await self._reset(request.type, evse, scheduled=False)

        return Reply(_answer(Status.ACCEPTED), then=reset)  # B11.FR.01, B12.FR.02

    def idle(self) -> None:
        """A participant's work ended somewhere: a scheduled reset whose scope is idle now goes (B12.FR.03)."""
        for listener in self.idle_listeners:
            listener()
        for evse in sorted(self._scheduled, key=lambda e: -1 if e is None else e):
            if not self.busy(evse):
                self._scheduled.discard(evse)
                self._tasks.spawn(self._reset(Kind.ON_IDLE, evse, scheduled=True))
                if evse is None:
                    return  # the station reboots: nothing else to reset

    def reset(self) -> None:
        """A reboot forgets the resets it was waiting for: it is one."""
        self._scheduled.clear()
        self._tasks.cancel()

    # -- internals ----------------------------------------------------------------------------

    def busy(self, evse: int | None) -> bool:
        """Does a participant run something there (None: anywhere on the station)?"""
        return any(participant.busy(evse) for participant in self.participants)

    async def _reset(self, kind: Kind, evse: int | None, *, scheduled: bool) -> None:
        self._log.info("= %s reset of %s", kind, _what(evse))
        if kind is Kind.IMMEDIATE:
            for participant in self.participants:
                await participant.end(evse)  # B12.FR.04, B12.FR.08: journaled before the reset
        if evse is not None:
            self._evses.restart(evse)  # B11.FR.08
            return
        # B11.FR.03, B11.FR.04, B01.FR.03: boot again, saying why
        self._boot.reason = m.BootReasonEnumType.SCHEDULED_RESET if scheduled else m.BootReasonEnumType.REMOTE_RESET
        # B12.FR.05: what was journaled goes before the reboot when the link allows, else after it
        await self._lane.flush(self._model.get_int(self._message_timeout, 30))
        # A real controller takes a moment to go down; dropping the link the instant the answer is written can
        # leave a central system that reads its socket lazily without it.
        await self._clock.sleep(REBOOT_GRACE)
        self._reboot()


def _answer(status: Status, reason: str | None = None, info: str | None = None) -> m.ResetResponse:
    status_info: m.StatusInfoType | msgspec.UnsetType = msgspec.UNSET
    if reason is not None:
        status_info = m.StatusInfoType(reason_code=reason, additional_info=info or msgspec.UNSET)
    return m.ResetResponse(status=status, status_info=status_info)


def _what(evse: int | None) -> str:
    return "the station" if evse is None else f"EVSE {evse}"


def _build(kernel: Kernel[DeviceModel], needs: Needs) -> ResetService:
    return ResetService(
        boot=needs(BootService), evses=needs(EvsesService), lane=kernel.lane, model=kernel.config,
        message_timeout_key=kernel.version.keys.message_timeout, clock=kernel.clock, reboot=kernel.host.reboot,
        log=kernel.log,
    )  # fmt: skip


FEATURE: Final = Feature(
    name="reset",
    profile=Block.PROVISIONING,
    service=ResetService,
    build=_build,
    actions=frozenset({m.Action.RESET}),
    variables=(RESET_RETRIES, ALLOW_RESET),
    needs=(BootService, EvsesService),
)
