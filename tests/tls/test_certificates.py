"""The certificate messages (checklist 4.5, CT-1..CT-6; TC_074..077_CS), good and bad input, on the
in-memory wire with the virtual clock. Certificates are made here with ``cryptography``."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chargebox.clock import VirtualClock
from chargebox.errors import ConfigError
from chargebox.station.kernel.tls import TlsSettings
from chargebox.store import Store
from tests.test_cli import assert_one_line_error, run_cli
from tests.wire import Wire, make_station

Build = Callable[..., Any]
START = datetime(2026, 1, 1, tzinfo=UTC)  # the virtual clock's wall time


class Ca:
    """A CA key and certificate, able to sign CAs, CSRs and leaves."""

    def __init__(self, name: str, *, issuer: Ca | None = None, expired: bool = False, ca: bool = True) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        end = START - timedelta(days=1) if expired else START + timedelta(days=3650)
        signer = issuer or self
        builder = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(signer.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(START - timedelta(days=365))
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        self.cert = builder.sign(signer.key, hashes.SHA256())

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def sign_csr(self, csr_pem: str, *, ca: bool | None = None) -> str:
        """A leaf for the CSR's key; ``ca`` set: with basicConstraints saying so."""
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        builder = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.name)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(START - timedelta(days=1))
            .not_valid_after(START + timedelta(days=365))
        )
        if ca is not None:
            builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def call(action: str, payload: dict[str, Any]) -> str:
    return json.dumps([2, f"m-{action}", action, payload])


async def answer(wire: Wire, action: str, payload: dict[str, Any]) -> Any:
    frame = await wire.inject(call(action, payload))
    assert frame[0] == 3, frame
    return frame[2]


async def install(wire: Wire, pem: str, use: str = "CentralSystemRootCertificate") -> str:
    return str((await answer(wire, "InstallCertificate", {"certificateType": use, "certificate": pem}))["status"])


def hash_data(cert: x509.Certificate, issuer: x509.Certificate) -> dict[str, str]:
    spki = issuer.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_bits = _bit_string(spki)
    return {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": hashlib.sha256(cert.issuer.public_bytes()).hexdigest(),
        "issuerKeyHash": hashlib.sha256(key_bits).hexdigest(),
        "serialNumber": format(cert.serial_number, "x"),
    }


def _bit_string(spki: bytes) -> bytes:
    """The subjectPublicKey of a P-256 SubjectPublicKeyInfo: the last 65 bytes (0x04 || X || Y)."""
    return spki[-65:]


async def test_CT_6_install_a_root_then_CT_4_list_it(station: Build) -> None:
    wire, _ = await station()
    root = Ca("CSMS root")
    ids = await answer(wire, "GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"})
    assert ids == {"status": "NotFound"}
    assert await install(wire, root.pem) == "Accepted"
    ids = await answer(wire, "GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"})
    assert ids == {"status": "Accepted", "certificateHashData": [hash_data(root.cert, root.cert)]}
    other = await answer(wire, "GetInstalledCertificateIds", {"certificateType": "ManufacturerRootCertificate"})
    assert other == {"status": "NotFound"}


@pytest.mark.parametrize(
    "make",
    [
        lambda: "not a certificate",
        lambda: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        lambda: Ca("leaf", ca=False).pem,
        lambda: Ca("old", expired=True).pem,
        lambda: Ca("a").pem + Ca("b").pem,
        lambda: Ca("orphan", issuer=Ca("unknown")).pem,
    ],
    ids=["text", "bad-der", "not-a-ca", "expired", "two", "unknown-issuer"],
)
async def test_CT_6_invalid_certificates_are_rejected_and_change_nothing(
    station: Build, make: Callable[[], str]
) -> None:
    wire, _ = await station()
    assert await install(wire, make()) == "Rejected"
    assert wire.station.store.certificates.count() == 0


async def test_install_root_at_start_is_a_central_system_root_the_central_system_manages(
    station: Build, tmp_path: Path
) -> None:
    root, replacement = Ca("factory CSMS root"), Ca("the CPO's new root")
    (tmp_path / "root.pem").write_text(root.pem)
    wire, sim = await station(install_root=tmp_path / "root.pem")
    ids = await answer(wire, "GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"})
    assert ids == {"status": "Accepted", "certificateHashData": [hash_data(root.cert, root.cert)]}  # CT-4
    signed = root.sign_csr(await _signing_request(wire, sim))
    assert await answer(wire, "CertificateSigned", {"certificateChain": signed}) == {"status": "Accepted"}  # CT-2
    assert await install(wire, replacement.pem) == "Accepted"
    deleted = await answer(wire, "DeleteCertificate", {"certificateHashData": hash_data(root.cert, root.cert)})
    assert deleted == {"status": "Accepted"}  # CT-5: the central system manages it like any root
    again = make_station(wire.clock, store=wire.station.store, install_root=tmp_path / "root.pem")
    assert again.store.certificates.pems("CentralSystemRootCertificate") == [replacement.pem]  # not put back


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read --install-root .*root.pem"),
        ("not a certificate", "root.pem: not a PEM file"),
        (Ca("leaf", ca=False).pem, "root.pem: not a self-signed CA certificate"),
        (Ca("intermediate", issuer=Ca("root")).pem, "root.pem: not a self-signed CA certificate"),
        (Ca("a").pem + Ca("b").pem, "root.pem: 2 certificates where one was expected"),
    ],
    ids=["missing", "text", "not-a-ca", "not-self-signed", "two"],
)
def test_install_root_that_is_not_one_root_certificate_is_a_config_error(
    clock: VirtualClock, tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "root.pem"
    if content is not None:
        path.write_text(content)
    store = Store.open(None)
    with pytest.raises(ConfigError, match=message):
        make_station(clock, store=store, install_root=path)
    assert store.certificates.count() == 0


async def test_install_root_on_the_command_line_that_is_no_root_is_one_line_and_exit_2(tmp_path: Path) -> None:
    leaf = tmp_path / "leaf.pem"
    leaf.write_text(Ca("leaf", ca=False).pem)
    code, _out, err = await run_cli(
        "simulate", "--csms", "ws://127.0.0.1:1", "--id", "X", "--install-root", str(leaf), "--signed-firmware-only"
    )
    assert_one_line_error(code, err, f"--install-root {leaf}: not a self-signed CA certificate")


async def test_CT_6_a_full_store_rejects(station: Build) -> None:
    wire, _ = await station(ocpp_config={"CertificateStoreMaxLength": 2})
    assert await install(wire, Ca("1").pem) == "Accepted"
    assert await install(wire, Ca("2").pem, "ManufacturerRootCertificate") == "Accepted"
    assert await install(wire, Ca("3").pem) == "Rejected"
    assert wire.station.store.certificates.count() == 2


async def test_CT_6_TC_075_additional_root_certificate_check(station: Build) -> None:
    wire, _ = await station(ocpp_config={"AdditionalRootCertificateCheck": True})
    old = Ca("old root")
    assert await install(wire, old.pem) == "Accepted"
    assert await install(wire, Ca("stranger").pem) == "Rejected"  # not signed by the current root
    new = Ca("new root", issuer=old)
    assert await install(wire, new.pem) == "Accepted"
    newer = Ca("newer root", issuer=new)
    assert await install(wire, newer.pem) == "Accepted"
    # the new root and its predecessor as fallback, no more (M05.FR.09)
    assert [r.pem for r in wire.station.store.certificates.all("CentralSystemRootCertificate")] == [new.pem, newer.pem]


async def test_CT_5_delete_a_certificate(station: Build) -> None:
    wire, _ = await station()
    root, maker = Ca("CSMS root"), Ca("maker")
    await install(wire, root.pem)
    await install(wire, maker.pem, "ManufacturerRootCertificate")
    missing = {**hash_data(root.cert, root.cert), "serialNumber": "1"}
    assert await answer(wire, "DeleteCertificate", {"certificateHashData": missing}) == {"status": "NotFound"}
    found = {"certificateHashData": hash_data(maker.cert, maker.cert)}
    assert await answer(wire, "DeleteCertificate", found) == {"status": "Accepted"}
    assert await answer(wire, "DeleteCertificate", found) == {"status": "NotFound"}
    assert wire.station.store.certificates.pems("CentralSystemRootCertificate") == [root.pem]


async def test_CT_5_a_delete_by_sha384_hash_data_matches_too(station: Build) -> None:
    wire, _ = await station()
    root = Ca("CSMS root")
    await install(wire, root.pem)
    spki = root.cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    data = {
        "hashAlgorithm": "SHA384",
        "issuerNameHash": hashlib.sha384(root.cert.issuer.public_bytes()).hexdigest(),
        "issuerKeyHash": hashlib.sha384(_bit_string(spki)).hexdigest(),
        "serialNumber": format(root.cert.serial_number, "x"),
    }
    assert await answer(wire, "DeleteCertificate", {"certificateHashData": data}) == {"status": "Accepted"}


async def test_CT_5_the_last_root_in_use_is_not_deleted(station: Build, tmp_path: Any) -> None:
    root = Ca("CSMS root")
    ca_file = tmp_path / "root.pem"
    ca_file.write_text(root.pem)
    wire, _ = await station(password="0123456789abcdef0123", tls=TlsSettings(ca_file=ca_file, security_profile=2))
    await install(wire, root.pem)
    data = {"certificateHashData": hash_data(root.cert, root.cert)}
    assert await answer(wire, "DeleteCertificate", data) == {"status": "Failed"}
    assert wire.station.store.certificates.count() == 1


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"certificateType": "Nonsense", "certificate": "x"},
        {"certificateType": "CentralSystemRootCertificate", "certificate": "x" * 5501},
    ],
)
async def test_malformed_install_is_a_call_error(station: Build, payload: dict[str, Any]) -> None:
    wire, _ = await station()
    frame = await wire.inject(call("InstallCertificate", payload))
    assert frame[0] == 4
    assert wire.station.store.certificates.count() == 0


async def _signing_request(wire: Wire, sim: Any) -> str:
    """CpoName set, sign_certificate() called, the CSR the central system received."""
    assert (await answer(wire, "ChangeConfiguration", {"key": "CpoName", "value": "Example CPO"}))["status"] == (
        "Accepted"
    )
    wire.station.certificates.sign_certificate()
    await wire.until(lambda: len(wire.calls("SignCertificate")) == 1)
    return str(wire.calls("SignCertificate")[0]["csr"])


async def test_CT_1_CT_2_sign_and_accept_a_certificate(station: Build) -> None:
    wire, sim = await station()
    root = Ca("CSMS root")
    await install(wire, root.pem)
    csr_pem = await _signing_request(wire, sim)
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP-1"
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Example CPO"
    assert "PRIVATE KEY" not in json.dumps(wire.frames)  # CT-1: the key never leaves the station
    signed = root.sign_csr(csr_pem)
    assert await answer(wire, "CertificateSigned", {"certificateChain": signed}) == {"status": "Accepted"}
    credentials = wire.station.store.private_keys.charge_point_credentials()
    assert credentials is not None and credentials[0] == signed
    ids = await answer(wire, "GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"})
    assert len(ids["certificateHashData"]) == 1  # the ChargePointCertificate is not a root
    # CT-5 / TC_076_CS: the charge point's own certificate cannot be deleted
    cp_data = {"certificateHashData": hash_data(x509.load_pem_x509_certificate(signed.encode()), root.cert)}
    assert await answer(wire, "DeleteCertificate", cp_data) == {"status": "Failed"}


@pytest.mark.parametrize("flaw", ["no-request", "other-key", "foreign-ca", "too-long", "garbage", "leaf-is-a-ca"])
async def test_CT_2_TC_077_an_invalid_chain_is_rejected(
    station: Build, flaw: str, caplog: pytest.LogCaptureFixture
) -> None:
    wire, sim = await station(ocpp_config={"CertificateSignedMaxChainSize": 1200})
    root = Ca("CSMS root")
    await install(wire, root.pem)
    if flaw != "no-request":
        csr_pem = await _signing_request(wire, sim)
    else:
        csr_pem = _csr_for(ec.generate_private_key(ec.SECP256R1()))
    chain = {
        "no-request": lambda: root.sign_csr(csr_pem),
        "other-key": lambda: root.sign_csr(_csr_for(ec.generate_private_key(ec.SECP256R1()))),
        "foreign-ca": lambda: Ca("foreign").sign_csr(csr_pem),
        "too-long": lambda: root.sign_csr(csr_pem) + root.pem + root.pem,
        "garbage": lambda: "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n",
        "leaf-is-a-ca": lambda: root.sign_csr(csr_pem, ca=True),  # issue 16, item 18
    }[flaw]()
    assert await answer(wire, "CertificateSigned", {"certificateChain": chain}) == {"status": "Rejected"}
    assert wire.station.store.private_keys.charge_point_credentials() is None
    assert "security event InvalidChargePointCertificate" in caplog.text


async def test_CT_1_the_signing_request_is_repeated_while_no_certificate_comes(station: Build) -> None:
    wire, sim = await station(ocpp_config={"CertSigningWaitMinimum": 10, "CertSigningRepeatTimes": 2})
    root = Ca("CSMS root")
    await install(wire, root.pem)
    csr_pem = await _signing_request(wire, sim)
    await wire.clock.advance(9)
    assert len(wire.calls("SignCertificate")) == 1
    await wire.clock.advance(1)
    await wire.until(lambda: len(wire.calls("SignCertificate")) == 2)  # after 10 s
    await wire.clock.advance(20)
    await wire.until(lambda: len(wire.calls("SignCertificate")) == 3)  # after 20 s more (doubled)
    await wire.clock.advance(1000)
    assert len(wire.calls("SignCertificate")) == 3  # CertSigningRepeatTimes = 2 repeats
    assert {c["csr"] for c in wire.calls("SignCertificate")} == {csr_pem}


async def test_CT_1_a_certificate_signed_stops_the_repeats(station: Build) -> None:
    wire, sim = await station(ocpp_config={"CertSigningWaitMinimum": 10})
    root = Ca("CSMS root")
    await install(wire, root.pem)
    csr_pem = await _signing_request(wire, sim)
    assert await answer(wire, "CertificateSigned", {"certificateChain": root.sign_csr(csr_pem)}) == {
        "status": "Accepted"
    }
    await wire.clock.advance(1000)
    assert len(wire.calls("SignCertificate")) == 1


async def test_CT_1_no_signing_request_without_a_cpo_name(station: Build) -> None:
    wire, _ = await station()
    wire.station.certificates.sign_certificate()
    await wire.clock.advance(100)
    assert wire.calls("SignCertificate") == []
    assert wire.station.store.private_keys.get("pending") is None


def _csr_for(key: ec.EllipticCurvePrivateKey) -> str:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CP-1")]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


async def test_T_41_a_new_authorization_key_is_a_security_event_without_the_key(
    station: Build, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "chargebox")  # the station's own change: logged at INFO
    wire, _ = await station(password="0123456789abcdef0123")
    new_key = "fedcba9876543210fedcba98"
    result = await answer(wire, "ChangeConfiguration", {"key": "AuthorizationKey", "value": new_key})
    assert result == {"status": "Accepted"}
    assert "security event ReconfigurationOfSecurityParameters: AuthorizationKey changed" in caplog.text
    assert new_key not in caplog.text


async def test_CT_3_a_certificate_near_its_end_is_renewed_after_boot(station: Build) -> None:
    wire, sim = await station()
    root = Ca("CSMS root")
    await install(wire, root.pem)
    csr_pem = await _signing_request(wire, sim)
    assert await answer(wire, "CertificateSigned", {"certificateChain": root.sign_csr(csr_pem)}) == {
        "status": "Accepted"
    }
    await wire.station.certificates.resume()  # valid for a year: nothing to do
    await wire.clock.advance(1)
    assert len(wire.calls("SignCertificate")) == 1
    wire.clock.set_time(START + timedelta(days=340))  # 25 days before its end
    await wire.station.certificates.resume()
    await wire.until(lambda: len(wire.calls("SignCertificate")) == 2)
    assert wire.calls("SignCertificate")[1]["csr"] != csr_pem  # a new key
