"""``fleet --ca-cert --ca-key``: security profile 3 for a fleet. Each station gets a certificate of the CA with its
id as CN (TC_087_CS), kept in its store; the built-in central system, serving wss:// with the same CA for client
certificates (``csms --cert --key --ca-cert``), sees each on profile 3 and refuses one of another CA."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from chargebox.csms.ca import CertificateAuthority, write_pair
from chargebox.csms.server import CentralSystem, CsmsPolicy
from chargebox.csms.tls import server_context
from chargebox.sim.fleet import Fleet, FleetSettings
from chargebox.station.kernel.tls import TlsSettings
from tests.loopback import until
from tests.sim.test_fleet_csms_urls import fleet_running
from tests.test_cli import assert_one_line_error, run_cli

NOW = datetime.now(UTC)


@dataclass
class Pki:
    ca_cert: Path
    ca_key: Path
    port: int
    system: CentralSystem

    def fleet(self, count: int, client_ca: tuple[Path, Path], **settings: object) -> Fleet:
        return Fleet(
            FleetSettings(
                csms_url=f"wss://127.0.0.1:{self.port}", count=count, connect_rate=1000, client_ca=client_ca,
                tls=TlsSettings(ca_file=self.ca_cert, security_profile=3), **settings,  # type: ignore[arg-type]
            )
        )  # fmt: skip


@pytest.fixture
async def pki(tmp_path: Path) -> AsyncIterator[Pki]:
    ca = CertificateAuthority.create("Example CPO", now=NOW)
    ca_cert, ca_key = ca.write(tmp_path)
    server = ca.issue_server(["127.0.0.1"], now=NOW)
    cert, key = write_pair(tmp_path, "server", server.certificate, server.key)
    system = CentralSystem(CsmsPolicy(heartbeat_interval=600))
    port = await system.start(tls=server_context(cert, key, client_ca=ca_cert))  # csms --cert --key --ca-cert
    yield Pki(ca_cert, ca_key, port, system)
    await system.stop()


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_TC_087_each_station_of_a_fleet_boots_on_profile_3_with_a_certificate_of_its_own_id(
    pki: Pki, version: str
) -> None:
    fleet = pki.fleet(3, (pki.ca_cert, pki.ca_key), ocpp=((version, 100),))
    async with fleet_running(fleet):
        await until(lambda: fleet.figures()["booted"] == 3, timeout=20.0)
        assert {cp: session.security_profile for cp, session in pki.system.sessions.items()} == {
            "CP1": 3, "CP2": 3, "CP3": 3,
        }  # fmt: skip
        for station_id, sim in fleet.sims.items():
            credentials = sim.station.store.private_keys.charge_point_credentials()
            assert credentials is not None
            certificate = x509.load_pem_x509_certificate(credentials[0].encode())
            cn = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            assert [attribute.value for attribute in cn] == [station_id]


async def test_a_fleet_on_a_data_dir_keeps_its_certificates_and_issues_none_again(pki: Pki, tmp_path: Path) -> None:
    client_ca = (pki.ca_cert, pki.ca_key)
    first = pki.fleet(2, client_ca, data_dir=tmp_path / "fleet")
    issued = [first.add_station(i).station.store.private_keys.charge_point_credentials() for i in (1, 2)]
    await first.stop()
    again = pki.fleet(2, client_ca, data_dir=tmp_path / "fleet")
    try:
        assert [again.add_station(i).station.store.private_keys.charge_point_credentials() for i in (1, 2)] == issued
    finally:
        await again.stop()


async def test_TC_087_a_fleet_whose_certificates_are_of_another_ca_is_refused(pki: Pki, tmp_path: Path) -> None:
    other = CertificateAuthority.create("Someone else", now=NOW)
    other_files = other.write(tmp_path / "other")
    fleet = pki.fleet(1, other_files)
    async with fleet_running(fleet):
        await until(lambda: "CP1" in fleet.sims and fleet.sims["CP1"].station.transport.attempts >= 2, timeout=20.0)
        station = fleet.sims["CP1"].station
        assert not station.transport.connected
        assert pki.system.sessions == {}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--ca-cert", "{ca}"], "--ca-cert and --ca-key go together"),
        (["--ca-cert", "{ca}", "--ca-key", "{other_key}"], "--ca-key {other_key}: not the key of --ca-cert {ca}"),
        (["--ca-cert", "{ca}", "--ca-key", "{ca_key}", "--ws"], "--ca-cert and --ca-key issue client certificates"),
    ],
)
async def test_bad_profile_3_options_are_one_line_and_exit_2(args: list[str], fragment: str, tmp_path: Path) -> None:
    ca, ca_key = CertificateAuthority.create("Example CPO", now=NOW).write(tmp_path)
    _, other_key = CertificateAuthority.create("Someone else", now=NOW).write(tmp_path / "other")
    paths = {"ca": ca, "ca_key": ca_key, "other_key": other_key}
    url = "ws://127.0.0.1:9" if "--ws" in args else "wss://127.0.0.1:9"
    options = [arg.format(**paths) for arg in args if arg != "--ws"]
    code, _, err = await run_cli("fleet", "--csms", url, "--count", "2", "--ca-file", str(ca), *options)
    assert_one_line_error(code, err, fragment.format(**paths))


async def test_a_fleets_stations_share_one_trust_context_and_own_one_each_only_for_their_certificate(pki: Pki) -> None:
    profile_2 = Fleet(
        FleetSettings(csms_url=f"wss://127.0.0.1:{pki.port}", count=3, password="0123456789abcdef",
                      tls=TlsSettings(ca_file=pki.ca_cert, security_profile=2))
    )  # fmt: skip
    profile_3 = pki.fleet(3, (pki.ca_cert, pki.ca_key), id_prefix="P3-")
    try:
        shared = [profile_2.add_station(i).station.link.settings().ssl_context for i in (1, 2, 3)]
        own = [profile_3.add_station(i).station.link.settings().ssl_context for i in (1, 2, 3)]
        assert (len({id(context) for context in shared}), len({id(context) for context in own})) == (1, 3)
        pki.ca_cert.touch()  # a CA file replaced on disk is read again at the next attempt
        assert profile_2.sims["CP1"].station.link.settings().ssl_context is not shared[0]
    finally:
        await profile_2.stop()
        await profile_3.stop()
