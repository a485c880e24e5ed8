"""A station configuration written for EVerest's libocpp, taken whole by ``chargebox simulate --ocpp-config``.

``LIBOCPP`` is every standard OCPP 1.6 key of libocpp's ``config/v16/config-full.json`` with its values: its
sections Core, LocalAuthListManagement, SmartCharging, FirmwareManagement, Reservation and Security, and the two
certificate-signing keys of its PnC section, flattened into the one object ``--ocpp-config`` reads. It names the
Security keys (CpoName, AdditionalRootCertificateCheck...) while its SupportedFeatureProfiles names no Security, as
every libocpp configuration does. Left out: libocpp's own keys (its Internal section,
DisableSecurityEventNotifications), which no OCPP document defines and chargebox refuses (a typo check). The
central system is the ``ocpp`` library's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path

from ocpp.v16 import call

from tests.interop.conftest import OcppCsms, basic

LIBOCPP: dict[str, object] = {
    # Core
    "AllowOfflineTxForUnknownId": True, "AuthorizationCacheEnabled": True, "AuthorizeRemoteTxRequests": True,
    "BlinkRepeat": 0, "ClockAlignedDataInterval": 900, "ConnectionTimeOut": 120,
    "ConnectorPhaseRotation": "RST0.RST,1.RST,2.RTS", "ConnectorPhaseRotationMaxLength": 100,
    "GetConfigurationMaxKeys": 1024, "HeartbeatInterval": 900, "LightIntensity": 0, "LocalAuthorizeOffline": True,
    "LocalPreAuthorize": True, "MaxEnergyOnInvalidId": 500,
    "MeterValuesAlignedData": "Energy.Active.Import.Register", "MeterValuesAlignedDataMaxLength": 1024,
    "MeterValuesSampledData": "Energy.Active.Import.Register", "MeterValuesSampledDataMaxLength": 1024,
    "MeterValueSampleInterval": 300, "MinimumStatusDuration": 1, "NumberOfConnectors": 2, "ResetRetries": 1,
    "StopTransactionOnEVSideDisconnect": True, "StopTransactionOnInvalidId": True,
    "StopTxnAlignedData": "Energy.Active.Import.Register", "StopTxnAlignedDataMaxLength": 1024,
    "StopTxnSampledData": "Energy.Active.Import.Register", "StopTxnSampledDataMaxLength": 1024,
    "SupportedFeatureProfiles": "Core,FirmwareManagement,RemoteTrigger,Reservation,LocalAuthListManagement,"
                                "SmartCharging",
    "SupportedFeatureProfilesMaxLength": 1024, "TransactionMessageAttempts": 1, "TransactionMessageRetryInterval": 10,
    "UnlockConnectorOnEVSideDisconnect": True, "WebSocketPingInterval": 10,
    # LocalAuthListManagement
    "LocalAuthListEnabled": True, "LocalAuthListMaxLength": 1024, "SendLocalListMaxLength": 1024,
    # SmartCharging
    "ChargeProfileMaxStackLevel": 1000, "ChargingScheduleAllowedChargingRateUnit": "Current,Power",
    "ChargingScheduleMaxPeriods": 1000, "ConnectorSwitch3to1PhaseSupported": True, "MaxChargingProfilesInstalled": 1000,
    # FirmwareManagement, Reservation
    "SupportedFileTransferProtocols": "FTP", "ReserveConnectorZeroSupported": False,
    # Security (the whitepaper's keys)
    "AdditionalRootCertificateCheck": False, "AuthorizationKey": "DEADBEEFDEADBEEF",
    "CertificateSignedMaxChainSize": 10000, "CertificateStoreMaxLength": 1000, "CpoName": "Pionix",
    "SecurityProfile": 1,
    # PnC: the certificate-signing keys chargebox knows
    "CertSigningWaitMinimum": 30, "CertSigningRepeatTimes": 2,
}  # fmt: skip
PASSWORD = "DEADBEEFDEADBEEF"


async def test_K_4_an_everest_libocpp_configuration_starts_a_station_through_simulate(tmp_path: Path) -> None:
    config = tmp_path / "libocpp.json"
    config.write_text(json.dumps(LIBOCPP))
    csms = OcppCsms(passwords={PASSWORD})  # SecurityProfile 1 with libocpp's AuthorizationKey: Basic auth (T-6)
    await csms.start()
    log = (tmp_path / "simulate.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chargebox.cli", "simulate", "--csms", csms.url, "--id", "cp001",
        "--data-dir", str(tmp_path / "station"), "--ocpp-config", str(config),
        stdout=log, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        session = await csms.wait_session(timeout=20)
        assert session.authorization == basic("cp001", PASSWORD)
        await csms.wait_booted(connectors=2)
        asked = ["ConnectionTimeOut", "ChargeProfileMaxStackLevel", "CpoName", "SupportedFeatureProfiles"]
        answer = await csms.call(call.GetConfiguration(key=asked))
        values = {entry["key"]: entry.get("value") for entry in answer.configuration_key}
        profiles = set(values.pop("SupportedFeatureProfiles").split(","))
        assert values == {"ConnectionTimeOut": "120", "ChargeProfileMaxStackLevel": "1000", "CpoName": "Pionix"}
        assert profiles == set(str(LIBOCPP["SupportedFeatureProfiles"]).split(","))  # never lists Security
        ids = await csms.call(call.GetInstalledCertificateIds(certificate_type="CentralSystemRootCertificate"))
        assert ids.status == "NotFound"  # answered: the whitepaper is offered beside the six profiles
        assert process.returncode is None
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have exited (a refused configuration)
            process.kill()
        await process.wait()
        log.close()
        await csms.stop()
