"""TLS of security profiles 2 and 3 (A00) against the ``ocpp`` library's 2.0.1 central system served over real TLS
on loopback: Part 6's TC_A_04, TC_A_05, TC_A_06 and TC_A_07, and TC_B_50 (a migration to a central system whose
certificate chains to a new CSMS root, installed by InstallCertificate).

The central system's certificate comes from a private CA (``pki``, tests/tls/conftest.py) the station trusts by
``--ca-file``; it names ``csms.test``, which the station checks against the server name it is given. A first
attempt that must fail (an invalid certificate, TLS 1.1) is made against a server that changes its certificate or
gives way to a good one after it, so that the same station then connects, as Part 6 runs these cases, and reports
the failure's security event to the central system once booted (A04).
"""

from __future__ import annotations

import ssl
import warnings
from datetime import UTC, datetime
from typing import Any

import pytest
import trustme
from ocpp.v201 import call

from chargebox.station.kernel.tls import TlsSettings
from chargebox.station.station import Station
from tests.interop.conftest import OcppCsms, basic
from tests.interop.v201.conftest import SUBPROTOCOL, CsmsChargePoint201, StationRunner201, wait_booted
from tests.interop.v201.test_network import migrate
from tests.loopback import until
from tests.tls.conftest import SERVER_NAME, Pki
from tests.tls.conftest import pki as pki
from tests.tls.test_tls_profiles import refusing_tls_server

PASSWORD = "0123456789abcdef"


async def serve(context: ssl.SSLContext, port: int = 0, **kwargs: Any) -> OcppCsms:
    server = OcppCsms(subprotocol=SUBPROTOCOL, charge_point_class=CsmsChargePoint201, ssl=context, **kwargs)
    await server.start(port)
    return server


def profile_2(pki: Pki, port: int) -> dict[str, Any]:
    return {"csms_url": f"wss://127.0.0.1:{port}", "password": PASSWORD,
            "tls": TlsSettings(ca_file=pki.ca_file, server_name=SERVER_NAME, security_profile=2)}  # fmt: skip


def tls_version(csms: OcppCsms) -> str:
    ssl_object = csms.sessions[0].ws.transport.get_extra_info("ssl_object")
    return str(ssl_object.version())


def logged(station: Station, kind: str) -> bool:
    """The security event is in the station's security log (A04)."""
    return kind in [entry.event_type for entry in station.store.security_log.entries()]


async def event_reported(csms: OcppCsms, kind: str) -> None:
    """The critical security event, sent to the central system as SecurityEventNotification after the boot."""
    await csms.frames.wait_for(lambda f: f.action == "SecurityEventNotification" and f.payload["type"] == kind)


async def test_TC_A_04_CS_a_valid_server_certificate_profile_2(pki: Pki, station_factory: StationRunner201) -> None:
    csms = await serve(pki.server_context(), passwords={PASSWORD})
    try:
        station_factory(**profile_2(pki, csms.port))
        await wait_booted(csms, evses=2)
        assert tls_version(csms) in ("TLSv1.2", "TLSv1.3")  # A00.FR.312, A00.FR.313
        assert csms.sessions[0].authorization == basic("CP-1", PASSWORD)  # over TLS
    finally:
        await csms.stop()


@pytest.mark.parametrize("flaw", ["unknown CA", "another name", "expired"])
async def test_TC_A_05_CS_an_invalid_server_certificate_is_refused_then_a_valid_one_connects(
    pki: Pki, station_factory: StationRunner201, flaw: str
) -> None:
    if flaw == "unknown CA":
        bad = trustme.CA().issue_cert(SERVER_NAME, "127.0.0.1")
    elif flaw == "another name":
        bad = pki.ca.issue_cert("other.test")
    else:
        bad = pki.ca.issue_cert(SERVER_NAME, not_before=datetime(2020, 1, 1, tzinfo=UTC),
                                not_after=datetime(2021, 1, 1, tzinfo=UTC))  # fmt: skip
    good = pki.server_context()
    context = pki.server_context(leaf=bad)
    offering_bad = [True]

    def choose(ssl_object: ssl.SSLObject, _name: str | None, _context: ssl.SSLContext) -> None:
        if not offering_bad[0]:
            ssl_object.context = good

    context.sni_callback = choose
    csms = await serve(context, passwords={PASSWORD})
    try:
        station = station_factory(**profile_2(pki, csms.port))
        await until(lambda: logged(station, "InvalidCsmsCertificate"))
        assert csms.sessions == []  # A00.FR.310, A00.FR.311: refused, closed
        offering_bad[0] = False
        await wait_booted(csms, evses=2)
        await event_reported(csms, "InvalidCsmsCertificate")  # A00.FR.310
    finally:
        await csms.stop()


async def test_TC_A_06_CS_a_server_offering_only_tls_1_1_is_refused_then_a_valid_one_connects(
    pki: Pki, station_factory: StationRunner201
) -> None:
    if not ssl.HAS_TLSv1_1:
        pytest.skip("this OpenSSL was built without TLS 1.1: no such server can be made")
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    pki.server.configure_cert(old)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the point: a server that offers TLS 1.0/1.1 only
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    with refusing_tls_server(old) as port:
        station = station_factory(**profile_2(pki, port))
        await until(lambda: logged(station, "InvalidTLSVersion"))
    csms = await serve(pki.server_context(), port, passwords={PASSWORD})  # the same address, TLS 1.2 now
    try:
        await wait_booted(csms, evses=2)
        assert tls_version(csms) in ("TLSv1.2", "TLSv1.3")  # A00.FR.314
        await event_reported(csms, "InvalidTLSVersion")  # A00.FR.316
    finally:
        await csms.stop()


async def test_TC_A_07_CS_profile_3_presents_the_station_certificate(
    pki: Pki, station_factory: StationRunner201
) -> None:
    cso = trustme.CA(organization_name="CSO")
    leaf = cso.issue_cert("cp-1.test", common_name="CP-1", organization_name="CSO")
    cert, key = pki.client_files(leaf, "station")
    csms = await serve(pki.server_context(client_ca=cso))
    try:
        tls = TlsSettings(ca_file=pki.ca_file, server_name=SERVER_NAME, cert_file=cert, key_file=key,
                          security_profile=3)  # fmt: skip
        station_factory(csms_url=f"wss://127.0.0.1:{csms.port}", tls=tls)
        await wait_booted(csms, evses=2)
        session = csms.sessions[0]
        peer = session.ws.transport.get_extra_info("peercert")  # A00.FR.401, A00.FR.402
        subject = [entry[0] for entry in peer["subject"]]
        assert ("commonName", "CP-1") in subject and ("organizationName", "CSO") in subject  # A00.FR.511
        assert session.authorization is None  # profile 3: no Basic authentication
        assert tls_version(csms) in ("TLSv1.2", "TLSv1.3")  # A00.FR.416
    finally:
        await csms.stop()


async def test_TC_B_50_CS_migrates_to_a_new_csms_whose_certificate_chains_to_a_new_root(
    pki: Pki, station_factory: StationRunner201
) -> None:
    old = await serve(pki.server_context(), passwords={PASSWORD})
    new_root = trustme.CA(organization_name="the new CSO root")
    new = await serve(pki.server_context(leaf=new_root.issue_cert(SERVER_NAME, "127.0.0.1")), passwords={PASSWORD})
    try:
        station_factory(**profile_2(pki, old.port))
        await wait_booted(old, evses=2)
        root = new_root.cert_pem.bytes().decode()
        installed = await old.call(call.InstallCertificate(certificate_type="CSMSRootCertificate", certificate=root))
        assert installed.status == "Accepted"  # M05.FR.01: now trusted beside the first root
        await migrate(old, 1, f"ws://127.0.0.1:{new.port}", security_profile=2)
        await wait_booted(new, evses=2)  # B10.FR.04: the new profile first, its server checked with the new root
        assert tls_version(new) in ("TLSv1.2", "TLSv1.3")
        assert new.sessions[0].authorization == basic("CP-1", PASSWORD)
    finally:
        await old.stop()
        await new.stop()
