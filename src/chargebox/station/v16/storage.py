"""A store that refuses writes is a fault: no energy, no new transaction, reported, and over by itself.

A full disk (or one gone read-only, or a store file made immutable) leaves the store unable to journal:
no MeterValues, no register, no StopTransaction can be made durable, so whatever the EV draws meanwhile
could be lost to a power cut. While the store reports a fault (``Store.fault``: its writes wait and are
tried again, ``store/core.py``), the station offers no energy (0 A on the control pilot: the EV must
stop drawing), starts no transaction, and says so in StatusNotifications (``ConnectorsService.store_fault``:
SuspendedEVSE for a connector with a transaction, Faulted for the others, errorCode InternalError). Once
the disk takes the waiting writes, everything journaled goes out in its order, the register the meter
kept counting in memory goes into the next sample and the StopTransaction, and energy is offered again.

The features that offer energy (transactions, smart charging) drive the EV port through ``StorageService.ev``:
their builds need this feature and take the gated port from it, so no service's port is swapped after it is built.
"""

from __future__ import annotations

from typing import Final

from chargebox import hal
from chargebox.log import Log
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Service
from chargebox.station.v16.config_keys import Profile
from chargebox.station.v16.connectors import ConnectorsService
from chargebox.store import Store, StoreFault


class StorageService(Service):
    """Watches the store's health and applies it to the connectors, the energy offered and the lane."""

    def __init__(
        self,
        *,
        store: Store,
        connectors: ConnectorsService,
        lane: Lane,
        ev: hal.EvPort,
        log: Log,
    ) -> None:
        self._store = store
        self._connectors = connectors
        self._lane = lane
        self._log = log
        self.ev = GatedEv(ev)  # the EV port the services that offer energy drive (their builds take it from here)
        store.backend.watchers.append(self._changed)
        if store.fault is not None:  # a fleet's shared store may be failing already
            self._changed(store.fault)

    def _changed(self, fault: StoreFault | None) -> None:
        if fault is not None:
            self._log.error("! the store cannot write (%s): no energy is offered and no transaction starts until it "
                            "can; the transactions go on, their register kept in memory", fault.problem)  # fmt: skip
            self.ev.withhold(True)
            self._connectors.store_fault(fault.info)
        else:
            self._log.warning("= the store writes again: energy is offered again")
            self._connectors.store_fault(None)
            self.ev.withhold(False)
        self._lane.wake()

    def detach(self) -> None:
        """The station stops: a fleet's shared store must not call it any more."""
        if self._changed in self._store.backend.watchers:
            self._store.backend.watchers.remove(self._changed)


class GatedEv:
    """``hal.EvPort`` that offers 0 A while energy is withheld, and then what the services last offered."""

    def __init__(self, ev: hal.EvPort) -> None:
        self._ev = ev
        self._offered: dict[int, float] = {}
        self.withheld = False

    def plugged(self, connector_id: int) -> bool:
        return self._ev.plugged(connector_id)

    def offered_current(self, connector_id: int, amps: float) -> None:
        self._offered[connector_id] = amps
        self._ev.offered_current(connector_id, 0.0 if self.withheld else amps)

    def withhold(self, withheld: bool) -> None:
        self.withheld = withheld
        for connector_id, amps in self._offered.items():
            self._ev.offered_current(connector_id, 0.0 if withheld else amps)


def _build(kernel: Kernel, needs: Needs) -> StorageService:
    return StorageService(store=kernel.store, connectors=needs(ConnectorsService), lane=kernel.lane,
                          ev=kernel.ports.ev, log=kernel.log)  # fmt: skip


FEATURE: Final = Feature(
    name="storage",
    profile=Profile.CORE,
    service=StorageService,
    build=_build,
    needs=(ConnectorsService,),
)
