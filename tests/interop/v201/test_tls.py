"""TLS of security profiles 2 and 3 (A00) against the ``ocpp`` library's 2.0.1 central system served over real TLS
on loopback: Part 6's TC_A_04, TC_A_05, TC_A_06 and TC_A_07, and TC_B_50 (a migration to a central system whose
certificate chains to a new CSMS root, installed by InstallCertificate); with AdditionalRootCertificateCheck true,
TC_M_09, TC_M_30, TC_M_31 and TC_B_47 (a new CSMS root signed by the current one, which stays its fallback).

The central system's certificate comes from a private CA (``pki``, tests/tls/conftest.py) the station trusts by
``--ca-file``; it names ``csms.test``, which the station checks against the server name it is given. A first
attempt that must fail (an invalid certificate, TLS 1.1) is made against a server that changes its certificate or
gives way to a good one after it, so that the same station then connects, as Part 6 runs these cases, and reports
the failure's security event to the central system once booted (A04).
"""

from __future__ import annotations

import ssl
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import trustme
from cryptography import x509
from ocpp.v201 import call
from ocpp.v201.enums import ResetEnumType

from chargebox.station.kernel.tls import TlsSettings
from chargebox.station.station import Station
from tests.interop.conftest import OcppCsms, basic
from tests.interop.v201.conftest import SUBPROTOCOL, CsmsChargePoint201, StationRunner201, entry, wait_booted
from tests.interop.v201.test_network import PRIORITY, migrate, profile
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


CHECKED = [entry("SecurityCtrlr", "AdditionalRootCertificateCheck", "true")]


async def install_root(csms: OcppCsms, ca: trustme.CA) -> str:
    request = call.InstallCertificate(certificate_type="CSMSRootCertificate", certificate=ca.cert_pem.bytes().decode())
    return str((await csms.call(request)).status)


async def csms_roots(csms: OcppCsms) -> set[str]:
    """The serial numbers of the CSMS roots the station lists."""
    listed = await csms.call(call.GetInstalledCertificateIds(certificate_type=["CSMSRootCertificate"]))
    return {chain["certificate_hash_data"]["serial_number"] for chain in listed.certificate_hash_data_chain}


def serial(ca: trustme.CA) -> str:
    return format(x509.load_pem_x509_certificate(ca.cert_pem.bytes()).serial_number, "x")


async def test_TC_M_09_CS_a_new_root_not_signed_by_the_current_one_is_Rejected(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station_factory(ocpp_config=CHECKED)
    await wait_booted(csms, evses=2)
    current = trustme.CA()
    assert await install_root(csms, current) == "Accepted"
    assert await install_root(csms, trustme.CA()) == "Rejected"  # M05.FR.10, M05.FR.11
    assert await csms_roots(csms) == {serial(current)}


@dataclass
class NewRoot:
    """A station on profile 2 against ``secure``, whose certificate ``old_root`` issued, with ``new_root`` (signed by
    ``old_root``) installed beside it."""

    secure: OcppCsms
    context: ssl.SSLContext  # the server's: it may change its certificate
    old_root: trustme.CA
    new_root: trustme.CA


async def with_a_new_root(csms: OcppCsms, station_factory: StationRunner201, **settings: Any) -> NewRoot:
    """A station on profile 1 installs a CSMS root and migrates to profile 2 on a central system whose certificate
    that root issued (only the stored root is trusted: no --ca-file); then a new root signed by it is installed."""
    csms.passwords = {PASSWORD}
    config = [*CHECKED, *settings.pop("ocpp_config", [])]
    station_factory(password=PASSWORD, ocpp_config=config, tls=TlsSettings(server_name=SERVER_NAME), **settings)
    await wait_booted(csms, evses=2)
    old_root = trustme.CA()
    assert await install_root(csms, old_root) == "Accepted"
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    old_root.issue_cert(SERVER_NAME, "127.0.0.1").configure_cert(context)
    secure = await serve(context, passwords={PASSWORD})
    await migrate(csms, 1, f"ws://127.0.0.1:{secure.port}", security_profile=2)
    await wait_booted(secure, evses=2)
    new_root = old_root.create_child_ca()
    assert await install_root(secure, new_root) == "Accepted"  # M05.FR.12
    assert await csms_roots(secure) == {serial(old_root), serial(new_root)}
    return NewRoot(secure, context, old_root, new_root)


async def on_the_new_root(
    csms: OcppCsms, station_factory: StationRunner201, *, server_on_new_root: bool
) -> tuple[OcppCsms, trustme.CA, trustme.CA]:
    """``with_a_new_root``; then the central system's certificate is one of the new root's (or stays the old
    one's), and a reset reconnects."""
    roots = await with_a_new_root(csms, station_factory)
    secure = roots.secure
    if server_on_new_root:
        good = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        roots.new_root.issue_cert(SERVER_NAME, "127.0.0.1").configure_cert(good)
        roots.context.sni_callback = lambda ssl_object, _name, _context: setattr(ssl_object, "context", good)
    start = len(secure.frames.frames)
    assert (await secure.call(call.Reset(type=ResetEnumType.on_idle))).status == "Accepted"
    await wait_booted(secure, evses=2, start=start)
    return secure, roots.old_root, roots.new_root


async def test_TC_M_30_CS_reconnected_with_the_new_root_the_fallback_is_deleted(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    secure, _old, new_root = await on_the_new_root(csms, station_factory, server_on_new_root=True)
    try:
        assert await csms_roots(secure) == {serial(new_root)}  # M05.FR.13
    finally:
        await secure.stop()


async def test_TC_M_31_CS_the_new_root_refuses_the_server_the_fallback_verifies_it(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    secure, old_root, new_root = await on_the_new_root(csms, station_factory, server_on_new_root=False)
    try:
        assert await csms_roots(secure) == {serial(old_root), serial(new_root)}  # M05.FR.14: the fallback kept
        await event_reported(secure, "InvalidCsmsCertificate")  # the new root's attempt failed first
    finally:
        await secure.stop()


async def test_TC_B_47_CS_a_new_csms_refused_by_the_new_root_falls_back_to_the_old_profile_and_root(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    attempts = [entry("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", "1")]
    roots = await with_a_new_root(csms, station_factory, ocpp_config=attempts)
    other = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    roots.old_root.issue_cert(SERVER_NAME, "127.0.0.1").configure_cert(other)
    elsewhere = await serve(other, passwords={PASSWORD})  # a new central system, its certificate the old root's
    try:
        start = len(roots.secure.frames.frames)
        new_profile = profile(f"ws://127.0.0.1:{elsewhere.port}", security_profile=2)
        result = await roots.secure.call(call.SetNetworkProfile(configuration_slot=2, connection_data=new_profile))
        assert result.status == "Accepted"
        priority = [{**PRIORITY, "attribute_value": "2,1"}]  # slot 1 is the one in use (slot 0 went with profile 1)
        result = await roots.secure.call(call.SetVariables(set_variable_data=priority))
        assert result.set_variable_result[0]["attribute_status"] == "RebootRequired"
        assert (await roots.secure.call(call.Reset(type=ResetEnumType.on_idle))).status == "Accepted"
        await wait_booted(roots.secure, evses=2, start=start)  # M05.FR.15, M05.FR.16: back, with the fallback
        assert elsewhere.sessions == []
        assert serial(roots.old_root) in await csms_roots(roots.secure)
    finally:
        await elsewhere.stop()
        await roots.secure.stop()
