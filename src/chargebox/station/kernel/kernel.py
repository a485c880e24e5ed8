"""The kernel: what every feature of a station uses, built once, before any feature.

A station's settings, ports, clock and log; its store and configuration; the Rpc, the outbound lane
and the link with its transport; the file transfers and their workspace; the guarded meter; the door
for security events; the registry of what TriggerMessage may ask for. Nothing here knows a feature:
a feature reaches the kernel through the ``Kernel`` its build is given, and the station (``Host``)
through it. Which OCPP version the station speaks is the ``Version`` it is started with; its configuration is
the version's (1.6: ``Configuration``; 2.0.1: the device model), which the kernel reads only as ``KernelConfig``:
a bare ``Kernel`` in a type hint is a 1.6 station's, a 2.0.1 feature's build takes a ``Kernel[DeviceModel]``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Generic, Protocol

from chargebox.clock import Clock
from chargebox.errors import ConfigError
from chargebox.log import Log
from chargebox.rpc import Rpc
from chargebox.station.kernel.clock_sync import ClockSync
from chargebox.station.kernel.config import Configuration, KernelConfig
from chargebox.station.kernel.events import SecurityEvents
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.link import LinkService
from chargebox.station.kernel.meter import GuardedMeter
from chargebox.station.kernel.service import Triggers
from chargebox.station.kernel.settings import Identity, Ports, StationSettings
from chargebox.station.kernel.version import Version
from chargebox.store import Store
from chargebox.transfer import Transfer, Workspace
from chargebox.transport import Transport

if TYPE_CHECKING:
    from typing_extensions import TypeVar

    # PEP 696: a bare Kernel is a 1.6 station's, whose features read the whole Configuration.
    C = TypeVar("C", bound=KernelConfig, default=Configuration)
else:
    from typing import TypeVar

    C = TypeVar("C", bound=KernelConfig)

# The store tables the kernel owns: the configuration of either version (1.6's keys, 2.0.1's device model: what the
# kernel reads through KernelConfig) and the station's own state, the connectors' persisted facts (availability,
# meter registers), the journal (the outbox, its dead letters, the transactions its messages belong to and their
# samples) and the TLS material the link reads. Every other table is a feature's (its FEATURE.tables).
TABLES: Final = frozenset(
    {"config", "device_model", "station_state", "connectors", "outbox", "dead_letters", "transactions",
     "tx_samples", "certificates", "private_keys"}
)  # fmt: skip


class Host(Protocol):
    """The station as its features see it: what only the whole station can do."""

    def reboot(self, identity: Identity | None = None) -> None:
        """Restart the station software (B-1), with a new identity if the firmware changed (F-7)."""
        ...

    async def accepted(self, first: bool) -> None:
        """The central system accepted the boot (``first``) or the link came back after one."""
        ...

    def diagnostics_state(self) -> dict[str, Any]:
        """The station's state as a diagnostics archive holds it."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Kernel(Generic[C]):
    """One station's kernel (``Kernel.start``)."""

    settings: StationSettings
    ports: Ports
    host: Host
    profiles: frozenset[str]  # what the station offers (1.6: its feature profiles; 2.0.1: its functional blocks)
    connector_count: int  # 1.6: its connectors; 2.0.1: its EVSEs
    clock: Clock
    log: Log
    store: Store
    config: C
    version: Version
    rpc: Rpc[Any]
    lane: Lane
    link: LinkService
    transport: Transport
    transfer: Transfer
    workspace: Workspace
    meter: GuardedMeter
    security_events: SecurityEvents
    clock_sync: ClockSync  # the wall clock, set from the central system's time within the window (B-4, B-7)
    triggers: Triggers  # what TriggerMessage may ask for, as every service offers it

    @classmethod
    def start(
        cls,
        settings: StationSettings,
        *,
        ports: Ports,
        host: Host,
        profiles: frozenset[str],
        connector_count: int,
        clock: Clock,
        log: Log,
        store: Store,
        config: C,
        version: Version,
        on_open: Callable[[], Awaitable[None]],
        on_close: Callable[[], None],
    ) -> Kernel[C]:
        """Build the kernel; ConfigError if the link cannot start (its profile, URL and TLS files)."""
        rpc: Rpc[Any] = Rpc(clock=clock, logger=log, name=settings.charge_point_id, dialect=version.dialect)
        security_events = SecurityEvents()
        link = LinkService(
            config=config,
            version=version,
            rpc=rpc,
            clock=clock,
            csms_url=settings.csms_url,
            charge_point_id=settings.charge_point_id,
            compression=settings.compression,
            log=log,
            tls=settings.tls,
            roots=lambda: store.certificates.pems(version.csms_root),
            credentials=store.private_keys.charge_point_credentials,
            security_event=security_events.report,
        )
        problem = link.start_problem()
        if problem is not None:
            raise ConfigError(problem)
        transport = Transport(
            settings=link.settings,
            rpc=rpc,
            clock=clock,
            logger=log,
            on_open=on_open,
            on_close=on_close,
            policy=settings.reconnect,
            on_failure=link.connect_failed,
        )
        link.transport = transport
        return cls(
            settings=settings,
            ports=ports,
            host=host,
            profiles=profiles,
            connector_count=connector_count,
            clock=clock,
            log=log,
            store=store,
            config=config,
            version=version,
            rpc=rpc,
            lane=Lane(rpc=rpc, store=store, clock=clock, config=config, version=version, log=log),
            link=link,
            transport=transport,
            transfer=Transfer(settings.transfer),  # firmware and diagnostics (checklist 4.1, 4.2)
            workspace=Workspace(settings.data_dir),  # the one directory file transfers write into
            meter=GuardedMeter(ports.meter, registers=store.connectors.all_meter_wh(), log=log),
            security_events=security_events,
            clock_sync=ClockSync(clock=clock, store=store, security=security_events, log=log),
            triggers={},
        )

    def reset(self) -> None:
        """Runtime state only (seed: OCPPResetAllGlobals): the journal and the store stay."""
        self.rpc.reset()
        self.lane.reset()
        self.link.reset()
