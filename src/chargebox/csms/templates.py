"""A payload to start from for every CALL a central system may send (``GET /api/templates``, the control page's
form): each one valid by its message's schema, so that sent as it is the station answers it (a CALLRESULT, never a
FormationViolation), and pointing at what this central system serves: firmware at ``/files/``, diagnostics and log
uploads at ``/uploads/``.

Certificates and signatures cannot be made up: their templates hold a placeholder to paste the real PEM over, which a
station refuses (Rejected, InvalidCertificate), as it should. With a CA of its own (``csms --ca-cert``) the central
system proposes that CA for InstallCertificate: a station that installs it as its CentralSystemRootCertificate then
trusts this central system's TLS certificate and the certificates its CA signs (CertificateSigned, CT-2).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

PEM_PLACEHOLDER: Final = "-----BEGIN CERTIFICATE-----\nPASTE THE PEM HERE\n-----END CERTIFICATE-----\n"


def templates(origin: str, *, files: list[str], now: datetime, root: str | None = None) -> dict[str, dict[str, Any]]:
    """Every central-system action's payload, in the order the page lists them (most used first). ``origin`` is
    this control server's address as the browser reached it (``http://HOST:PORT``), ``files`` the names under
    ``--files``, ``now`` an aware time, ``root`` the PEM of the central system's CA."""
    stamp = _time(now)
    image = f"{origin}/files/{quote(files[0]) if files else 'firmware.img'}"
    uploads = f"{origin}/uploads/"
    schedule = {
        "startSchedule": stamp,
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
    }
    return {
        "RemoteStartTransaction": {"connectorId": 1, "idTag": "REMOTE-1"},
        "RemoteStopTransaction": {"transactionId": 1},
        "ChangeConfiguration": {"key": "HeartbeatInterval", "value": "60"},
        "GetConfiguration": {},
        "TriggerMessage": {"requestedMessage": "StatusNotification"},
        "ChangeAvailability": {"connectorId": 0, "type": "Inoperative"},
        "UnlockConnector": {"connectorId": 1},
        "ClearCache": {},
        "DataTransfer": {"vendorId": "chargebox", "messageId": "hello", "data": "from the control page"},
        "UpdateFirmware": {"location": image, "retrieveDate": stamp},
        "GetDiagnostics": {"location": uploads},
        "SetChargingProfile": {
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": 1,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": schedule,
            },
        },
        "GetCompositeSchedule": {"connectorId": 1, "duration": 3600, "chargingRateUnit": "A"},
        "ClearChargingProfile": {"id": 1},
        "GetLocalListVersion": {},
        "SendLocalList": {
            "listVersion": 1,
            "updateType": "Full",
            "localAuthorizationList": [{"idTag": "LOCAL-1", "idTagInfo": {"status": "Accepted"}}],
        },
        "ReserveNow": {
            "connectorId": 1,
            "expiryDate": _time(now + timedelta(hours=1)),
            "idTag": "RESERVED-1",
            "reservationId": 1,
        },
        "CancelReservation": {"reservationId": 1},
        "ExtendedTriggerMessage": {"requestedMessage": "Heartbeat"},
        "GetLog": {"logType": "SecurityLog", "requestId": 1, "log": {"remoteLocation": uploads}},
        "GetInstalledCertificateIds": {"certificateType": "CentralSystemRootCertificate"},
        "InstallCertificate": {
            "certificateType": "CentralSystemRootCertificate",
            "certificate": root or PEM_PLACEHOLDER,
        },
        "DeleteCertificate": {
            "certificateHashData": {
                "hashAlgorithm": "SHA256",
                "issuerNameHash": "0" * 64,
                "issuerKeyHash": "0" * 64,
                "serialNumber": "01",
            }
        },
        "CertificateSigned": {"certificateChain": PEM_PLACEHOLDER},
        "SignedUpdateFirmware": {
            "requestId": 1,
            "firmware": {
                "location": image,
                "retrieveDateTime": stamp,
                "signingCertificate": PEM_PLACEHOLDER,
                "signature": "UEFTVEUgVEhFIEJBU0U2NCBTSUdOQVRVUkUgSEVSRQ==",
            },
        },
        "Reset": {"type": "Soft"},
    }


def _time(moment: datetime) -> str:
    """RFC 3339 in UTC, to the second (what a person would type)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
