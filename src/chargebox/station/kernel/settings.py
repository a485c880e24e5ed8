"""What a station is started with: who it is, its hardware, and its settings (any OCPP version).

``Identity`` is what the station says it is when it boots (1.6's BootNotification fields, 2.0.1's
ChargingStation); ``Ports`` is its hardware; ``StationSettings`` are the ``simulate`` and ``run``
options. All three are importable from ``chargebox`` (``docs/howto/integrate.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chargebox import hal
from chargebox.station.kernel.tls import TlsSettings
from chargebox.transfer import TransferSettings
from chargebox.transport import ReconnectPolicy


@dataclass(frozen=True, slots=True)
class Identity:
    """What the charge point says it is when it boots (B-1)."""

    vendor: str
    model: str
    serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Ports:
    """The hardware of one station (the ports of ``hal``), always given explicitly: a station has no
    default hardware, so a charger that forgets its installer fails at start, never reports a
    simulated flash as Installed. ``sim.station`` builds the simulated set."""

    meter: hal.EnergyMeter
    contactor: hal.Contactor
    ev: hal.EvPort
    lock: hal.ConnectorLock | None  # None: a fixed cable, nothing to lock (C-35)
    installer: hal.FirmwareInstaller


@dataclass(frozen=True, slots=True)
class StationSettings:
    """Everything a station is started with (the ``simulate`` and ``run`` options)."""

    charge_point_id: str
    csms_url: str
    identity: Identity = field(default_factory=lambda: Identity(vendor="chargebox", model="Simulator"))
    ocpp: str = "1.6"  # the OCPP version the station speaks: "1.6" or "2.0.1" (station/front.py VERSIONS)
    connectors: int | None = None  # 1.6: connectors; 2.0.1: EVSEs of one connector each
    evses: tuple[int, ...] | None = None  # 2.0.1 only: the connectors of each EVSE, EVSE 1 first (not with connectors)
    data_dir: Path | None = None
    password: str | None = None
    # What the station starts with: 1.6, configuration key -> value; 2.0.1, a list of device-model entries
    # shaped like SetVariables data ({"component": {...}, "variable": {...}, "attributeType"?, "value"})
    ocpp_config: Mapping[str, object] | Sequence[Mapping[str, object]] = field(default_factory=dict)
    ocpp_config_source: str = "ocpp config"
    fixed_cable: bool = False
    compression: bool = False
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    transfer: TransferSettings = field(default_factory=TransferSettings)  # firmware and diagnostics (F-5, D-2)
    tls: TlsSettings = field(default_factory=TlsSettings)  # security profiles 2 and 3 (T-44)
    # the reason running transactions end with when ``run()`` is cancelled (SIGTERM), spelt as OCPP spells it:
    # "Reboot" for a station its service manager starts again, "Other" for one taken out of service. None: a cancel
    # drops the link at once and the next start ends what ran with PowerLoss, as after a power cut.
    sigterm_reason: str | None = None
    # SF-10: offer SignedUpdateFirmware, which then answers for firmware alone (plain UpdateFirmware NotSupported);
    # 1.6's: a 2.0.1 station refuses it (its UpdateFirmware takes only signed images, L01)
    signed_firmware_only: bool = False
    # A CentralSystemRootCertificate (PEM file) installed at start when the station holds none: factory provisioning
    install_root: Path | None = None
