"""What an OCPP 2.0.1 station offers, read from its settings before anything is opened.

Its functional blocks (Part 2's A to P: each 2.0.1 feature names its block as its ``profile``), its EVSEs
(``--connectors N``: N EVSEs of one connector each, the EVSE ids 1 to N; or ``evses``, a template's or the
station file's layout, the connectors of each EVSE), and the device-model entries it starts
with (``--ocpp-config``: a list shaped like SetVariables data). A setting the station cannot honour is a
``ConfigError``, one line, before a store row or a task exists.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from chargebox.errors import ConfigError
from chargebox.station.kernel.settings import StationSettings


class Block(enum.StrEnum):
    """Part 2's functional blocks, as a 2.0.1 feature's ``Feature.profile``."""

    SECURITY = "Security"  # A
    PROVISIONING = "Provisioning"  # B
    AUTHORIZATION = "Authorization"  # C
    LOCAL_AUTHORIZATION_LIST = "LocalAuthorizationListManagement"  # D
    TRANSACTIONS = "Transactions"  # E
    REMOTE_CONTROL = "RemoteControl"  # F
    AVAILABILITY = "Availability"  # G
    RESERVATION = "Reservation"  # H
    TARIFF_AND_COST = "TariffAndCost"  # I
    METER_VALUES = "MeterValues"  # J
    SMART_CHARGING = "SmartCharging"  # K
    FIRMWARE_MANAGEMENT = "FirmwareManagement"  # L
    CERTIFICATE_MANAGEMENT = "ISO15118CertificateManagement"  # M
    DIAGNOSTICS = "Diagnostics"  # N
    DISPLAY_MESSAGE = "DisplayMessage"  # O
    DATA_TRANSFER = "DataTransfer"  # P


# The blocks of the Core certification profile (Part 5 table 1; of K only TC_K_38_CS, which a station without
# smart charging passes): every 2.0.1 station offers them. An optional block (D, H, I, K, O) is offered when a
# later feature table says how a station chooses it.
CORE: Final = frozenset(
    {Block.SECURITY, Block.PROVISIONING, Block.AUTHORIZATION, Block.TRANSACTIONS, Block.REMOTE_CONTROL,
     Block.AVAILABILITY, Block.METER_VALUES, Block.FIRMWARE_MANAGEMENT, Block.CERTIFICATE_MANAGEMENT,
     Block.DIAGNOSTICS, Block.DATA_TRANSFER}
)  # fmt: skip
# EVSEs: each costs device-model instances, rows, timers and tasks from the start, so an absurd count is refused.
MAX_EVSES: Final = 128
# Connectors of one EVSE: a real one has a socket and a cable or a few plug types, never dozens.
MAX_CONNECTORS_PER_EVSE: Final = 8


@dataclass(frozen=True, slots=True)
class Offer:
    """The blocks and EVSEs of a 2.0.1 station, and the device-model entries it starts with."""

    profiles: frozenset[str]
    evses: tuple[int, ...]  # the connectors of each EVSE, EVSE 1 first
    entries: tuple[Mapping[str, object], ...]

    @property
    def connectors(self) -> int:
        """The EVSEs: what the kernel counts (``Kernel.connector_count``) and the hardware ports index."""
        return len(self.evses)

    @property
    def offered(self) -> frozenset[str]:
        """What builds features: the blocks (no setting turns on more)."""
        return self.profiles


def offer(settings: StationSettings) -> Offer:
    """The station's offer; ConfigError if the settings cannot be honoured."""
    if settings.connectors is not None and not 1 <= settings.connectors <= MAX_EVSES:
        raise ConfigError(f"connectors: {settings.connectors} is not 1 to {MAX_EVSES} EVSEs")
    if settings.signed_firmware_only:
        raise ConfigError(
            "signed_firmware_only (--signed-firmware-only) is 1.6's SignedUpdateFirmware switch; a 2.0.1 station's "
            "UpdateFirmware takes only signed images (L01), without it"
        )
    entries = settings.ocpp_config
    if isinstance(entries, Mapping):
        if entries:
            raise ConfigError(
                f"{settings.ocpp_config_source}: a 2.0.1 station's configuration is a list of device-model entries "
                '({"component": {"name": ...}, "variable": {"name": ...}, "value": ...}), not an object of keys'
            )
        entries = ()
    if isinstance(entries, str | bytes) or not all(isinstance(entry, Mapping) for entry in entries):
        raise ConfigError(f"{settings.ocpp_config_source}: each device-model entry must be an object")
    return Offer(profiles=CORE, evses=evses(settings), entries=tuple(entries))


def evses(settings: StationSettings) -> tuple[int, ...]:
    """The connectors of each EVSE: the ``evses`` layout, else ``connectors`` EVSEs of one; ConfigError if the
    layout is out of range or both are given (which one was meant cannot be told)."""
    layout = settings.evses
    if layout is None:
        return (1,) * (settings.connectors or 1)
    if settings.connectors is not None:
        raise ConfigError(
            f"evses {list(layout)} and connectors {settings.connectors} (--connectors) both given: evses says how many "
            "EVSEs and connectors there are; give one of them"
        )
    if not 1 <= len(layout) <= MAX_EVSES or not all(1 <= count <= MAX_CONNECTORS_PER_EVSE for count in layout):
        raise ConfigError(
            f"evses: {list(layout)} is not 1 to {MAX_EVSES} EVSEs of 1 to {MAX_CONNECTORS_PER_EVSE} connectors each"
        )
    return layout


def security_profile(settings: StationSettings) -> int:
    """The security profile the settings ask for: ``--security-profile``, else 1 with a password, else 0."""
    if settings.tls.security_profile is not None:
        return settings.tls.security_profile
    return 1 if settings.password is not None else 0


def seeds(settings: StationSettings) -> Sequence[Mapping[str, object]]:
    """What the command line (or the station file) seeds beside ``--ocpp-config``: the password
    (A01.FR.01: kept in BasicAuthPassword) and the security profile it connects with at first start."""
    seeded: list[Mapping[str, object]] = [_entry("SecurityCtrlr", "SecurityProfile", str(security_profile(settings)))]
    if settings.password is not None:
        seeded.append(_entry("SecurityCtrlr", "BasicAuthPassword", settings.password))
    return seeded


def _entry(component: str, variable: str, value: str) -> Mapping[str, object]:
    return {"component": {"name": component}, "variable": {"name": variable}, "value": value}
