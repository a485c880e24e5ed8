"""EVSEs and connectors: their components in the device model and their status (B01.FR.05, B04, G01).

A 2.0.1 station is EVSEs, each with its connectors (``--connectors N``: N EVSEs of one connector each). This
feature reports them as the device model's ``EVSE`` and ``Connector`` components (AvailabilityState, Available,
SupplyPhases, Power, ConnectorType) and the ``ChargingStation`` above them, and sends a connector's status as a
StatusNotification: every connector's once a boot is accepted (B01.FR.05); after the station was offline, every
connector's if that lasted longer than OfflineThreshold (B04.FR.01), else those whose status changed meanwhile
(B04.FR.02); at once when a status changes online (G01).

A connector's status is Available unless something says otherwise: its cable (Occupied, from the hardware's
``plugged``), a cable at another connector of its EVSE (Unavailable: E01.FR.14, one connector of an EVSE is used
at a time), or a participant in ``sources`` (an extension point: availability says Unavailable, a fault
Faulted, a reservation Reserved). When several speak, the one that matters most wins (Faulted, Unavailable,
Occupied, Reserved, Available). A participant calls ``refresh`` when what it says changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from chargebox.clock import Clock
from chargebox.protocol.v201 import datetimes
from chargebox.protocol.v201 import messages as m
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Permit, Service, Trigger, Triggers
from chargebox.station.v201.device_model import DeviceModel
from chargebox.station.v201.offer import Block
from chargebox.station.v201.variables import declare

Status = m.ConnectorStatusEnumType
# What a connector reports when several things speak of it: the first of these that any of them says (G01).
PRECEDENCE: Final = (Status.FAULTED, Status.UNAVAILABLE, Status.OCCUPIED, Status.RESERVED, Status.AVAILABLE)
# What a component above connectors (an EVSE, the station) reports: the most usable of its connectors' statuses.
USABILITY: Final = (Status.AVAILABLE, Status.RESERVED, Status.OCCUPIED, Status.UNAVAILABLE, Status.FAULTED)
# A participant's word on one connector of one EVSE, or None when it has none.
StatusSource = Callable[[int, int], Status | None]

OFFLINE_THRESHOLD: Final = declare(
    "OCPPCommCtrlr", "OfflineThreshold", default="60", min_limit=0,
    description="After an outage longer than this, every connector's status is sent again (B04.FR.01)",
)  # fmt: skip
STATION_VARIABLES: Final = (
    declare("ChargingStation", "Available", default="true"),  # the component exists
    declare("ChargingStation", "AvailabilityState", description="The most usable status of its connectors"),
    declare("ChargingStation", "SupplyPhases", default="3"),
    declare("EVSE", "Available", default="true"),
    declare("EVSE", "AvailabilityState", description="The most usable status of its connectors"),
    declare("EVSE", "SupplyPhases", default="3"),
    # errata 6.2.19: maxLimit, the most power the EVSE delivers, is what is required: 3 x 230 V x 32 A
    declare("EVSE", "Power", max_limit=22080.0),
    declare("Connector", "Available", default="true"),
    declare("Connector", "AvailabilityState", description="The status StatusNotification reports"),
    declare("Connector", "SupplyPhases", default="3"),
    declare("Connector", "ConnectorType", default="sType2"),  # a socket; a fixed cable seeds cType2
)


class EvsesService(Service[m.Action]):
    """The EVSEs, their connectors and what their status is."""

    def __init__(
        self,
        *,
        lane: Lane,
        clock: Clock,
        config: DeviceModel,
        evses: tuple[int, ...],
        log: logging.LoggerAdapter[logging.Logger] | logging.Logger,
    ) -> None:
        self.evses = evses  # the connectors of each EVSE, EVSE 1 first
        self.sources: list[StatusSource] = []
        self._lane = lane
        self._clock = clock
        self._config = config
        self._log = log
        self._plugged: set[tuple[int, int]] = set()
        self._reported: dict[tuple[int, int], Status] = {}  # what the central system was last told
        self._online = False
        self._offline_since: float | None = None
        config.provide("ChargingStation.AvailabilityState", lambda: self.station_status().value)
        for evse, connectors in self.connectors_by_evse():
            config.provide(f"EVSE@{evse}.AvailabilityState", self._reader(evse))
            for connector in connectors:
                config.provide(f"Connector@{evse}:{connector}.AvailabilityState", self._reader(evse, connector))

    def connectors_by_evse(self) -> list[tuple[int, range]]:
        """(evse id, its connector ids) for every EVSE."""
        return [(evse, range(1, count + 1)) for evse, count in enumerate(self.evses, start=1)]

    def exists(self, evse: int, connector: int | None = None) -> bool:
        """Has the station this EVSE (and connector)?"""
        if not 1 <= evse <= len(self.evses):
            return False
        return connector is None or 1 <= connector <= self.evses[evse - 1]

    # -- status ------------------------------------------------------------------------------

    def status(self, evse: int, connector: int) -> Status:
        said = {source(evse, connector) for source in self.sources}
        if (evse, connector) in self._plugged:
            said.add(Status.OCCUPIED)
        elif any(e == evse for e, _c in self._plugged):
            said.add(Status.UNAVAILABLE)  # E01.FR.14: its sibling is in use
        return next((status for status in PRECEDENCE if status in said), Status.AVAILABLE)

    def evse_status(self, evse: int) -> Status:
        statuses = {self.status(evse, connector) for connector in range(1, self.evses[evse - 1] + 1)}
        return next(status for status in USABILITY if status in statuses)

    def station_status(self) -> Status:
        statuses = {self.evse_status(evse) for evse in range(1, len(self.evses) + 1)}
        return next(status for status in USABILITY if status in statuses)

    def plugged(self, evse: int, connector: int = 1) -> None:
        """A cable is in (the hardware's pilot says so): the connector is Occupied."""
        self._plugged.add((evse, connector))
        self.refresh(evse)  # and its siblings (E01.FR.14)

    def unplugged(self, evse: int, connector: int = 1) -> None:
        self._plugged.discard((evse, connector))
        self.refresh(evse)

    def refresh(self, evse: int | None = None, connector: int | None = None) -> None:
        """What a participant says changed: send the status of each connector (of ``evse``, or that one) that
        differs from what the central system was told, when it can be told now (G01)."""
        for e, connectors in self.connectors_by_evse():
            for c in connectors:
                if (evse is None or e == evse) and (connector is None or c == connector):
                    self._report(e, c, fresh=False)

    def restart(self, evse: int) -> None:
        """A reset of one EVSE (B11.FR.08): it starts again as it stands, and says so with its connectors'
        statuses."""
        self._log.info("= EVSE %d restarted", evse)
        for connector in range(1, self.evses[evse - 1] + 1):
            self._report(evse, connector, fresh=True)

    # -- the link ------------------------------------------------------------------------------

    def offline(self) -> None:
        """The link is gone: statuses change unsent until it comes back (B04)."""
        if self._online:
            self._offline_since = self._clock.monotonic()
        self._online = False

    async def online(self, *, after_boot: bool) -> None:
        """An accepted boot sends every connector's status (B01.FR.05); a reconnect after one, every connector's
        after an outage longer than OfflineThreshold (B04.FR.01), else those that changed meanwhile (B04.FR.02)."""
        since, self._offline_since = self._offline_since, None
        threshold = self._config.get_int(OFFLINE_THRESHOLD.key)
        every = after_boot or since is None or self._clock.monotonic() - since > threshold
        self._online = True
        for evse, connectors in self.connectors_by_evse():
            for connector in connectors:
                self._report(evse, connector, fresh=every)

    def triggers(self, permit: Permit) -> Triggers:
        async def status_notification(evse: int | None) -> None:
            for e, connectors in self.connectors_by_evse():
                if evse is None or e == evse:
                    for connector in connectors:
                        permit(m.Action.STATUS_NOTIFICATION)  # B02.FR.02: also while Pending
                        self._send(e, connector)

        return {m.MessageTriggerEnumType.STATUS_NOTIFICATION: Trigger(status_notification, per_connector=True)}

    def reset(self) -> None:
        """Runtime state only: a rebooted station reports every status after its boot (B01.FR.05)."""
        self._online = False
        self._offline_since = None
        self._reported.clear()

    def _reader(self, evse: int, connector: int | None = None) -> Callable[[], str]:
        """An AvailabilityState read when asked for: the connector's status, or its EVSE's."""
        if connector is None:
            return lambda: self.evse_status(evse).value
        return lambda: self.status(evse, connector).value

    def _report(self, evse: int, connector: int, *, fresh: bool) -> None:
        status = self.status(evse, connector)
        if not fresh and self._reported.get((evse, connector)) is status:
            return
        if self._online:  # else told when the link is back: all of them, or those that differ (B04)
            self._send(evse, connector)

    def _send(self, evse: int, connector: int) -> None:
        status = self._reported[evse, connector] = self.status(evse, connector)
        self._log.info("= EVSE %d connector %d: %s", evse, connector, status)
        self._lane.submit(
            m.StatusNotificationRequest(
                timestamp=datetimes.wire(self._clock.now()),
                connector_status=status,
                evse_id=evse,
                connector_id=connector,
            )
        )


def _build(kernel: Kernel[DeviceModel], _needs: Needs) -> EvsesService:
    service = EvsesService(lane=kernel.lane, clock=kernel.clock, config=kernel.config, evses=kernel.config.evses,
                           log=kernel.log)  # fmt: skip
    for evse in range(1, len(service.evses) + 1):  # the cable may be in already (a restart with an EV connected)
        if kernel.ports.ev.plugged(evse):
            service.plugged(evse)
    return service


FEATURE: Final = Feature(
    name="evses",
    profile=Block.PROVISIONING,
    service=EvsesService,
    build=_build,
    variables=(OFFLINE_THRESHOLD, *STATION_VARIABLES),
)
