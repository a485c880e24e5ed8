"""Security profiles where they touch the link (A00, A01, A05) against the ``ocpp`` library's 2.0.1 central system:
Part 6's TC_A_01, TC_A_09, TC_A_10, TC_A_19, TC_A_20, TC_A_21 and TC_A_22.

TC_A_19_CS upgrades from security profile 1 to 2: the second central system serves wss:// with a certificate of a
private CA (trustme), which the station trusts by ``--ca-file`` (a CSMSRootCertificate installed by
InstallCertificate is the certificates block's, M05). TC_A_04 to TC_A_07 (TLS itself) are in test_tls.py.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme
from ocpp.v201 import call

from chargebox.station.kernel.tls import TlsSettings
from tests.interop.conftest import OcppCsms, basic
from tests.interop.v201.conftest import StationRunner201, csms201, wait_booted
from tests.interop.v201.test_network import PRIORITY, migrate, profile, variable
from tests.loopback import until
from tests.tls.test_certificates import Ca

PASSWORD = "0123456789abcdef"
NEW_PASSWORD = "fedcba9876543210fedcba9876543210"
PASSWORD_VARIABLE = {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}
SECURITY_PROFILE = {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "SecurityProfile"}}
SERVER_NAME = "csms.test"


async def test_TC_A_01_CS_basic_authentication_with_the_configured_password(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    csms.passwords = {PASSWORD}
    station_factory(password=PASSWORD)
    await wait_booted(csms, evses=2)
    assert csms.sessions[0].authorization == basic("CP-1", PASSWORD)  # A00.FR.203, A00.FR.204, A00.FR.205


async def test_TC_A_09_CS_a_new_password_is_accepted_and_the_station_connects_with_it(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    csms.passwords = {PASSWORD, NEW_PASSWORD}
    station_factory(password=PASSWORD)
    await wait_booted(csms, evses=2)
    result = await csms.call(
        call.SetVariables(set_variable_data=[{**PASSWORD_VARIABLE, "attribute_value": NEW_PASSWORD}])
    )
    assert result.set_variable_result[0]["attribute_status"] == "Accepted"  # A01.FR.01
    await csms.wait_session(2)
    assert csms.sessions[1].authorization == basic("CP-1", NEW_PASSWORD)
    read = (await csms.call(call.GetVariables(get_variable_data=[PASSWORD_VARIABLE]))).get_variable_result[0]
    assert read["attribute_status"] == "Rejected" and "attribute_value" not in read  # B06.FR.09: write-only


async def test_TC_A_10_CS_a_password_shorter_than_16_characters_is_rejected_and_the_old_one_kept(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    csms.passwords = {PASSWORD}
    station = station_factory(password=PASSWORD)
    await wait_booted(csms, evses=2)
    result = await csms.call(call.SetVariables(set_variable_data=[{**PASSWORD_VARIABLE, "attribute_value": "short"}]))
    assert result.set_variable_result[0]["attribute_status"] == "Rejected"
    station.transport.reconnect()  # the next connection still authenticates with the old password
    await csms.wait_session(2)
    assert csms.sessions[1].authorization == basic("CP-1", PASSWORD)


async def test_TC_A_22_CS_a_profile_with_a_lower_security_profile_is_rejected(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    csms.passwords = {PASSWORD}
    station_factory(password=PASSWORD)  # security profile 1
    await wait_booted(csms, evses=2)
    result = await csms.call(call.SetNetworkProfile(configuration_slot=1, connection_data=profile(csms.url)))
    assert result.status == "Rejected"  # B09.FR.04: profile 0 is below 1


async def upgrade_is_rejected(csms: OcppCsms, security_profile: int) -> None:
    """A profile of ``security_profile`` in slot 1 is Accepted, but putting it in NetworkConfigurationPriority is
    Rejected, and the priority stays slot 0 alone."""
    url = f"wss://{SERVER_NAME}:1"
    result = await csms.call(
        call.SetNetworkProfile(configuration_slot=1, connection_data=profile(url, security_profile=security_profile))
    )
    assert result.status == "Accepted"
    result = await csms.call(call.SetVariables(set_variable_data=[{**PRIORITY, "attribute_value": "1,0"}]))
    assert result.set_variable_result[0]["attribute_status"] == "Rejected"
    assert await variable(csms, PRIORITY) == "0"


async def test_TC_A_20_CS_an_upgrade_without_a_csms_root_certificate_is_rejected(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    csms.passwords = {PASSWORD}
    station_factory(password=PASSWORD)
    await wait_booted(csms, evses=2)
    await upgrade_is_rejected(csms, 2)  # A05.FR.02


async def test_TC_A_21_CS_an_upgrade_to_profile_3_without_a_station_certificate_is_rejected(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    csms.passwords = {PASSWORD}
    station = station_factory(password=PASSWORD)
    await wait_booted(csms, evses=2)
    root = Ca("CSMS root")  # a valid CSMSRootCertificate: only the station's own certificate is missing
    installed = await csms.call(call.InstallCertificate(certificate_type="CSMSRootCertificate", certificate=root.pem))
    assert installed.status == "Accepted"
    await upgrade_is_rejected(csms, 3)  # A05.FR.03
    assert station.store.private_keys.charge_point_credentials() is None


@pytest.fixture
def ca(tmp_path: Path) -> tuple[trustme.CA, Path]:
    authority = trustme.CA(organization_name="chargebox test CSMS")
    ca_file = tmp_path / "csms-root.pem"
    ca_file.write_bytes(authority.cert_pem.bytes())
    return authority, ca_file


async def test_TC_A_19_CS_upgrades_to_security_profile_2_and_drops_the_profiles_below_it(
    csms: OcppCsms, station_factory: StationRunner201, ca: tuple[trustme.CA, Path]
) -> None:
    authority, ca_file = ca
    csms.passwords = {PASSWORD}
    station = station_factory(password=PASSWORD, tls=TlsSettings(ca_file=ca_file, server_name=SERVER_NAME))
    await wait_booted(csms, evses=2)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(SERVER_NAME, "127.0.0.1").configure_cert(context)
    secure = csms201(passwords={PASSWORD}, ssl=context)
    await secure.start()
    try:
        await migrate(csms, 1, f"ws://127.0.0.1:{secure.port}", security_profile=2)  # A05.FR.04
        await wait_booted(secure, evses=2)  # A05.FR.05: wss://, the password over TLS
        assert secure.sessions[0].authorization == basic("CP-1", PASSWORD)
        assert await variable(secure, SECURITY_PROFILE) == "2"  # A05.FR.06
        assert await variable(secure, PRIORITY) == "1"  # slot 0 (profile 1) is gone
        await until(lambda: station.transport.connected)
    finally:
        await secure.stop()
