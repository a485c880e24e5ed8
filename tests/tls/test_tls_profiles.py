"""Security profiles 2 and 3 against the ``ocpp`` library's central system over real TLS (checklist
1.6: T-40, T-43, T-44; TC_083/086/087_CS; CT-1, CT-2 end to end), and against TLS servers the station must
refuse."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from ocpp.v16 import call
from ocpp.v16.enums import ConfigurationStatus

from chargebox.errors import ConfigError
from chargebox.station.kernel.tls import TlsSettings
from chargebox.station.station import Station
from tests.interop.conftest import StationRunner, basic
from tests.loopback import until
from tests.tls.conftest import SERVER_NAME, Pki, ServeCsms, TlsCsms

PASSWORD = "0123456789abcdef0123"


async def test_TC_086_profile_2_basic_auth_over_wss(pki: Pki, serve_csms: ServeCsms, runner: StationRunner) -> None:
    csms = await serve_csms(ssl=pki.server_context(), passwords={PASSWORD})
    station = runner(
        csms_url=f"ws://127.0.0.1:{csms.port}",  # T-40: used as wss:// for profile 2
        password=PASSWORD,
        tls=TlsSettings(ca_file=pki.ca_file, server_name=SERVER_NAME, security_profile=2),
    )
    session = await csms.wait_session()
    await csms.wait_call("BootNotification")
    assert session.authorization == basic("CP-1", PASSWORD)
    assert session.ws.transport.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
    assert station.config.get_int("SecurityProfile") == 2


async def test_T_43_TC_075_2_TC_083_provisioning_a_default_station_root_then_profile_2_over_wss(
    pki: Pki, serve_csms: ServeCsms, runner: StationRunner, caplog: pytest.LogCaptureFixture
) -> None:
    """The usual provisioning of a station with default settings (and its Basic-auth password): InstallCertificate
    of the central system's root, ChangeConfiguration SecurityProfile=2; the station reconnects over wss:// to the
    central system now behind TLS on the same port and goes on working there."""
    caplog.set_level(logging.INFO, "chargebox")
    plain = await serve_csms(passwords={PASSWORD})
    station = runner(csms_url=plain.url, password=PASSWORD)
    await plain.wait_call("BootNotification")
    root = call.InstallCertificate(
        certificate_type="CentralSystemRootCertificate", certificate=pki.ca.cert_pem.bytes().decode()
    )
    installed = await plain.call(root)
    assert installed.status == "Accepted"  # no NotSupported: the whitepaper is offered by default
    raised = await plain.call(call.ChangeConfiguration(key="SecurityProfile", value="2"))
    assert raised.status == ConfigurationStatus.accepted
    port = plain.port
    await plain.stop()
    secure = TlsCsms(ssl=pki.server_context(), passwords={PASSWORD})
    await secure.start(port)
    try:
        session = await secure.wait_session(timeout=10)
        assert session.ws.transport.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
        assert session.authorization == basic("CP-1", PASSWORD)
        answer = await secure.call(call.GetConfiguration(key=["SecurityProfile"]))
        assert answer.configuration_key == [{"key": "SecurityProfile", "readonly": False, "value": "2"}]
        assert (await secure.call(call.TriggerMessage(requested_message="Heartbeat"))).status == "Accepted"
        await secure.wait_call("Heartbeat")
        assert "security profile 2 connected" in caplog.text and station.config.get_int("SecurityProfile") == 2
    finally:
        await secure.stop()


async def test_install_root_lets_a_station_start_on_profile_2_without_a_ca_file(
    pki: Pki, serve_csms: ServeCsms, runner: StationRunner
) -> None:
    csms = await serve_csms(ssl=pki.server_context(), passwords={PASSWORD})
    station = runner(
        csms_url=f"ws://127.0.0.1:{csms.port}",
        password=PASSWORD,
        install_root=pki.ca_file,  # a CentralSystemRootCertificate in the store, not a --ca-file
        tls=TlsSettings(server_name=SERVER_NAME, security_profile=2),
    )
    await csms.wait_call("BootNotification")
    ids = await csms.call(call.GetInstalledCertificateIds(certificate_type="CentralSystemRootCertificate"))
    assert ids.status == "Accepted" and len(ids.certificate_hash_data) == 1
    assert station.config.get_int("SecurityProfile") == 2


async def test_TC_087_profile_3_presents_the_charge_point_certificate(
    pki: Pki,
    serve_csms: ServeCsms,
    runner: StationRunner,
) -> None:
    cp_ca = trustme.CA(organization_name="CPO")
    cert, key = pki.client_files(cp_ca.issue_cert("cp-1.test", common_name="CP-1", organization_name="CPO"), "cp")
    csms = await serve_csms(ssl=pki.server_context(client_ca=cp_ca))
    runner(
        csms_url=f"wss://127.0.0.1:{csms.port}",
        tls=TlsSettings(ca_file=pki.ca_file, cert_file=cert, key_file=key, security_profile=3),
    )
    session = await csms.wait_session()
    await csms.wait_call("BootNotification")
    peer = session.ws.transport.get_extra_info("peercert")
    assert ("commonName", "CP-1") in [entry[0] for entry in peer["subject"]]
    assert session.authorization is None  # profile 3: no Basic auth


@pytest.mark.parametrize("flaw", ["wrong CA", "wrong name", "expired"])
async def test_T_44_refuses_a_central_system_certificate_it_cannot_verify(
    pki: Pki,
    serve_csms: ServeCsms,
    runner: StationRunner,
    caplog: pytest.LogCaptureFixture,
    flaw: str,
) -> None:
    if flaw == "wrong CA":
        leaf = trustme.CA().issue_cert(SERVER_NAME, "127.0.0.1")
    elif flaw == "wrong name":
        leaf = pki.ca.issue_cert("other.test")
    else:
        leaf = pki.ca.issue_cert(
            SERVER_NAME,
            "127.0.0.1",
            not_before=datetime(2020, 1, 1, tzinfo=UTC),
            not_after=datetime(2021, 1, 1, tzinfo=UTC),
        )
    csms = await serve_csms(ssl=pki.server_context(leaf=leaf), passwords={PASSWORD})
    caplog.set_level(logging.WARNING, "chargebox")
    station = runner(
        csms_url=f"wss://127.0.0.1:{csms.port}",
        password=PASSWORD,
        tls=TlsSettings(ca_file=pki.ca_file, server_name=SERVER_NAME, security_profile=2),
    )
    await until(lambda: station.transport.attempts >= 2)
    assert csms.sessions == []
    assert "security event InvalidCentralSystemCertificate" in caplog.text
    assert PASSWORD not in caplog.text


@contextlib.contextmanager
def refusing_tls_server(context: ssl.SSLContext) -> Iterator[int]:
    """A server whose every handshake fails, with the alert OpenSSL sends (as a web server's TLS would; an
    asyncio server closes the socket without it). Yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # closed: the test is over
            with conn, contextlib.suppress(OSError):
                conn.settimeout(0.2)  # a client that connects and sends nothing does not hold the thread at the end
                context.wrap_socket(conn, server_side=True)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() the thread is blocked in
        listener.close()
        thread.join(5)


@pytest.mark.parametrize(
    ("offer", "event"),
    [("TLS 1.1 and older only", "InvalidTLSVersion"), ("only a CBC suite", "InvalidTLSCipherSuite")],
)
async def test_T_44_a_central_system_offering_old_tls_or_other_suites_is_refused_with_its_event(
    pki: Pki, runner: StationRunner, caplog: pytest.LogCaptureFixture, offer: str, event: str
) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    pki.server.configure_cert(context)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the point: a server that still offers TLS 1.0/1.1
        if offer.startswith("TLS 1.1"):
            if not ssl.HAS_TLSv1_1:
                pytest.skip("this OpenSSL was built without TLS 1.1: no such server can be made")
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        else:  # TLS 1.2 with a suite outside A00.FR.318 (no GCM)
            context.maximum_version = ssl.TLSVersion.TLSv1_2
            context.set_ciphers("ECDHE-RSA-AES128-SHA")
    caplog.set_level(logging.WARNING, "chargebox")
    with refusing_tls_server(context) as port:
        station = runner(
            csms_url=f"wss://127.0.0.1:{port}",
            password=PASSWORD,
            tls=TlsSettings(ca_file=pki.ca_file, server_name=SERVER_NAME, security_profile=2),
        )
        await until(lambda: event in [e.event_type for e in station.store.security_log.entries()])
    assert f"security event {event}" in caplog.text
    assert PASSWORD not in caplog.text


async def test_T_44_no_root_means_no_tls_not_an_unverified_one(pki: Pki) -> None:
    with pytest.raises(ConfigError, match="needs a CentralSystemRootCertificate"):
        StationRunner("wss://127.0.0.1:1")(password=PASSWORD, tls=TlsSettings(security_profile=2))


async def test_T_44_a_wss_central_system_that_refuses_the_basic_credentials_is_a_security_event(
    pki: Pki,
    serve_csms: ServeCsms,
    runner: StationRunner,
    caplog: pytest.LogCaptureFixture,
) -> None:
    csms = await serve_csms(ssl=pki.server_context(), passwords={"another-password-1234"})
    caplog.set_level(logging.WARNING, "chargebox")
    station = runner(
        csms_url=f"wss://127.0.0.1:{csms.port}",
        password=PASSWORD,
        tls=TlsSettings(ca_file=pki.ca_file, server_name=SERVER_NAME, security_profile=2),
    )
    await until(lambda: len(csms.refused) >= 1 and station.transport.attempts >= 2)
    assert "security event FailedToAuthenticateAtCentralSystem" in caplog.text


async def test_T_43_TC_083_a_raised_profile_that_cannot_connect_falls_back(
    pki: Pki,
    serve_csms: ServeCsms,
    runner: StationRunner,
    caplog: pytest.LogCaptureFixture,
) -> None:
    csms = await serve_csms(passwords={PASSWORD})  # plain ws:// only: profile 2 cannot connect to it
    caplog.set_level(logging.INFO, "chargebox")
    station = runner(
        csms_url=csms.url,
        password=PASSWORD,
        tls=TlsSettings(server_name=SERVER_NAME, fallback_seconds=1.0),
    )
    await csms.wait_call("BootNotification")
    # T-43: not without a CentralSystemRootCertificate
    assert (await csms.call(call.ChangeConfiguration(key="SecurityProfile", value="2"))).status == "Rejected"
    installed = await csms.call(
        call.InstallCertificate(
            certificate_type="CentralSystemRootCertificate", certificate=pki.ca.cert_pem.bytes().decode()
        )
    )
    assert installed.status == "Accepted"
    result = await csms.call(call.ChangeConfiguration(key="SecurityProfile", value="2"))
    assert result.status == ConfigurationStatus.accepted
    await csms.wait_session(2, timeout=10)  # back on profile 1 after the fallback time
    assert station.config.get_int("SecurityProfile") == 1
    assert "security profile 2 did not connect within 1s; back to 1" in caplog.text
    assert "security event ReconfigurationOfSecurityParameters" in caplog.text
    # T-43: lower again is Rejected
    assert (await csms.call(call.ChangeConfiguration(key="SecurityProfile", value="0"))).status == "Rejected"


async def test_T_43_profile_3_is_rejected_without_a_charge_point_certificate(
    pki: Pki,
    serve_csms: ServeCsms,
    runner: StationRunner,
) -> None:
    csms = await serve_csms(ssl=pki.server_context(), passwords={PASSWORD})
    station = runner(
        csms_url=f"ws://127.0.0.1:{csms.port}",
        password=PASSWORD,
        tls=TlsSettings(ca_file=pki.ca_file, server_name=SERVER_NAME, security_profile=2),
    )
    await csms.wait_call("BootNotification")
    assert (await csms.call(call.ChangeConfiguration(key="SecurityProfile", value="3"))).status == "Rejected"
    assert station.config.get_int("SecurityProfile") == 2
    assert len(csms.sessions) == 1  # no reconnect


async def test_CT_1_CT_2_sign_certificate_then_reconnect_on_profile_3_with_the_new_certificate(
    pki: Pki,
    serve_csms: ServeCsms,
    runner: StationRunner,
) -> None:
    first_cert, first_key = pki.client_files(pki.ca.issue_cert("cp-1.test", common_name="CP-1"), "first")
    csms = await serve_csms(ssl=pki.server_context(client_ca=pki.ca))
    station = runner(
        csms_url=f"wss://127.0.0.1:{csms.port}",
        tls=TlsSettings(
            ca_file=pki.ca_file, server_name=SERVER_NAME, cert_file=first_cert, key_file=first_key, security_profile=3
        ),
    )
    csr = await _signing_request(pki, csms, station)
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "CP-1"
    assert csr.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)[0].value == "Example CPO"
    signed = _sign(pki.ca, csr)
    result = await csms.call(
        call.CertificateSigned(certificate_chain=signed.public_bytes(serialization.Encoding.PEM).decode())
    )
    assert result.status == "Accepted"
    session = await csms.wait_session(2, timeout=10)  # reconnected with the new certificate
    await csms.wait_call("BootNotification", start=0)
    peer = session.ws.transport.get_extra_info("ssl_object").getpeercert(binary_form=True)
    assert x509.load_der_x509_certificate(peer).serial_number == signed.serial_number


async def test_CT_2_a_signed_certificate_that_is_itself_a_ca_is_rejected(
    pki: Pki, serve_csms: ServeCsms, runner: StationRunner, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 16, item 18: a CertificateSigned whose leaf has basicConstraints CA=true was accepted and used as the
    ChargePointCertificate. It is Rejected, with the security event InvalidChargePointCertificate (CT-2)."""
    csms = await serve_csms()
    station = runner(csms_url=f"ws://127.0.0.1:{csms.port}")
    signed = _sign(pki.ca, await _signing_request(pki, csms, station), is_ca=True)
    result = await csms.call(
        call.CertificateSigned(certificate_chain=signed.public_bytes(serialization.Encoding.PEM).decode())
    )
    assert result.status == "Rejected"
    assert station.store.private_keys.charge_point_credentials() is None
    assert "security event InvalidChargePointCertificate" in caplog.text


async def _signing_request(pki: Pki, csms: TlsCsms, station: Station) -> x509.CertificateSigningRequest:
    """The test CA installed as CentralSystemRootCertificate, CpoName set, the station asked for a certificate:
    the CSR the central system received."""
    await csms.wait_call("BootNotification")
    root = pki.ca.cert_pem.bytes().decode()
    assert (await csms.call(call.InstallCertificate("CentralSystemRootCertificate", root))).status == "Accepted"
    assert (await csms.call(call.ChangeConfiguration(key="CpoName", value="Example CPO"))).status == "Accepted"
    station.certificates.sign_certificate()
    await until(lambda: len(csms.csrs) == 1)
    return x509.load_pem_x509_csr(csms.csrs[0].encode())


def _sign(ca: trustme.CA, csr: x509.CertificateSigningRequest, *, is_ca: bool = False) -> x509.Certificate:
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca_cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
