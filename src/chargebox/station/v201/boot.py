"""Provisioning: BootNotification, Heartbeat and the time (B01 to B03, G02; Part 4 5.3).

Sends BootNotification with the reason the station (re)booted (B01.FR.09: PowerUp at the first start of the
software, RemoteReset or ScheduledReset after a Reset, FirmwareUpdate after an installed firmware, LocalReset,
Triggered by a TriggerMessage, ...), and Heartbeat after HeartbeatInterval seconds without another CALL.
Until the boot is Accepted nothing else goes out (B01.FR.08): while Pending only what the central system asked
for (B02.FR.02: a TriggerMessage's message, a GetBaseReport's or GetReport's NotifyReport, each through
``permit``) and the next BootNotification not before the interval (B02.FR.04, B02.FR.08); while Rejected
nothing at all until the interval has passed (B03.FR.02), and every CALL of the central system is answered
SecurityError (B03.FR.08). Accepted sets HeartbeatInterval (B01.FR.04) and the clock, when TimeSource names
Heartbeat (B01.FR.06), then the station sends its statuses (B01.FR.05). A reconnect after an accepted boot
sends no BootNotification (Part 4 5.3: nothing it would say has changed).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

import msgspec

from chargebox.clock import Clock, sleep_or_wake
from chargebox.protocol.errors import CallErrorCode
from chargebox.protocol.v201 import datetimes
from chargebox.protocol.v201 import messages as m
from chargebox.rpc import Rpc, SendResult
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.heartbeat import keep_alive
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Permit, Service, Trigger, Triggers
from chargebox.station.kernel.settings import Identity
from chargebox.station.v201.device_model import DeviceModel
from chargebox.station.v201.offer import Block
from chargebox.station.v201.variables import declare
from chargebox.tasks import Tasks

# B02.FR.07, B03.FR.05: the wait the station chooses when the central system answers interval 0.
DEFAULT_BOOT_RETRY: Final = 60.0
UNANSWERED_BOOT_RETRY: Final = 30.0  # a BootNotification that got no answer at all is sent again after this long
MAX_INTERVAL: Final = 2**31 - 1  # 2.0.1 integers are 32-bit (Part 2 2.1.4)

HEARTBEAT_INTERVAL: Final = declare(
    "OCPPCommCtrlr", "HeartbeatInterval", default="86400",
    description="Seconds without another CALL before a Heartbeat; set by an accepted BootNotification (B01.FR.04)",
)  # fmt: skip
DATE_TIME: Final = declare("ClockCtrlr", "DateTime", description="The station's clock, read when asked for")
TIME_SOURCE: Final = declare(
    "ClockCtrlr", "TimeSource", default="Heartbeat", values=("Heartbeat",),
    description="Where the clock is set from: the central system's currentTime (BootNotification, Heartbeat)",
)  # fmt: skip


class BootService(Service[m.Action]):
    """Registers with the central system and keeps the link alive with Heartbeats."""

    def __init__(
        self,
        *,
        rpc: Rpc[m.Action],
        lane: Lane,
        config: DeviceModel,
        clock: Clock,
        identity: Identity,
        set_time: Callable[[datetime, str], bool],
        on_accepted: Callable[[bool], Awaitable[None]],
        log: logging.LoggerAdapter[logging.Logger] | logging.Logger,
    ) -> None:
        """``set_time(currentTime, message)`` sets the clock if it believes the time (``ClockSync``);
        ``on_accepted(first)`` runs after an accepted boot (first=True) or a reconnect after one (False)."""
        self.identity = identity
        self.registration: m.RegistrationStatusEnumType | None = None
        # B01.FR.09: why the next BootNotification is sent; whoever reboots the station says why, and a reset()
        # keeps it (the reboot resets every service before the boot that reports it)
        self.reason = m.BootReasonEnumType.POWER_UP
        self._rpc = rpc
        self._lane = lane
        self._config = config
        self._clock = clock
        self._set_time = set_time
        self._on_accepted = on_accepted
        self._log = log
        self._accepted_once = False
        self._tasks = Tasks(log, "boot")
        self._boot_task: asyncio.Future[Any] | None = None
        self._heartbeat_task: asyncio.Future[Any] | None = None
        self._interval_changed = asyncio.Event()
        self._wake = asyncio.Event()  # a TriggerMessage(BootNotification) ends the wait (B02.FR.04)
        self._permitted: dict[m.Action, int] = {}
        rpc.may_send = self.may_send
        config.subscribe(HEARTBEAT_INTERVAL.key, lambda _value: self._interval_changed.set())
        config.provide(DATE_TIME.key, lambda: datetimes.text(clock.now()))

    @property
    def accepted(self) -> bool:
        """The central system accepted this boot: everything may be sent (B02.FR.05: Pending refuses a start)."""
        return self.registration is m.RegistrationStatusEnumType.ACCEPTED

    def may_send(self, action: m.Action) -> bool:
        """B01.FR.08, B02.FR.02, B03.FR.02: only BootNotification until Accepted, and while Pending what the
        central system asked for."""
        if self.accepted or action is m.Action.BOOT_NOTIFICATION:
            return True
        if self.registration is m.RegistrationStatusEnumType.PENDING and self._permitted.get(action, 0) > 0:
            self._permitted[action] -= 1
            return True
        return False

    def permit(self, action: m.Action) -> None:
        """B02.FR.02: one CALL of that action, which the central system asked for, may go while Pending."""
        self._permitted[action] = self._permitted.get(action, 0) + 1

    def triggers(self, permit: Permit) -> Triggers:
        async def boot(_evse: int | None) -> None:
            self.reason = m.BootReasonEnumType.TRIGGERED
            self._wake.set()  # F06.FR.17, B02.FR.04: at once, not after the interval

        async def heartbeat(_evse: int | None) -> None:
            self.permit(m.Action.HEARTBEAT)
            await self.send_heartbeat()

        return {
            # F06.FR.17: honoured while not accepted; an accepted station has nothing to boot again for
            m.MessageTriggerEnumType.BOOT_NOTIFICATION: Trigger(boot, accepts=lambda _evse: not self._accepted_once),
            m.MessageTriggerEnumType.HEARTBEAT: Trigger(heartbeat),
        }

    def connected(self) -> None:
        if self._accepted_once:  # Part 4 5.3: a reconnect, not a reboot
            self._heartbeat_task = self._tasks.supervise(self._heartbeat, self._clock, "heartbeat")
            self._boot_task = self._tasks.spawn(self._on_accepted(False))
        else:
            self._boot_task = self._tasks.spawn(self._boot())

    def disconnected(self) -> None:
        for task in (self._boot_task, self._heartbeat_task):
            if task is not None:
                task.cancel()
        self._boot_task = self._heartbeat_task = None
        if not self._accepted_once:
            self.registration = None
            self._rpc.refusal = None
            self._permitted.clear()

    def reset(self) -> None:
        """Back to a freshly started station: the next connection boots again (B01.FR.03), with ``reason``."""
        self.disconnected()
        self._accepted_once = False
        self.registration = None
        self._rpc.refusal = None
        self._permitted.clear()

    async def send_boot_notification(self) -> SendResult[m.BootNotificationResponse]:
        return await self._rpc.call(boot_notification(self.identity, self.reason))

    async def send_heartbeat(self) -> SendResult[m.HeartbeatResponse]:
        result: SendResult[m.HeartbeatResponse] = await self._lane.call(m.HeartbeatRequest())
        if result.response is not None:
            self._sync(result.response.current_time, "HeartbeatResponse")  # G02, B01.FR.06
        return result

    # -- internals ----------------------------------------------------------------------------

    async def _boot(self) -> None:
        while True:
            self._wake.clear()
            result = await self.send_boot_notification()
            response = result.response
            if response is None:
                self._log.warning("! BootNotification not answered (%s); retrying", result.outcome.value)
                await sleep_or_wake(self._clock, UNANSWERED_BOOT_RETRY, self._wake)
                continue
            self.registration = response.status
            self._sync(response.current_time, "BootNotificationResponse")  # B01.FR.06
            usable = 0 <= response.interval <= MAX_INTERVAL
            if not usable:
                self._log.warning("! BootNotificationResponse interval %d ignored: not 0 to %d",
                                  response.interval, MAX_INTERVAL)  # fmt: skip
            wait = float(response.interval) if usable and response.interval > 0 else DEFAULT_BOOT_RETRY
            if response.status is m.RegistrationStatusEnumType.ACCEPTED:
                if usable and response.interval > 0:
                    self._config.set_internal(HEARTBEAT_INTERVAL.key, str(response.interval))  # B01.FR.04
                self._log.info("= boot accepted (%s), heartbeat every %ss", self.reason,
                               self._config.get_int(HEARTBEAT_INTERVAL.key))  # fmt: skip
                self._accepted_once = True
                self._permitted.clear()
                self.reason = m.BootReasonEnumType.POWER_UP  # B01.FR.09: told once; a later start says its own
                self._heartbeat_task = self._tasks.supervise(self._heartbeat, self._clock, "heartbeat")
                await self._on_accepted(True)
                return
            if response.status is m.RegistrationStatusEnumType.REJECTED:
                self._log.warning("= boot rejected; silent for %ss", wait)
                self._rpc.refusal = CallErrorCode.SECURITY_ERROR  # B03.FR.08
                await self._clock.sleep(wait)  # B03.FR.02, B03.FR.06: nothing until the interval has passed
                self._rpc.refusal = None
            else:
                self._log.info("= boot pending; booting again in %ss", wait)
                await sleep_or_wake(self._clock, wait, self._wake)  # B02.FR.01: answers calls meanwhile

    def _sync(self, current_time: datetime, source: str) -> None:
        if "Heartbeat" in self._config.get_list(TIME_SOURCE.key):  # B01.FR.06
            self._set_time(current_time, source)

    async def _heartbeat(self) -> None:
        """G02: a Heartbeat after HeartbeatInterval seconds without another CALL."""
        interval = HEARTBEAT_INTERVAL.key
        await keep_alive(clock=self._clock, rpc=self._rpc, interval=lambda: self._config.get_int(interval),
                         changed=self._interval_changed, send=lambda: self.send_heartbeat())  # fmt: skip


def boot_notification(identity: Identity, reason: m.BootReasonEnumType) -> m.BootNotificationRequest:
    """The BootNotification of what the station says it is, and why it booted (B01.FR.01, B01.FR.09)."""
    return m.BootNotificationRequest(
        charging_station=m.ChargingStationType(
            vendor_name=identity.vendor,
            model=identity.model,
            serial_number=identity.serial_number or msgspec.UNSET,
            firmware_version=identity.firmware_version or msgspec.UNSET,
            modem=m.ModemType(iccid=identity.iccid or msgspec.UNSET, imsi=identity.imsi or msgspec.UNSET)
            if identity.iccid or identity.imsi
            else msgspec.UNSET,
        ),
        reason=reason,
    )


def _build(kernel: Kernel[DeviceModel], _needs: Needs) -> BootService:
    identity = kernel.settings.identity
    return BootService(
        rpc=kernel.rpc,
        lane=kernel.lane,
        config=kernel.config,
        identity=replace(  # B01.FR.01: the version the firmware really runs
            identity, firmware_version=kernel.ports.installer.running_version() or identity.firmware_version
        ),
        set_time=kernel.clock_sync.set_time,  # within the time window
        on_accepted=kernel.host.accepted,
        clock=kernel.clock,
        log=kernel.log,
    )


FEATURE: Final = Feature(
    name="boot",
    profile=Block.PROVISIONING,
    service=BootService,
    build=_build,
    variables=(HEARTBEAT_INTERVAL, DATE_TIME, TIME_SOURCE),
)
