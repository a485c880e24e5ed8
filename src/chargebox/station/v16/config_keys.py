"""Every standard OCPP 1.6 configuration key (checklist 8.3), with its type, access and owner.

The catalogue is data: ``ConfigurationService`` (``v16/configuration.py``) serves it,
``tools/gen_config_docs.py`` turns it into ``docs/reference/config-keys.md``. ``owner`` says who
makes the key true: the stack (chargebox does it), the integrator (the hardware port must, e.g.
LightIntensity), or both. A key is served when its feature profile is one the station supports
(``served_keys``; K-4: a key that is present means the feature is there). Which feature answers for a
key is that feature's declaration (``FEATURE.keys``); the kernel's are ``KERNEL_KEYS``.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from dataclasses import replace
from typing import Final

from chargebox.protocol.messages import Measurand, Phase
from chargebox.station.kernel.config import Access, ConfigKey, KernelKeys, KeyType, Owner


class Profile(enum.StrEnum):
    """Feature profiles, spelled as SupportedFeatureProfiles lists them; SECURITY is the whitepaper's."""

    CORE = "Core"
    FIRMWARE_MANAGEMENT = "FirmwareManagement"
    LOCAL_AUTH_LIST_MANAGEMENT = "LocalAuthListManagement"
    RESERVATION = "Reservation"
    SMART_CHARGING = "SmartCharging"
    REMOTE_TRIGGER = "RemoteTrigger"
    SECURITY = "Security"


MEASURANDS: Final = frozenset(m.value for m in Measurand)
MEASURAND_ITEMS: Final = MEASURANDS | frozenset(f"{m}.{p.value}" for m in MEASURANDS for p in Phase)  # MV-6
PROFILES: Final = frozenset(p.value for p in Profile if p is not Profile.SECURITY)
PHASE_ROTATIONS: Final = frozenset({"NotApplicable", "Unknown", "RST", "RTS", "SRT", "STR", "TRS", "TSR"})
TRANSFER_PROTOCOLS: Final = frozenset({"FTP", "FTPS", "HTTP", "HTTPS"})
RATE_UNITS: Final = frozenset({"Current", "Power"})
# The configuration the kernel reads (the lane, the link), by its 1.6 names.
KERNEL_KEYS: Final = KernelKeys(
    message_attempts="TransactionMessageAttempts",
    message_retry_interval="TransactionMessageRetryInterval",
    security_profile="SecurityProfile",
    authorization_key="AuthorizationKey",
    ping_interval="WebSocketPingInterval",
    message_timeout="MessageTimeout",
)
# NumberOfConnectors and --connectors: every connector costs rows, timers and tasks from the start,
# so an absurd count must be refused, not allocated.
MAX_CONNECTORS: Final = 128

_I, _B, _C, _S = KeyType.INTEGER, KeyType.BOOLEAN, KeyType.CSL, KeyType.STRING
_R, _RW, _W = Access.READ_ONLY, Access.READ_WRITE, Access.WRITE_ONLY
_CORE, _FW, _LAL = Profile.CORE, Profile.FIRMWARE_MANAGEMENT, Profile.LOCAL_AUTH_LIST_MANAGEMENT
_RES, _SC, _SEC = Profile.RESERVATION, Profile.SMART_CHARGING, Profile.SECURITY


def _key(name: str, type_: KeyType, access: Access, default: str | None, profile: Profile, description: str,
         **extra: object) -> ConfigKey:  # fmt: skip
    if type_ is KeyType.INTEGER:
        extra.setdefault("minimum", 0)  # counts, lengths and seconds: a station template may not make one negative
    return ConfigKey(
        name=name, type=type_, access=access, default=default, profile=profile, description=description,
        **extra,  # type: ignore[arg-type]
    )  # fmt: skip


STANDARD_KEYS: Final[tuple[ConfigKey, ...]] = (
    # Core ([S] §9.1, errata additions)
    _key(
        "AllowOfflineTxForUnknownId",
        _B,
        _RW,
        "false",
        _CORE,
        "Start offline for an idTag that is in neither list nor cache (A-5).",
        required=False,
    ),
    _key(
        "AuthorizationCacheEnabled",
        _B,
        _RW,
        "true",
        _CORE,
        "Use the authorization cache (A-8).",
        required=False,
    ),
    _key(
        "AuthorizeRemoteTxRequests",
        _B,
        _RW,
        "false",
        _CORE,
        "Authorize the idTag of RemoteStartTransaction like a local one (C-13/C-14).",
    ),
    _key(
        "BlinkRepeat",
        _I,
        _RW,
        "3",
        _CORE,
        "Times to blink the lights at the end of a session.",
        owner=Owner.INTEGRATOR,
        required=False,
        minimum=0,
    ),
    _key(
        "ClockAlignedDataInterval",
        _I,
        _RW,
        "0",
        _CORE,
        "Seconds between clock-aligned meter samples after midnight; 0 = none (MV-2).",
        minimum=0,
    ),
    _key(
        "ConnectionTimeOut",
        _I,
        _RW,
        "30",
        _CORE,
        "Seconds to plug in after identification before giving up (X-2).",
        minimum=0,
    ),
    _key(
        "ConnectorPhaseRotation",
        _C,
        _RW,
        "0.RST",
        _CORE,
        "Phase rotation per connector as <connector>.<rotation>; read by the meter at start-up, so a change "
        "needs a reboot.",
        owner=Owner.INTEGRATOR,
        reboot_required=True,
        max_length_key="ConnectorPhaseRotationMaxLength",
    ),
    _key(
        "ConnectorPhaseRotationMaxLength",
        _I,
        _R,
        None,
        _CORE,
        "Items ConnectorPhaseRotation may hold (one per connector and the inlet).",
        required=False,
    ),
    _key(
        "GetConfigurationMaxKeys",
        _I,
        _R,
        "64",
        _CORE,
        "Keys answered per GetConfiguration; further requested keys are left out (K-3).",
        minimum=1,
    ),
    _key(
        "HeartbeatInterval",
        _I,
        _RW,
        "86400",
        _CORE,
        "Seconds without other traffic before a Heartbeat; set by BootNotification (B-4, B-7); 0 = none.",
        minimum=0,
    ),
    _key(
        "LightIntensity",
        _I,
        _RW,
        "100",
        _CORE,
        "Percent of maximum light intensity.",
        owner=Owner.INTEGRATOR,
        required=False,
        minimum=0,
        maximum=100,
    ),
    _key(
        "LocalAuthorizeOffline",
        _B,
        _RW,
        "true",
        _CORE,
        "Start offline for an idTag valid in list or cache (A-4).",
    ),
    _key(
        "LocalPreAuthorize",
        _B,
        _RW,
        "false",
        _CORE,
        "Start at once for an idTag valid in list or cache (A-2).",
    ),
    _key(
        "MaxEnergyOnInvalidId",
        _I,
        _RW,
        "0",
        _CORE,
        "Wh still delivered after the idTag turned out invalid (X-5).",
        required=False,
        minimum=0,
    ),
    _key(
        "MessageTimeout",
        _I,
        _RW,
        "30",
        _CORE,
        "Seconds before an unanswered CALL times out (T-22).",
        required=False,
        minimum=1,
    ),
    _key(
        "MeterValuesAlignedData",
        _C,
        _RW,
        "Energy.Active.Import.Register",
        _CORE,
        "Measurands of clock-aligned samples (MV-2).",
        items=MEASURAND_ITEMS,
        max_length_key="MeterValuesAlignedDataMaxLength",
    ),
    _key(
        "MeterValuesAlignedDataMaxLength",
        _I,
        _R,
        "8",
        _CORE,
        "Items MeterValuesAlignedData may hold.",
        required=False,
    ),
    _key(
        "MeterValuesSampledData",
        _C,
        _RW,
        "Energy.Active.Import.Register",
        _CORE,
        "Measurands of periodic samples (MV-1).",
        items=MEASURAND_ITEMS,
        max_length_key="MeterValuesSampledDataMaxLength",
    ),
    _key(
        "MeterValuesSampledDataMaxLength",
        _I,
        _R,
        "8",
        _CORE,
        "Items MeterValuesSampledData may hold.",
        required=False,
    ),
    _key(
        "MeterValueSampleInterval",
        _I,
        _RW,
        "60",
        _CORE,
        "Seconds between periodic samples in a transaction; 0 = none (MV-1).",
        minimum=0,
    ),
    _key(
        "MinimumStatusDuration",
        _I,
        _RW,
        "0",
        _CORE,
        "Seconds a status must last before it is reported (S-6).",
        required=False,
        minimum=0,
    ),
    _key(
        "NumberOfConnectors",
        _I,
        _R,
        "1",
        _CORE,
        "Connectors 1..N (G-5).",
        minimum=1,
        maximum=MAX_CONNECTORS,
    ),
    _key("ResetRetries", _I, _RW, "2", _CORE, "Retries of a failed reset (C-25).", minimum=0),
    _key(
        "StopTransactionMaxMeterValues",
        _I,
        _R,
        "100",
        _CORE,
        "Meter values kept for StopTransaction transactionData (MV-4).",
        required=False,
    ),
    _key(
        "StopTransactionOnEVSideDisconnect",
        _B,
        _RW,
        "true",
        _CORE,
        "Stop when the cable is pulled at the EV (X-9, X-10).",
        required=False,
    ),
    _key(
        "StopTransactionOnInvalidId",
        _B,
        _RW,
        "true",
        _CORE,
        "Stop a transaction whose idTag is answered invalid (X-5).",
    ),
    _key(
        "StopTxnAlignedData",
        _C,
        _RW,
        "",
        _CORE,
        "Clock-aligned measurands kept for StopTransaction (MV-3).",
        items=MEASURAND_ITEMS,
        max_length_key="StopTxnAlignedDataMaxLength",
    ),
    _key(
        "StopTxnAlignedDataMaxLength",
        _I,
        _R,
        "8",
        _CORE,
        "Items StopTxnAlignedData may hold.",
        required=False,
    ),
    _key(
        "StopTxnSampledData",
        _C,
        _RW,
        "",
        _CORE,
        "Sampled measurands kept for StopTransaction (MV-3).",
        items=MEASURAND_ITEMS,
        max_length_key="StopTxnSampledDataMaxLength",
    ),
    _key(
        "StopTxnSampledDataMaxLength",
        _I,
        _R,
        "8",
        _CORE,
        "Items StopTxnSampledData may hold.",
        required=False,
    ),
    _key(
        "SupportedFeatureProfiles",
        _C,
        _R,
        "Core",
        _CORE,
        "Feature profiles this station offers; actions of the others are answered NotSupported.",
        items=PROFILES,
        max_length_key="SupportedFeatureProfilesMaxLength",
    ),
    _key(
        "SupportedFeatureProfilesMaxLength",
        _I,
        _R,
        "6",
        _CORE,
        "Items SupportedFeatureProfiles may hold.",
        required=False,
    ),
    _key(
        "TransactionMessageAttempts",
        _I,
        _RW,
        "3",
        _CORE,
        "Attempts per transaction message answered by CALLERROR (Q-4).",
        minimum=1,
    ),
    _key(
        "TransactionMessageRetryInterval",
        _I,
        _RW,
        "60",
        _CORE,
        "Seconds times the attempt number between retries of a transaction message (Q-4).",
        minimum=0,
    ),
    _key(
        "UnlockConnectorOnEVSideDisconnect",
        _B,
        _RW,
        "true",
        _CORE,
        "Unlock the station-side connector when the EV side is pulled (X-9); read-only false with a fixed "
        "cable (X-11).",
    ),
    _key(
        "WebSocketPingInterval",
        _I,
        _RW,
        "60",
        _CORE,
        "Seconds between WebSocket pings; 0 = none; negative is Rejected (T-30).",
        required=False,
        minimum=0,
    ),
    _key(
        "AuthorizationKey",
        _S,
        _W,
        None,
        _CORE,
        "Basic-auth password (security profiles 1 and 2); write-only, never read back or logged (T-41).",
        required=False,
        min_chars=16,
        max_chars=40,
    ),
    _key(
        "SecurityProfile",
        _I,
        _RW,
        "0",
        _CORE,
        "0 none, 1 Basic auth, 2 TLS + Basic auth, 3 mutual TLS; only raised, with its credentials in place (T-43).",
        required=False,
        minimum=0,
        maximum=3,
    ),
    # Local Auth List Management ([S] §9.2)
    _key("LocalAuthListEnabled", _B, _RW, "true", _LAL, "Use the local authorization list."),
    _key("LocalAuthListMaxLength", _I, _R, "1000", _LAL, "Entries the local list may hold."),
    _key("SendLocalListMaxLength", _I, _R, "250", _LAL, "Entries one SendLocalList may carry."),
    # Reservation ([S] §9.3)
    _key(
        "ReserveConnectorZeroSupported",
        _B,
        _R,
        "true",
        _RES,
        "Reservations of connector 0 are accepted (R-4).",
        required=False,
    ),
    # Smart Charging ([S] §9.4)
    _key("ChargeProfileMaxStackLevel", _I, _R, "8", _SC, "Highest stackLevel (SC-3)."),
    _key(
        "ChargingScheduleAllowedChargingRateUnit",
        _C,
        _R,
        "Current,Power",
        _SC,
        "Units a schedule may use (SC-3).",
        items=RATE_UNITS,
    ),
    _key("ChargingScheduleMaxPeriods", _I, _R, "24", _SC, "Periods per schedule (SC-3)."),
    _key(
        "ConnectorSwitch3to1PhaseSupported",
        _B,
        _R,
        "false",
        _SC,
        "Phase switching during a transaction (SC-13).",
        owner=Owner.INTEGRATOR,
        required=False,
    ),
    _key("MaxChargingProfilesInstalled", _I, _R, "16", _SC, "Profiles installed at most."),
    # Firmware Management ([E 3.88])
    _key(
        "SupportedFileTransferProtocols",
        _C,
        _R,
        "FTP,FTPS,HTTP,HTTPS",
        _FW,
        "URL schemes for firmware and diagnostics (F-5).",
        required=False,
        items=TRANSFER_PROTOCOLS,
    ),
    # Security whitepaper certificates ([WP] §7)
    _key(
        "AdditionalRootCertificateCheck",
        _B,
        _R,
        "false",
        _SEC,
        "One CentralSystemRootCertificate, replaced only by one it signed (CT-6).",
        required=False,
    ),
    _key(
        "CertificateSignedMaxChainSize",
        _I,
        _R,
        "10000",
        _SEC,
        "Bytes a CertificateSigned chain may have.",
        required=False,
    ),
    _key(
        "CertificateStoreMaxLength",
        _I,
        _R,
        "10",
        _SEC,
        "Root certificates stored at most.",
        required=False,
    ),
    _key(
        "CertSigningRepeatTimes",
        _I,
        _RW,
        "3",
        _SEC,
        "SignCertificate is sent again this many times while no CertificateSigned comes (A02).",
        required=False,
    ),
    _key(
        "CertSigningWaitMinimum",
        _I,
        _RW,
        "60",
        _SEC,
        "Seconds to wait for CertificateSigned before asking again, doubled each time (A02).",
        required=False,
        minimum=1,
    ),
    _key(
        "CpoName",
        _S,
        _RW,
        None,
        _SEC,
        "O= of the certificate signing request (CT-1).",
        required=False,
    ),
)


@functools.cache
def served_keys(profiles: frozenset[Profile], fixed_cable: bool) -> Mapping[str, ConfigKey]:
    """The keys served for these profiles, by lower-case name (G-1); shared, never mutated."""
    keys = {key.name.lower(): key for key in STANDARD_KEYS if key.profile in profiles}
    if fixed_cable and (unlock := keys.get("unlockconnectoronevsidedisconnect")) is not None:
        # nothing to unlock, so the key reads false and cannot change
        keys[unlock.name.lower()] = replace(unlock, access=Access.READ_ONLY, default="false")
    return keys
