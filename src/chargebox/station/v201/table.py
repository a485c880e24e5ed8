"""OCPP 2.0.1 on the kernel: its messages as the kernel carries them, its device model and its feature table.

``FEATURES`` is the order the station builds its features in, which is also their dependency order (a feature
needs only what comes before it); ``tests/station/v201/test_table.py`` holds the declarations to the code.
Adding a 2.0.1 feature is its module (its ``FEATURE``, with its actions, device-model variables and tables), its
store module, its tests and one entry here (``docs/topics/ocpp201.md``, "How to add a 2.0.1 feature").
``TABLE`` is what ``Station`` builds a 2.0.1 station from.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from chargebox.protocol.base import Message
from chargebox.protocol.v201 import messages as m
from chargebox.protocol.v201.dialect import OCPP201
from chargebox.station import feature
from chargebox.station.front import Table
from chargebox.station.kernel.config import KernelKeys
from chargebox.station.kernel.settings import StationSettings
from chargebox.station.kernel.version import Version
from chargebox.station.v201 import (
    authorization,
    availability,
    boot,
    certificates,
    customer_information,
    data_transfer,
    device_data,
    evses,
    firmware,
    get_log,
    meter_values,
    network,
    reset,
    security_events,
    transactions,
    trigger,
    unlock,
)
from chargebox.station.v201 import offer as v201_offer
from chargebox.station.v201.device_model import DeviceModel
from chargebox.station.v201.front import Front201
from chargebox.station.v201.variables import Variable, declare
from chargebox.store import Store

FEATURES: Final[tuple[feature.Feature[Any], ...]] = (
    security_events.FEATURE,  # first: every security event reported while the others are built is kept
    boot.FEATURE,
    evses.FEATURE,
    device_data.FEATURE,
    network.FEATURE,
    reset.FEATURE,
    availability.FEATURE,
    unlock.FEATURE,
    authorization.FEATURE,
    transactions.FEATURE,
    meter_values.FEATURE,
    certificates.FEATURE,
    data_transfer.FEATURE,
    customer_information.FEATURE,
    get_log.FEATURE,
    firmware.FEATURE,  # after transactions: the install waits for them through Reset's participants
    trigger.FEATURE,
)

# The device-model variables the kernel reads (the lane, the link), declared here as 1.6 keeps its kernel keys
# in its catalogue: no feature owns them.
MESSAGE_ATTEMPTS: Final = declare(
    "OCPPCommCtrlr", "MessageAttempts", "TransactionEvent", default="3", min_limit=1,
    description="Attempts of a transaction message the central system fails to process (E13)",
)  # fmt: skip
MESSAGE_ATTEMPT_INTERVAL: Final = declare(
    "OCPPCommCtrlr", "MessageAttemptInterval", "TransactionEvent", default="60", min_limit=0,
    description="Seconds times the attempt number between attempts of a transaction message (E13)",
)  # fmt: skip
SECURITY_PROFILE: Final = declare(
    "SecurityCtrlr", "SecurityProfile", default="0",
    description="The security profile in use: the active network profile's (A05.FR.06)",
)  # fmt: skip
# A00.FR.205 (errata 2.1): 16 characters at least, at most the maxLimit the station chooses (40 to 64): 40, as 1.6
BASIC_AUTH_PASSWORD: Final = declare(
    "SecurityCtrlr", "BasicAuthPassword", max_limit=40,
    description="The Basic authentication password of security profiles 1 and 2 (A01)",
)  # fmt: skip
WEBSOCKET_PING_INTERVAL: Final = declare(
    "OCPPCommCtrlr", "WebSocketPingInterval", default="60",
    description="Seconds between the station's WebSocket pings; 0: none (Part 4 8.4)",
)  # fmt: skip
MESSAGE_TIMEOUT: Final = declare(
    "OCPPCommCtrlr", "MessageTimeout", "Default", default="30",
    description="Seconds before an unanswered CALL times out: the active network profile's messageTimeout",
)  # fmt: skip
KERNEL_VARIABLES: Final[tuple[Variable, ...]] = (
    MESSAGE_ATTEMPTS, MESSAGE_ATTEMPT_INTERVAL, SECURITY_PROFILE, BASIC_AUTH_PASSWORD, WEBSOCKET_PING_INTERVAL,
    MESSAGE_TIMEOUT,
)  # fmt: skip
KERNEL_KEYS: Final = KernelKeys(
    message_attempts=MESSAGE_ATTEMPTS.key,
    message_retry_interval=MESSAGE_ATTEMPT_INTERVAL.key,
    security_profile=SECURITY_PROFILE.key,
    authorization_key=BASIC_AUTH_PASSWORD.key,
    ping_interval=WEBSOCKET_PING_INTERVAL.key,
    message_timeout=MESSAGE_TIMEOUT.key,
)


def configuration(
    offered: v201_offer.Offer,
    settings: StationSettings,
    store: Store,
    log: logging.LoggerAdapter[logging.Logger],
) -> DeviceModel:
    """The device model of the offered blocks' features and the kernel's variables, over the station's EVSEs,
    with what the store keeps and, at first start, what the settings and ``--ocpp-config`` seed."""
    variables = [*KERNEL_VARIABLES]
    for declared in FEATURES:
        if declared.profile in offered.profiles:
            variables.extend(declared.variables)
    model = DeviceModel(store=store, variables=variables, evses=offered.evses, log=log)
    model.seed(_settings_seeds(settings, offered), "the station's settings")
    model.seed(offered.entries, settings.ocpp_config_source)
    return model


def _settings_seeds(settings: StationSettings, offered: v201_offer.Offer) -> list[Mapping[str, object]]:
    """The settings' seeds that ``--ocpp-config`` does not make itself (its own entry wins, as a file's does)."""
    named = {_name(entry) for entry in offered.entries}
    seeds = [*v201_offer.seeds(settings)]
    if settings.fixed_cable:
        seeds += [
            {"component": {"name": "Connector", "evse": {"id": evse, "connectorId": connector}},
             "variable": {"name": "ConnectorType"}, "value": "cType2"}
            for evse, count in enumerate(offered.evses, start=1) for connector in range(1, count + 1)
        ]  # fmt: skip
    return [seed for seed in seeds if _name(seed) not in named]


def _name(entry: Mapping[str, object]) -> tuple[str, ...]:
    """An entry's component and variable, as far as it names them (a malformed one is the seed's to refuse)."""
    component, variable = entry.get("component"), entry.get("variable")
    parts = [str(part.get(key, "")).lower() if isinstance(part, Mapping) else "" for part in (component, variable)
             for key in ("name", "instance")]  # fmt: skip
    evse = component.get("evse") if isinstance(component, Mapping) else None
    parts += [str(evse.get(key, "")) if isinstance(evse, Mapping) else "" for key in ("id", "connectorId")]
    return tuple(parts)


def _same_connector_status(new: Message, waiting: Message) -> bool:
    """Only the latest status of a connector matters: a newer one replaces the one still waiting."""
    return (
        isinstance(new, m.StatusNotificationRequest)
        and isinstance(waiting, m.StatusNotificationRequest)
        and (new.evse_id, new.connector_id) == (waiting.evse_id, waiting.connector_id)
    )


VERSION: Final = Version(
    dialect=OCPP201,
    supersedes=_same_connector_status,
    keys=KERNEL_KEYS,
    csms_root=m.InstallCertificateUseEnumType.CSMS_ROOT_CERTIFICATE.value,
    attempt_on_timeout=frozenset({m.Action.TRANSACTION_EVENT.value}),  # E13.FR.02
)

TABLE: Final = Table(
    version=VERSION,
    features=FEATURES,
    offer=v201_offer.offer,
    configuration=configuration,
    front=Front201,
    provision=certificates.provision,  # install_root: the factory's CSMSRootCertificate
    id_token_length=authorization.ID_TOKEN_LENGTH,  # IdTokenType.idToken: a string of at most 36
    id_token_types=tuple(kind.value for kind in m.IdTokenEnumType),
)
