"""A payload to start from for every CALL a central system may send, in OCPP 1.6 (``templates``) and in 2.0.1
(``templates201``), served by ``GET /api/templates?ocpp=VERSION`` to the control page's form: each one valid by its
message's schema, so that sent as it is the station answers it (a CALLRESULT, never a
FormationViolation), and pointing at what this central system serves: firmware at ``/files/``, diagnostics and log
uploads at ``/uploads/``.

Certificates and signatures cannot be made up: their templates hold a placeholder to paste the real PEM over, which a
station refuses (Rejected, InvalidCertificate), as it should. With a CA of its own (``csms --ca-cert``) the central
system proposes that CA for InstallCertificate: a station that installs it as its CentralSystemRootCertificate then
trusts this central system's TLS certificate and the certificates its CA signs (CertificateSigned, CT-2).

A 2.0.1 template reads and sets variables of the station's own device model (OCPPCommCtrlr.HeartbeatInterval,
OfflineThreshold), names EVSE 1 and its connector 1, and holds a placeholder where only a running transaction or a
published image has the value (RequestStopTransaction's transactionId, PublishFirmware's MD5 checksum).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

PEM_PLACEHOLDER: Final = "-----BEGIN CERTIFICATE-----\nPASTE THE PEM HERE\n-----END CERTIFICATE-----\n"
_HASH_DATA: Final = {
    "hashAlgorithm": "SHA256",
    "issuerNameHash": "0" * 64,
    "issuerKeyHash": "0" * 64,
    "serialNumber": "01",
}
SIGNATURE_PLACEHOLDER: Final = (
    "UEFTVEUgVEhFIEJBU0U2NCBTSUdOQVRVUkUgSEVSRQ=="  # base64 of "PASTE THE BASE64 SIGNATURE HERE"
)


def templates(origin: str, *, files: list[str], now: datetime, root: str | None = None) -> dict[str, dict[str, Any]]:
    """Every central-system action's payload, in the order the page lists them (most used first). ``origin`` is
    this control server's address as the browser reached it (``http://HOST:PORT``), ``files`` the names under
    ``--files``, ``now`` an aware time, ``root`` the PEM of the central system's CA."""
    stamp = _time(now)
    image, uploads = _image(origin, files), f"{origin}/uploads/"
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
                "chargingSchedule": _schedule(stamp),
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
        "DeleteCertificate": {"certificateHashData": _HASH_DATA},
        "CertificateSigned": {"certificateChain": PEM_PLACEHOLDER},
        "SignedUpdateFirmware": _signed_firmware(image, stamp),
        "Reset": {"type": "Soft"},
    }


def templates201(
    origin: str, *, files: list[str], now: datetime, csms_url: str, root: str | None = None
) -> dict[str, dict[str, Any]]:
    """Every 2.0.1 CSMS-initiated action's payload, in the order the page lists them (most used first, Reset last:
    the station reboots). As ``templates``; ``csms_url`` is where this central system listens for stations
    (SetNetworkProfile's ocppCsmsUrl)."""
    stamp = _time(now)
    image, uploads = _image(origin, files), f"{origin}/uploads/"
    id_token = {"idToken": "REMOTE-1", "type": "ISO14443"}
    heartbeat = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    offline = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}}
    return {
        "RequestStartTransaction": {"idToken": id_token, "remoteStartId": 1, "evseId": 1},
        "RequestStopTransaction": {"transactionId": "PASTE-THE-TRANSACTION-ID"},
        "GetVariables": {"getVariableData": [heartbeat, offline]},
        "SetVariables": {"setVariableData": [{**heartbeat, "attributeValue": "60"}]},
        "GetBaseReport": {"requestId": 1, "reportBase": "ConfigurationInventory"},
        "GetReport": {"requestId": 2, "componentVariable": [{"component": {"name": "OCPPCommCtrlr"}}]},
        "TriggerMessage": {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}},
        "ChangeAvailability": {"operationalStatus": "Inoperative", "evse": {"id": 1}},
        "UnlockConnector": {"evseId": 1, "connectorId": 1},
        "GetTransactionStatus": {},
        "ClearCache": {},
        "DataTransfer": {"vendorId": "chargebox", "messageId": "hello", "data": "from the control page"},
        "UpdateFirmware": _signed_firmware(image, stamp),  # 2.0.1 took the whitepaper's form
        "GetLog": {"logType": "DiagnosticsLog", "requestId": 1, "log": {"remoteLocation": uploads}},
        "SetChargingProfile": {
            "evseId": 1,
            "chargingProfile": {
                "id": 1,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": [{"id": 1, **_schedule(stamp)}],
            },
        },
        "GetChargingProfiles": {"requestId": 1, "chargingProfile": {"chargingProfilePurpose": "TxDefaultProfile"}},
        "GetCompositeSchedule": {"duration": 3600, "evseId": 1, "chargingRateUnit": "A"},
        "ClearChargingProfile": {"chargingProfileId": 1},
        "GetLocalListVersion": {},
        "SendLocalList": {
            "versionNumber": 1,
            "updateType": "Full",
            "localAuthorizationList": [
                {"idToken": {"idToken": "LOCAL-1", "type": "ISO14443"}, "idTokenInfo": {"status": "Accepted"}}
            ],
        },
        "ReserveNow": {
            "id": 1,
            "expiryDateTime": _time(now + timedelta(hours=1)),
            "idToken": {"idToken": "RESERVED-1", "type": "ISO14443"},
            "evseId": 1,
        },
        "CancelReservation": {"reservationId": 1},
        "CostUpdated": {"totalCost": 1.25, "transactionId": "PASTE-THE-TRANSACTION-ID"},
        "CustomerInformation": {"requestId": 1, "report": True, "clear": False, "idToken": id_token},
        "SetDisplayMessage": {
            "message": {
                "id": 1,
                "priority": "NormalCycle",
                "message": {"format": "UTF8", "content": "Hello from the central system"},
            }
        },
        "GetDisplayMessages": {"requestId": 1},
        "ClearDisplayMessage": {"id": 1},
        "SetMonitoringBase": {"monitoringBase": "All"},
        "SetMonitoringLevel": {"severity": 5},
        "SetVariableMonitoring": {"setMonitoringData": [{**heartbeat, "value": 1.0, "type": "Delta", "severity": 5}]},
        "GetMonitoringReport": {"requestId": 1},
        "ClearVariableMonitoring": {"id": [1]},
        "SetNetworkProfile": {
            "configurationSlot": 1,
            "connectionData": {
                "ocppVersion": "OCPP20",
                "ocppTransport": "JSON",
                "ocppCsmsUrl": csms_url,
                "messageTimeout": 30,
                "securityProfile": 2 if csms_url.startswith("wss:") else 1,
                "ocppInterface": "Wired0",
            },
        },
        "GetInstalledCertificateIds": {"certificateType": ["CSMSRootCertificate"]},
        "InstallCertificate": {"certificateType": "CSMSRootCertificate", "certificate": root or PEM_PLACEHOLDER},
        "DeleteCertificate": {"certificateHashData": _HASH_DATA},
        "CertificateSigned": {"certificateChain": PEM_PLACEHOLDER, "certificateType": "ChargingStationCertificate"},
        "PublishFirmware": {"location": image, "checksum": "0" * 32, "requestId": 2},
        "UnpublishFirmware": {"checksum": "0" * 32},
        "Reset": {"type": "OnIdle"},
    }


def _schedule(stamp: str) -> dict[str, Any]:
    """16 A from ``stamp`` on: a ChargingSchedule of both versions (2.0.1's adds its id)."""
    return {
        "startSchedule": stamp,
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
    }


def _signed_firmware(image: str, stamp: str) -> dict[str, Any]:
    """1.6's SignedUpdateFirmware, 2.0.1's UpdateFirmware: the image, with a signing certificate and a signature to
    paste over (a station checks them before it installs)."""
    firmware = {
        "location": image,
        "retrieveDateTime": stamp,
        "signingCertificate": PEM_PLACEHOLDER,
        "signature": SIGNATURE_PLACEHOLDER,
    }
    return {"requestId": 1, "firmware": firmware}


def _image(origin: str, files: list[str]) -> str:
    """The first file of ``--files`` as this server serves it (a firmware image to start from)."""
    return f"{origin}/files/{quote(files[0]) if files else 'firmware.img'}"


def _time(moment: datetime) -> str:
    """RFC 3339 in UTC, to the second (what a person would type)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
