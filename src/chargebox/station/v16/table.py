"""OCPP 1.6 on the kernel: its messages as the kernel carries them, and its feature table.

``FEATURES`` is the order the station builds its features in, which is also their dependency order:
a feature needs only what comes before it (``tests/station/test_features.py`` checks it, with the
declarations against the services). Adding a feature is its module (its ``FEATURE``), its store
module, its tests and one entry here. ``TABLE`` is what ``Station`` builds a 1.6 station from.
"""

from __future__ import annotations

from typing import Any, Final

from chargebox.protocol.dialect import OCPP16
from chargebox.protocol.messages import Message, StatusNotificationRequest
from chargebox.station import feature
from chargebox.station.front import Table
from chargebox.station.kernel.version import Version
from chargebox.station.v16 import (
    authorization,
    availability,
    boot,
    configuration,
    connectors,
    data_transfer,
    diagnostics,
    firmware,
    local_list,
    metering,
    reservation,
    reset,
    smart_charging,
    storage,
    transactions,
    trigger,
)
from chargebox.station.v16 import offer as v16_offer
from chargebox.station.v16.config_keys import KERNEL_KEYS
from chargebox.station.v16.front import Front16
from chargebox.station.v16.security import certificates, events, extended_trigger, get_log, signed_firmware

FEATURES: Final[tuple[feature.Feature[Any], ...]] = (
    events.FEATURE,  # first: every feature may report a security event (T-45)
    boot.FEATURE,
    connectors.FEATURE,
    storage.FEATURE,  # a store that refuses writes: no energy, reported through the connectors
    configuration.FEATURE,
    data_transfer.FEATURE,
    authorization.FEATURE,
    local_list.FEATURE,
    metering.FEATURE,
    transactions.FEATURE,
    reservation.FEATURE,
    smart_charging.FEATURE,
    availability.FEATURE,
    reset.FEATURE,
    firmware.FEATURE,
    diagnostics.FEATURE,
    trigger.FEATURE,
    extended_trigger.FEATURE,
    get_log.FEATURE,
    signed_firmware.FEATURE,
    certificates.FEATURE,
)

# The catalogue's keys no feature owns: the station states them (its profiles), the integrator's ports
# honour them (the kernel's own are KERNEL_KEYS).
STATION_KEYS: Final = frozenset(
    {"SupportedFeatureProfiles", "SupportedFeatureProfilesMaxLength", "BlinkRepeat", "ConnectorPhaseRotation",
     "LightIntensity"}
)  # fmt: skip


def _same_connector_status(new: Message, waiting: Message) -> bool:
    """Only the latest status of a connector matters: a newer one replaces the one still waiting."""
    return (
        isinstance(new, StatusNotificationRequest)
        and isinstance(waiting, StatusNotificationRequest)
        and new.connector_id == waiting.connector_id
    )


VERSION: Final = Version(
    dialect=OCPP16,
    supersedes=_same_connector_status,
    keys=KERNEL_KEYS,
    csms_root=certificates.CENTRAL_SYSTEM_ROOT,
    csms_transaction_ids=True,  # a transaction's messages carry the id its StartTransaction.conf gave
)

TABLE: Final = Table(
    version=VERSION,
    features=FEATURES,
    offer=v16_offer.offer,
    configuration=v16_offer.configuration,
    front=Front16,
    id_token_length=authorization.ID_TOKEN_LENGTH,  # IdToken is CiString20
    provision=certificates.provision,
)
