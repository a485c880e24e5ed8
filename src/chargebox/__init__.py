"""chargebox: an OCPP 1.6J charge point stack and simulator.

What an integrator uses is importable from here: the station and its settings, the hardware ports
it calls (``hal``), the outcome of a CALL it sends, and the errors it may raise.
``docs/howto/integrate.md`` shows them together in a complete program.
"""

from chargebox.errors import (
    ChargeboxError,
    ConfigError,
    ConnectionLost,
    CsmsUnreachable,
    HardwareError,
    LocalProtocolError,
    RemoteProtocolError,
    TransferError,
    UserError,
)
from chargebox.hal import ConnectorLock, Contactor, EnergyMeter, EvPort, FirmwareInstaller, Reading
from chargebox.rpc import Reply, SendOutcome, SendResult
from chargebox.station.kernel.settings import Identity
from chargebox.station.kernel.tls import TlsSettings
from chargebox.station.station import Ports, Station, StationSettings
from chargebox.transfer import TransferSettings
from chargebox.transport import ReconnectPolicy

__version__ = "0.1.0"
__all__ = [
    "ChargeboxError",
    "ConfigError",
    "ConnectionLost",
    "ConnectorLock",
    "Contactor",
    "CsmsUnreachable",
    "EnergyMeter",
    "EvPort",
    "FirmwareInstaller",
    "HardwareError",
    "Identity",
    "LocalProtocolError",
    "Ports",
    "Reading",
    "ReconnectPolicy",
    "RemoteProtocolError",
    "Reply",
    "SendOutcome",
    "SendResult",
    "Station",
    "StationSettings",
    "TlsSettings",
    "TransferError",
    "TransferSettings",
    "UserError",
    "__version__",
]
