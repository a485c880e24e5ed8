"""The built-in central system over wss:// with a CA of its own (csms/ca.py, csms/tls.py, csms/certificates.py):
real chargebox stations connect with security profiles 2 and 3, a client certificate is checked against the CA and
the charge point id, and SignCertificate → CertificateSigned runs end to end until the station reconnects on profile
3 with the certificate the central system's CA signed. Real TLS on loopback, real clocks (polls with a timeout)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from chargebox.csms import control as csms_control
from chargebox.csms.ca import CertificateAuthority, CsrRefused, write_pair
from chargebox.csms.server import CentralSystem, CsmsPolicy
from chargebox.csms.tls import server_context
from chargebox.errors import ConfigError
from chargebox.signing import check_signing_certificate, sign_file, verify_file
from chargebox.station.kernel.tls import TlsSettings
from chargebox.transport import SUBPROTOCOL
from chargebox.web import serve
from tests.interop.conftest import StationRunner
from tests.loopback import until
from tests.test_cli import assert_one_line_error, run_cli
from tests.tls.conftest import runner as stations

__all__ = ["stations"]  # the fixture (tests/tls's runner), imported

PASSWORD = "0123456789abcdef0123"
SERVER_NAME = "csms.test"
CPO = "Example CPO"
NOW = datetime.now(UTC)


@dataclass
class Pki:
    ca: CertificateAuthority
    ca_file: Path
    directory: Path

    def charge_point(self, charge_point_id: str, *, ca: CertificateAuthority | None = None) -> tuple[Path, Path]:
        issued = (ca or self.ca).issue_charge_point(charge_point_id, CPO, now=NOW)
        return write_pair(self.directory, f"{charge_point_id}-{id(ca)}", issued.certificate, issued.key)


@dataclass
class TlsCsms:
    system: CentralSystem
    port: int
    base: str
    http: aiohttp.ClientSession

    async def call(self, station: str, action: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"action": action} if payload is None else {"action": action, "payload": payload}
        async with self.http.post(f"{self.base}/api/stations/{station}/call", json=body) as response:
            assert response.status == 200, await response.text()
            answer: dict[str, Any] = await response.json()
            return answer

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(self.base + path) as response:
            return response.status, await response.json()


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = CertificateAuthority.create(CPO, now=NOW)
    ca_file, _key = ca.write(tmp_path)
    return Pki(ca, ca_file, tmp_path)


@pytest.fixture
async def csms(pki: Pki) -> AsyncIterator[TlsCsms]:
    server = pki.ca.issue_server([SERVER_NAME, "127.0.0.1"], now=NOW)
    cert, key = write_pair(pki.directory, "server", server.certificate, server.key)
    system = CentralSystem(CsmsPolicy(password=PASSWORD), authority=pki.ca)
    port = await system.start(tls=server_context(cert, key, client_ca=pki.ca_file))
    runner, control_port = await serve(csms_control.make_app(system), "127.0.0.1", 0, "--control")
    async with aiohttp.ClientSession() as http:
        yield TlsCsms(system, port, f"http://127.0.0.1:{control_port}", http)
    await runner.cleanup()
    await system.stop()


async def test_TC_086_a_station_on_profile_2_connects_over_wss_with_basic_auth(
    csms: TlsCsms, pki: Pki, stations: StationRunner
) -> None:
    stations(csms_url=f"wss://127.0.0.1:{csms.port}", password=PASSWORD,
             tls=TlsSettings(ca_file=pki.ca_file, server_name=SERVER_NAME, security_profile=2))  # fmt: skip
    await until(lambda: "CP-1" in csms.system.sessions)
    assert csms.system.sessions["CP-1"].security_profile == 2
    _status, listed = await csms.get("/api/stations")
    await until(lambda: csms.system.sessions["CP-1"].boots == 1)
    assert [(s["id"], s["securityProfile"]) for s in listed["stations"]] == [("CP-1", 2)]


async def test_TC_087_a_station_on_profile_3_needs_no_password_with_a_certificate_of_the_ca(
    csms: TlsCsms, pki: Pki, stations: StationRunner
) -> None:
    cert, key = pki.charge_point("CP-1")
    stations(csms_url=f"wss://127.0.0.1:{csms.port}",
             tls=TlsSettings(ca_file=pki.ca_file, server_name=SERVER_NAME, cert_file=cert, key_file=key,
                             security_profile=3))  # fmt: skip
    await until(lambda: "CP-1" in csms.system.sessions and csms.system.sessions["CP-1"].boots == 1)
    assert csms.system.sessions["CP-1"].security_profile == 3


async def test_TC_087_a_client_certificate_of_another_ca_fails_the_handshake(
    csms: TlsCsms, pki: Pki, stations: StationRunner
) -> None:
    cert, key = pki.charge_point("CP-1", ca=CertificateAuthority.create("Someone else", now=NOW))
    station = stations(csms_url=f"wss://127.0.0.1:{csms.port}",
                       tls=TlsSettings(ca_file=pki.ca_file, server_name=SERVER_NAME, cert_file=cert, key_file=key,
                                       security_profile=3))  # fmt: skip
    await until(lambda: station.transport.attempts >= 2)
    assert csms.system.sessions == {}


async def test_TC_087_a_client_certificate_for_another_charge_point_is_401(
    csms: TlsCsms, pki: Pki, stations: StationRunner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "chargebox")
    cert, key = pki.charge_point("CP-2")  # a certificate of the CA, for another station
    station = stations(csms_url=f"wss://127.0.0.1:{csms.port}",
                       tls=TlsSettings(ca_file=pki.ca_file, server_name=SERVER_NAME, cert_file=cert, key_file=key,
                                       security_profile=3))  # fmt: skip
    await until(lambda: station.transport.attempts >= 2)
    assert csms.system.sessions == {}
    assert "CP-1: the client certificate is for 'CP-2'" in caplog.text
    assert "security event FailedToAuthenticateAtCentralSystem" in caplog.text


async def test_A02_the_csms_signs_the_csr_and_the_station_moves_to_profile_3_with_it(
    csms: TlsCsms, pki: Pki, stations: StationRunner
) -> None:
    """Whitepaper A02 end to end: the central system's CA as the station's CentralSystemRootCertificate
    (InstallCertificate, its template), CpoName, ExtendedTriggerMessage(SignChargePointCertificate) → SignCertificate
    Accepted, then CertificateSigned with a certificate of the CA, Accepted (CT-2); SecurityProfile 3 then connects
    with it (T-43)."""
    station = stations(csms_url=f"wss://127.0.0.1:{csms.port}", password=PASSWORD,
                       tls=TlsSettings(ca_file=pki.ca_file, server_name=SERVER_NAME, security_profile=2))  # fmt: skip
    await until(lambda: "CP-1" in csms.system.sessions and csms.system.sessions["CP-1"].boots == 1)
    assert await csms.call("CP-1", "InstallCertificate") == {"result": "CALLRESULT", "payload": {"status": "Accepted"}}
    await csms.call("CP-1", "ChangeConfiguration", {"key": "CpoName", "value": CPO})
    answer = await csms.call("CP-1", "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"})
    assert answer["payload"] == {"status": "Accepted"}

    async def signed() -> dict[str, Any]:
        while (found := await csms.get("/api/stations/CP-1/certificate"))[0] == 404:
            await asyncio.sleep(0.02)
        return found[1]  # type: ignore[no-any-return]

    certificate = await asyncio.wait_for(signed(), 10)
    assert certificate["status"] == "Accepted"
    leaf = x509.load_pem_x509_certificate(certificate["certificate"].encode())
    leaf.verify_directly_issued_by(pki.ca.certificate)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP-1"
    assert format(leaf.serial_number, "x") == certificate["serialNumber"]
    stored = station.store.private_keys.charge_point_credentials()
    assert stored is not None and x509.load_pem_x509_certificate(stored[0].encode()) == leaf

    _status, detail = await csms.get("/api/stations/CP-1")
    frames = [json.loads(f["frame"]) for f in detail["frames"]]
    sign = next(f for f in frames if f[0] == 2 and f[2] == "SignCertificate")
    after = frames[frames.index(sign) :]
    assert [(f[0], f[2] if f[0] == 2 else f[2].get("status")) for f in after[:4]] == [
        (2, "SignCertificate"),
        (3, "Accepted"),
        (2, "CertificateSigned"),
        (3, "Accepted"),
    ]  # fmt: skip  (the answer is out before the CertificateSigned: T-23)

    answer = await csms.call("CP-1", "ChangeConfiguration", {"key": "SecurityProfile", "value": "3"})
    assert answer["payload"] == {"status": "Accepted"}
    await until(lambda: "CP-1" in csms.system.sessions and csms.system.sessions["CP-1"].security_profile == 3)
    _status, listed = await csms.get("/api/stations")
    assert listed["stations"][0]["certificate"] == {
        "serialNumber": certificate["serialNumber"], "notAfter": certificate["notAfter"], "status": "Accepted",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("csr", "reason"),
    [
        ("CP-OTHER", "its CN must be the charge point id"),
        ("no organization", "its O must be the CPO's name"),
        ("weak key", "its key is too weak"),
        ("not a CSR", "not a PEM certificate signing request"),
    ],
)
async def test_A02_a_csr_the_ca_refuses_is_rejected_and_nothing_is_signed(
    csms: TlsCsms, pki: Pki, csr: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A station asking for another's certificate (or a malformed request) gets SignCertificate Rejected, and no
    CertificateSigned follows. A bare TLS peer sends the CALL, so the CSR can be anything."""
    caplog.set_level(logging.WARNING, "chargebox.csms")
    pem = {
        "CP-OTHER": lambda: _csr("CP-OTHER", CPO),
        "no organization": lambda: _csr("CP-1", None),
        "weak key": lambda: _csr("CP-1", CPO, rsa.generate_private_key(public_exponent=65537, key_size=1024)),
        "not a CSR": lambda: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
    }[csr]()
    cert, key = pki.charge_point("CP-1")
    context = _client_context(pki, cert, key)
    async with websockets.connect(f"wss://127.0.0.1:{csms.port}/CP-1", subprotocols=[SUBPROTOCOL],
                                  ssl=context, server_hostname=SERVER_NAME) as ws:  # fmt: skip
        await ws.send(json.dumps([2, "s1", "SignCertificate", {"csr": pem}]))
        assert json.loads(await ws.recv()) == [3, "s1", {"status": "Rejected"}]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.3)  # no CertificateSigned
    assert reason in caplog.text
    assert csms.system.certificates.signed == {}


async def test_without_a_ca_sign_certificate_is_accepted_and_left_to_the_operator() -> None:
    system = CentralSystem()
    sent: list[bytes] = []

    async def send(data: bytes) -> None:
        sent.append(data)

    rpc = system.open_session("CP-1", send)
    await rpc.receive(json.dumps([2, "s1", "SignCertificate", {"csr": _csr("CP-1", CPO)}]))
    await asyncio.sleep(0)
    assert [json.loads(frame) for frame in sent] == [[3, "s1", {"status": "Accepted"}]]


def test_the_ca_signs_only_a_csr_whose_signature_holds() -> None:
    ca = CertificateAuthority.create(CPO, now=NOW)
    der = bytearray(x509.load_pem_x509_csr(_csr("CP-1", CPO).encode()).public_bytes(serialization.Encoding.DER))
    der[-1] ^= 1  # the signature's last byte: still DER, no longer the key's signature
    forged = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM).decode()
    with pytest.raises(CsrRefused, match="signature"):
        ca.sign(forged, charge_point_id="CP-1", now=NOW)
    issued = ca.sign(_csr("CP-1", CPO), charge_point_id="CP-1", now=NOW)
    assert issued.key is None
    x509.load_pem_x509_certificate(issued.certificate.encode()).verify_directly_issued_by(ca.certificate)


def test_a_ca_that_does_not_load_names_its_option(tmp_path: Path) -> None:
    one = CertificateAuthority.create(CPO, now=NOW)
    two = CertificateAuthority.create(CPO, now=NOW)
    cert_one, _key_one = one.write(tmp_path / "one")
    _cert_two, key_two = two.write(tmp_path / "two")
    with pytest.raises(ConfigError, match=r"--ca-key .*not the key of --ca-cert"):
        CertificateAuthority.load(cert_one, key_two)
    leaf = one.issue_server(["csms.test"], now=NOW)
    leaf_cert, leaf_key = write_pair(tmp_path, "leaf", leaf.certificate, leaf.key)
    with pytest.raises(ConfigError, match=r"--ca-cert .*not a CA certificate"):
        CertificateAuthority.load(leaf_cert, leaf_key)
    with pytest.raises(ConfigError, match="--ca-cert"):
        CertificateAuthority.load(tmp_path / "missing.pem", leaf_key)


# -- the command line: chargebox ca, chargebox csms --cert --key --ca-cert --ca-key --------------------------------


async def test_chargebox_ca_init_and_issue_write_a_pki_that_openssl_would_accept(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    code, out, err = await run_cli("ca", "init", str(pki), "--organization", CPO)
    assert code == 0, err
    assert out.split() == [str(pki / "ca.pem"), str(pki / "ca.key")]
    assert (pki / "ca.key").stat().st_mode & 0o777 == 0o600
    code, out, err = await run_cli("ca", "issue", str(pki), "--server", "csms.example", "--server", "127.0.0.1")
    assert code == 0, err
    server = x509.load_pem_x509_certificate((pki / "csms.example.pem").read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["csms.example"]
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    code, out, err = await run_cli("ca", "issue", str(pki), "--charge-point", "CP-2", "--organization", CPO)
    assert code == 0, err
    ca = x509.load_pem_x509_certificate((pki / "ca.pem").read_bytes())
    for name in ("csms.example", "CP-2"):
        x509.load_pem_x509_certificate((pki / f"{name}.pem").read_bytes()).verify_directly_issued_by(ca)
        assert (pki / f"{name}.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["ca", "init", "{pki}"], "already there"),  # never over an existing CA
        (["ca", "issue", "{tmp}/nowhere", "--server", "x"], "no CA here"),
        (["ca", "issue", "{pki}", "--charge-point", "CP:1"], "--charge-point"),
        (["ca", "issue", "{pki}", "--server", "a b"], "give --name NAME"),
        (["ca", "issue", "{pki}"], "one of the arguments --server --charge-point is required"),
        (["csms", "--cert", "{pki}/ca.pem"], "--cert and --key go together"),
        (["csms", "--ca-key", "{pki}/ca.key"], "--ca-key needs --ca-cert"),
        (["csms", "--ca-cert", "{pki}/ca.key", "--ca-key", "{pki}/ca.key"], "--ca-cert"),
        (["csms", "--cert", "{pki}/ca.key", "--key", "{pki}/ca.key"], "not a certificate and its key"),
    ],
)
async def test_a_pki_mistake_is_one_line_and_exit_2(tmp_path: Path, args: list[str], fragment: str) -> None:
    CertificateAuthority.create(CPO, now=NOW).write(tmp_path / "pki")
    code, _out, err = await run_cli(*(a.format(pki=tmp_path / "pki", tmp=tmp_path) for a in args))
    assert_one_line_error(code, err, fragment)


def _csr(common_name: str, organization: str | None, key: Any = None) -> str:
    key = key or ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization is not None:
        names.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names)).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def _client_context(pki: Pki, cert: Path, key: Path) -> Any:
    import ssl

    context = ssl.create_default_context(cafile=str(pki.ca_file))
    context.load_cert_chain(str(cert), str(key))
    return context


def test_a_firmware_signing_certificate_of_the_ca_signs_an_image_its_root_verifies(tmp_path: Path) -> None:
    """``issue_firmware_signing`` (the demo's 2.0.1 signed firmware): code signing, issued by the CA, and a file it
    signs verifies against it with the CA as the ManufacturerRootCertificate (L01.FR.21)."""
    now = datetime.now(UTC)
    ca = CertificateAuthority.create("Maker", now=now)
    issued = ca.issue_firmware_signing("Maker firmware signing", now=now)
    assert issued.key is not None
    certificate = check_signing_certificate(issued.certificate, [ca.pem], now)
    usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CODE_SIGNING]
    image = tmp_path / "image.img"
    image.write_bytes(b"firmware")
    verify_file(image, sign_file(image, issued.key.encode()), certificate)
