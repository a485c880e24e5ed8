"""Security whitepaper rigs: a station offering the Security profile, wired to the built-in central system, and
the certificates signed firmware needs (a manufacturer root and signing certificates, RSA and EC, made here)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from chargebox.clock import VirtualClock
from chargebox.station.kernel.settings import Identity
from tests.firmware.conftest import (
    FirmwareCsms,
    FirmwareCsmsChargePoint,
    ScriptedTransfer,
    csms,
    ftp_server,
    http_files,
)
from tests.interop.conftest import CsmsChargePoint
from tests.wire import Wire

__all__ = ["csms", "ftp_server", "http_files"]  # the real servers of tests/firmware, shared

Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass
class SecRig:
    wire: Wire
    transfer: ScriptedTransfer

    @property
    def clock(self) -> VirtualClock:
        return self.wire.clock

    def statuses(self, action: str) -> list[str]:
        return [p["status"] for p in self.wire.calls(action)]

    async def call(self, action: str, payload: dict[str, Any]) -> list[Any]:
        return await self.wire.inject(json.dumps([2, f"c{len(self.wire.frames)}", action, payload]))


def secure_station(wired: Callable[..., Wire], tmp_path: Path, **settings: Any) -> SecRig:
    identity = Identity(vendor="chargebox", model="Test", firmware_version="1.0.0")
    settings.setdefault("signed_firmware_only", True)  # SignedUpdateFirmware is offered with the switch (SF-10)
    wire = wired(connectors=2, data_dir=tmp_path, identity=identity, **settings)
    transfer = ScriptedTransfer(wire.clock)
    for service in (wire.station.signed_firmware, wire.station.get_log, wire.station.diagnostics):
        service.transfer = transfer
    return SecRig(wire, transfer)


@pytest.fixture
async def sec(wired: Callable[..., Wire], tmp_path: Path) -> SecRig:
    rig = secure_station(wired, tmp_path)
    await rig.wire.connect()
    return rig


# -- certificates -----------------------------------------------------------------------------------


def new_key(kind: str) -> Key:
    return rsa.generate_private_key(65537, 2048) if kind == "rsa" else ec.generate_private_key(ec.SECP256R1())


def certificate(
    subject: str, key: Key, *, issuer: tuple[str, Key] | None = None, ca: bool = False, days: int = 365
) -> x509.Certificate:
    issuer_name, issuer_key = issuer or (subject, key)
    now = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=days * 40))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return builder.sign(issuer_key, hashes.SHA256())


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def key_pem(key: Key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass
class Manufacturer:
    """A manufacturer root and one signing certificate it issued, with their keys."""

    root_key: Key
    root: x509.Certificate
    signing_key: Key
    signing: x509.Certificate


def manufacturer(kind: str, name: str = "Maker") -> Manufacturer:
    root_key, signing_key = new_key(kind), new_key(kind)
    root = certificate(f"{name} Root", root_key, ca=True)
    signing = certificate(f"{name} Firmware Signing", signing_key, issuer=(f"{name} Root", root_key))
    return Manufacturer(root_key, root, signing_key, signing)


def install_root(wire: Wire, cert: x509.Certificate) -> None:
    """Installed through the store table, as InstallCertificate will (the certificate service's part)."""
    wire.station.store.certificates.add(
        "ManufacturerRootCertificate",
        pem(cert),
        hash_algorithm="SHA256",
        issuer_name_hash=cert.issuer.rfc4514_string(),
        issuer_key_hash="-",
        serial_number=format(cert.serial_number, "x"),
        now="2026-01-01T00:00:00+00:00",
    )


# -- an ocpp-library central system that knows the whitepaper -------------------------------------


class SecurityCsmsChargePoint(FirmwareCsmsChargePoint):
    """The ``ocpp`` library's central system, answering the whitepaper's charge point messages too."""

    @on(Action.security_event_notification)
    def on_security_event_notification(self, **_payload: Any) -> call_result.SecurityEventNotification:
        return call_result.SecurityEventNotification()

    @on(Action.log_status_notification)
    def on_log_status_notification(self, **_payload: Any) -> call_result.LogStatusNotification:
        return call_result.LogStatusNotification()

    @on(Action.signed_firmware_status_notification)
    def on_signed_firmware_status_notification(self, **_payload: Any) -> call_result.SignedFirmwareStatusNotification:
        return call_result.SignedFirmwareStatusNotification()


@dataclass
class SecurityCsms(FirmwareCsms):
    """The firmware rig's central system, answering the whitepaper's messages too."""

    charge_point_class: type[CsmsChargePoint] = SecurityCsmsChargePoint
