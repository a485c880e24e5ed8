"""Hardware ports: what the integrator implements for a real charger (and ``sim/`` for a simulated one).

Each port is a small ``typing.Protocol``. The station calls them; the hardware reports events back
through the methods of ``Station`` named in each docstring (``plugged``, ``id_tag_presented`` …).
A port may raise ``chargebox.errors.HardwareError``; the service turns it into an OCPP outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

# The meter's vocabulary (what it measures, in which unit, on which phase, where): 1.6's enums, whose values
# 2.0.1 spells the same; re-exported so the kernel reads them as the port's words, not a version's messages.
from chargebox.protocol.messages import Location as Location
from chargebox.protocol.messages import Measurand as Measurand
from chargebox.protocol.messages import MeterValuesUnitOfMeasure as MeterValuesUnitOfMeasure
from chargebox.protocol.messages import Phase as Phase


@dataclass(frozen=True, slots=True)
class Reading:
    """One measured quantity, as the meter knows it."""

    measurand: Measurand
    value: float
    unit: MeterValuesUnitOfMeasure | None  # None for Frequency (Hz has no unit value, MV-7)
    phase: Phase | None = None
    location: Location = Location.OUTLET


class EnergyMeter(Protocol):
    """The meter of each connector (and connector 0, the main meter)."""

    def measurands(self) -> frozenset[str]:
        """Every measurand this meter can report, with the phase-suffixed forms it supports
        (``"Current.Import.L1"``); configuration keys are checked against it (MV-5)."""
        ...

    def read(self, connector_id: int) -> list[Reading]:
        """Everything the meter measures on that connector now. Must return quickly (no I/O wait).

        ``Energy.Active.Import.Register`` in Wh must be present, monotonic and never reset (X-15).
        """
        ...

    def energy_wh(self, connector_id: int) -> int:
        """The Energy.Active.Import.Register of the connector in Wh (meterStart, meterStop)."""
        ...


class Contactor(Protocol):
    """The relay that energises a connector."""

    async def close(self, connector_id: int) -> None:
        """Energise the connector (start delivering energy). Raise HardwareError if it cannot."""
        ...

    async def open(self, connector_id: int) -> None:
        """De-energise the connector. Must succeed within a second; raise HardwareError if not."""
        ...


class ConnectorLock(Protocol):
    """The cable lock of a socket outlet (absent with a fixed cable)."""

    async def lock(self, connector_id: int) -> bool:
        """Lock the cable; False if the lock did not engage (X-16: ConnectorLockFailure)."""
        ...

    async def unlock(self, connector_id: int) -> bool:
        """Unlock the cable; False if it is still locked (C-33: UnlockFailed)."""
        ...


class EvPort(Protocol):
    """What the EV side tells the station (IEC 61851 control pilot).

    Events go the other way: ``Station.plugged(c)``, ``Station.unplugged(c)``,
    ``Station.ev_suspended(c, suspended)``.
    """

    def plugged(self, connector_id: int) -> bool:
        """Whether an EV is connected now (read after a reboot: the cable may still be in)."""
        ...

    def offered_current(self, connector_id: int, amps: float) -> None:
        """Advertise the current the EV may draw (PWM duty cycle); 0 suspends charging (SuspendedEVSE)."""
        ...


class FirmwareInstaller(Protocol):
    """The charger's own firmware: verify an image, install it, say which version runs (F-6, F-7).

    The firmware service calls ``install`` only once no transaction runs (F-6), then reboots the station
    and reports Installed after the new BootNotification (F-7). An installer that reboots the device itself
    may never return from ``install``: after the restart the service finds its job in stage "installing"
    and compares ``running_version()`` with the version that ran before, to tell Installed from an install
    the power cut interrupted (which it then repeats).
    """

    def running_version(self) -> str | None:
        """The firmware version running now (BootNotification.firmwareVersion, CiString50). Must be quick."""
        ...

    async def install(self, image: Path) -> str:
        """Verify ``image`` and install it; return the version that runs after the reboot.

        Raise HardwareError if the image is refused (corrupt, for another model, badly signed): the
        station reports InstallationFailed and keeps running the old version. May take minutes.
        """
        ...
