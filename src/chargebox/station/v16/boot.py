"""Registration and liveness: BootNotification and Heartbeat (checklist section 2).

Sends: BootNotification (B-1..B-6), Heartbeat (B-7). While the central system has not accepted
the boot, nothing else is sent (B-2, B-5) and, after Rejected, nothing is answered either (B-6).
A reconnect after an accepted boot sends no new BootNotification (T-34).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

from chargebox.clock import Clock, Event, sleep_or_wake
from chargebox.log import Log
from chargebox.protocol.messages import (
    Action,
    BootNotificationRequest,
    BootNotificationResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    MessageTrigger,
    RegistrationStatus,
)
from chargebox.rpc import Rpc, SendResult
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.config import Configuration
from chargebox.station.kernel.heartbeat import keep_alive
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Permit, Service, Trigger, Triggers
from chargebox.station.kernel.settings import Identity
from chargebox.station.v16.config_keys import Profile
from chargebox.tasks import Tasks

# B-5, B-6: when the central system answers interval 0, wait this long before booting again.
DEFAULT_BOOT_RETRY = 60.0
# A BootNotification that got no answer at all is retried after this long.
UNANSWERED_BOOT_RETRY = 30.0
# OCPP 1.6 integers are 32-bit ([S] §2.1): an interval beyond that, or below 0, is a central
# system's bug, not a heartbeat interval to store.
MAX_INTERVAL = 2**31 - 1


class BootService(Service):
    """Registers with the central system and keeps the link alive with Heartbeats."""

    def __init__(
        self,
        *,
        rpc: Rpc,
        lane: Lane,
        config: Configuration,
        clock: Clock,
        identity: Identity,
        set_time: Callable[[datetime, str], bool],
        on_accepted: Callable[[bool], Awaitable[None]],
        log: Log,
    ) -> None:
        """``set_time(currentTime, message)`` sets the clock if it believes the time (``ClockSync``);
        ``on_accepted(first)`` runs after an accepted boot (first=True) or a reconnect (False)."""
        self.identity = identity
        self.registration: RegistrationStatus | None = None
        self._rpc = rpc
        self._lane = lane
        self._config = config
        self._clock = clock
        self._set_time = set_time
        self._on_accepted = on_accepted
        self._log = log
        self._accepted_once = False
        self._tasks = Tasks(log, "boot")  # failures logged with their traceback; the heartbeat restarts
        self._boot_task: asyncio.Future[Any] | None = None
        self._heartbeat_task: asyncio.Future[Any] | None = None
        self._interval_changed = Event()
        self._triggered: set[Action] = set()
        self._triggered_answer: BootNotificationResponse | None = None
        self._answered = Event()
        rpc.may_send = self.may_send
        config.subscribe("HeartbeatInterval", lambda _value: self._interval_changed.set())

    def may_send(self, action: Action) -> bool:
        """B-2, B-5, B-6: only BootNotification until the boot is accepted, and what a
        TriggerMessage asked for while Pending (B-5)."""
        if self.registration is RegistrationStatus.ACCEPTED or action is Action.BOOT_NOTIFICATION:
            return True
        if self.registration is RegistrationStatus.PENDING and action in self._triggered:
            self._triggered.discard(action)
            return True
        return False

    def permit_triggered(self, action: Action) -> None:
        """B-5: a TriggerMessage answered Accepted lets one such CALL through while Pending."""
        self._triggered.add(action)

    def triggers(self, permit: Permit) -> Triggers:
        async def boot(_connector_id: int | None) -> None:
            result = await self.send_boot_notification()
            if result.response is not None and not self._accepted_once:
                self._triggered_answer = result.response  # B-9: its answer counts as the boot loop's would
                self._answered.set()

        async def heartbeat(_connector_id: int | None) -> None:
            self.permit_triggered(Action.HEARTBEAT)
            await self.send_heartbeat()

        return {
            # B-9: honoured while Pending, Rejected once the boot was accepted (until the next reboot)
            MessageTrigger.BOOT_NOTIFICATION: Trigger(boot, accepts=lambda _c: not self._accepted_once),
            MessageTrigger.HEARTBEAT: Trigger(heartbeat),
        }

    def connected(self) -> None:
        if self._accepted_once:  # T-34: a reconnect, not a reboot
            self._heartbeat_task = self._tasks.supervise(self._heartbeat, self._clock, "heartbeat")
            self._boot_task = self._tasks.spawn(self._on_accepted(False))
        else:
            self._boot_task = self._tasks.spawn(self._boot())

    def disconnected(self) -> None:
        for task in (self._boot_task, self._heartbeat_task):
            if task is not None:
                task.cancel()
        self._boot_task = self._heartbeat_task = None
        self._triggered_answer = None
        self._answered.clear()
        if not self._accepted_once:
            self.registration = None
            self._rpc.answering = True

    def reset(self) -> None:
        """Back to a freshly powered-on station: the next connection boots again (B-1)."""
        self.disconnected()
        self._accepted_once = False
        self.registration = None
        self._rpc.answering = True

    async def send_boot_notification(self) -> SendResult[BootNotificationResponse]:
        return await self._rpc.call(boot_notification(self.identity))

    async def send_heartbeat(self) -> SendResult[HeartbeatResponse]:
        result: SendResult[HeartbeatResponse] = await self._lane.call(HeartbeatRequest())
        if result.response is not None:
            self._set_time(result.response.current_time, "Heartbeat.conf")  # B-7: sync the clock
        return result

    # -- internals ----------------------------------------------------------------------------

    async def _boot(self) -> None:
        response: BootNotificationResponse | None = None
        while True:
            if response is None:
                result = await self.send_boot_notification()
                self._triggered_answer = None  # this answer is newer than a triggered one
                self._answered.clear()
                response = result.response
                if response is None:
                    self._log.warning("! BootNotification not answered (%s); retrying", result.outcome.value)
                    response = await self._wait_or_triggered(UNANSWERED_BOOT_RETRY)
                    continue
            self.registration = response.status
            self._set_time(response.current_time, "BootNotification.conf")  # B-4
            usable = 0 <= response.interval <= MAX_INTERVAL
            if not usable:
                self._log.warning(
                    "! BootNotification.conf interval %d ignored: not 0 to %d", response.interval, MAX_INTERVAL
                )
            wait = float(response.interval) if usable and response.interval > 0 else DEFAULT_BOOT_RETRY
            if response.status is RegistrationStatus.ACCEPTED:
                if usable:
                    self._config.set_internal("HeartbeatInterval", str(response.interval))  # B-4
                self._log.info("= boot accepted, heartbeat every %ss", self._config.get_int("HeartbeatInterval"))
                self._accepted_once = True
                self._heartbeat_task = self._tasks.supervise(self._heartbeat, self._clock, "heartbeat")
                await self._on_accepted(True)
                return
            if response.status is RegistrationStatus.REJECTED:
                self._log.warning("= boot rejected; silent for %ss", wait)
                self._rpc.answering = False  # B-6: answer nothing until the interval has passed
                await self._clock.sleep(wait)
                self._rpc.answering = True
                response = None
            else:
                self._log.info("= boot pending; booting again in %ss", wait)
                response = await self._wait_or_triggered(wait)  # B-5: answer calls meanwhile, send none

    async def _wait_or_triggered(self, delay: float) -> BootNotificationResponse | None:
        """B-9: a BootNotification a TriggerMessage sent while Pending is answered like the loop's own; an
        Accepted one ends Pending at once instead of at the next interval."""
        await sleep_or_wake(self._clock, delay, self._answered)
        answer, self._triggered_answer = self._triggered_answer, None
        self._answered.clear()
        return answer

    async def _heartbeat(self) -> None:
        """B-7: a Heartbeat after HeartbeatInterval seconds without another CALL."""
        await keep_alive(clock=self._clock, rpc=self._rpc, interval=lambda: self._config.get_int("HeartbeatInterval"),
                         changed=self._interval_changed, send=lambda: self.send_heartbeat())  # fmt: skip


def boot_notification(identity: Identity) -> BootNotificationRequest:
    """The BootNotification of what the charge point says it is (B-1)."""
    return BootNotificationRequest(
        charge_point_vendor=identity.vendor,
        charge_point_model=identity.model,
        **{
            name: value
            for name, value in (
                ("charge_point_serial_number", identity.serial_number),
                ("charge_box_serial_number", identity.serial_number),  # B-1: deprecated, still read by some
                ("firmware_version", identity.firmware_version),
                ("iccid", identity.iccid),
                ("imsi", identity.imsi),
                ("meter_type", identity.meter_type),
                ("meter_serial_number", identity.meter_serial_number),
            )
            if value is not None
        },
    )


def reboot_with_firmware(kernel: Kernel, boot: BootService) -> Callable[[str], None]:
    """A reboot into a firmware just installed: the next BootNotification names its version (F-7)."""
    return lambda version: kernel.host.reboot(identity=replace(boot.identity, firmware_version=version))


def _build(kernel: Kernel, _needs: Needs) -> BootService:
    identity = kernel.settings.identity
    return BootService(
        rpc=kernel.rpc,
        lane=kernel.lane,
        config=kernel.config,
        identity=replace(  # B-1, F-7: the version the firmware really runs
            identity, firmware_version=kernel.ports.installer.running_version() or identity.firmware_version
        ),
        set_time=kernel.clock_sync.set_time,  # B-4, B-7, within the time window; B-10
        on_accepted=kernel.host.accepted,
        clock=kernel.clock,
        log=kernel.log,
    )


FEATURE: Final = Feature(
    name="boot",
    profile=Profile.CORE,
    service=BootService,
    build=_build,
    keys=frozenset({"HeartbeatInterval"}),
)
