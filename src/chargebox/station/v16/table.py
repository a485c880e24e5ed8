"""OCPP 1.6 on the kernel: its messages as the kernel carries them."""

from __future__ import annotations

from typing import Final

from chargebox.protocol.connection import ACTION_OF_REQUEST
from chargebox.protocol.messages import REQUESTS, CertificateUse, Message, StatusNotificationRequest
from chargebox.station.kernel.version import Version
from chargebox.station.v16.config_keys import KERNEL_KEYS


def _same_connector_status(new: Message, waiting: Message) -> bool:
    """Only the latest status of a connector matters: a newer one replaces the one still waiting."""
    return (
        isinstance(new, StatusNotificationRequest)
        and isinstance(waiting, StatusNotificationRequest)
        and new.connector_id == waiting.connector_id
    )


VERSION: Final = Version(
    subprotocol="ocpp1.6",
    requests={action.value: kind for action, kind in REQUESTS.items()},
    actions=ACTION_OF_REQUEST,
    supersedes=_same_connector_status,
    keys=KERNEL_KEYS,
    csms_root=CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE.value,
)
