"""Certificates of a 2.0.1 station (station/v201/certificates.py on kernel/certificates.py): InstallCertificate,
GetInstalledCertificateIds, DeleteCertificate (M03 to M05) and the station's own certificate through SignCertificate
and CertificateSigned (A02, A03), good and bad input, as the central system sees them on the in-memory wire."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chargebox.protocol.v201 import messages as m
from chargebox.station.v201.certificates import CertificateService
from tests.tls.test_certificates import START, Ca
from tests.wire import Wire

ORGANISATION = "Example CSO"


def seed(component: str, variable: str, value: str) -> dict[str, Any]:
    return {"component": {"name": component}, "variable": {"name": variable}, "value": value}


async def booted(wired: Callable[..., Wire], **settings: Any) -> Wire:
    wire = wired(ocpp="2.0.1", **settings)
    await wire.connect()
    await wire.until(lambda: len(wire.calls("StatusNotification")) >= 1)
    return wire


async def answer(wire: Wire, action: str, payload: dict[str, Any]) -> Any:
    frame = await wire.inject(json.dumps([2, f"m-{action}-{len(wire.sent_actions())}", action, payload]))
    assert frame[0] == 3, frame
    return frame[2]


async def install(wire: Wire, pem: str, use: str = "CSMSRootCertificate") -> str:
    return str((await answer(wire, "InstallCertificate", {"certificateType": use, "certificate": pem}))["status"])


async def ids(wire: Wire, *types: str) -> Any:
    return await answer(wire, "GetInstalledCertificateIds", {"certificateType": list(types)} if types else {})


def entries(wire: Wire) -> int:
    return int(wire.station.config.get("SecurityCtrlr.CertificateEntries") or "-1")


async def test_M05_FR_02_installs_a_CSMS_and_a_manufacturer_root_and_M03_FR_04_lists_their_hash_data(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    csms_root, maker = Ca("CSMS root"), Ca("Maker root")
    assert await install(wire, csms_root.pem) == "Accepted"
    assert await install(wire, maker.pem, "ManufacturerRootCertificate") == "Accepted"
    listed = await ids(wire, "CSMSRootCertificate")
    assert listed["status"] == "Accepted"
    (chain,) = listed["certificateHashDataChain"]
    assert chain["certificateType"] == "CSMSRootCertificate"
    assert chain["certificateHashData"]["serialNumber"] == format(csms_root.cert.serial_number, "x")
    assert chain["certificateHashData"]["hashAlgorithm"] == "SHA256"
    everything = await ids(wire)  # no type named: every type
    assert [c["certificateType"] for c in everything["certificateHashDataChain"]] == [
        "CSMSRootCertificate", "ManufacturerRootCertificate",
    ]  # fmt: skip
    assert entries(wire) == 2  # SecurityCtrlr.CertificateEntries: what is installed now
    # the link trusts what the Version names: an installed CSMSRootCertificate
    assert wire.station.store.certificates.pems(wire.station.kernel.version.csms_root) == [csms_root.pem]


async def test_install_root_puts_the_factory_root_in_the_store_as_the_CSMSRootCertificate(
    wired: Callable[..., Wire], tmp_path: Path
) -> None:
    root = Ca("Factory root")
    path = tmp_path / "root.pem"
    path.write_text(root.pem)
    wire = await booted(wired, install_root=path)
    (chain,) = (await ids(wire, "CSMSRootCertificate"))["certificateHashDataChain"]
    assert chain["certificateHashData"]["serialNumber"] == format(root.cert.serial_number, "x")
    assert wire.station.store.certificates.pems(wire.station.kernel.version.csms_root) == [root.pem]  # the link's


async def test_M03_FR_02_a_type_without_certificates_is_NotFound(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    await install(wire, Ca("Maker root").pem, "ManufacturerRootCertificate")
    assert await ids(wire, "CSMSRootCertificate", "V2GRootCertificate") == {"status": "NotFound"}


async def test_M05_FR_07_an_invalid_certificate_is_Rejected_and_nothing_is_stored(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    root = Ca("root")
    for bad in (Ca("old", expired=True).pem, Ca("leaf", ca=False).pem, "not a certificate", root.pem + root.pem):
        assert await install(wire, bad) == "Rejected", bad
    assert entries(wire) == 0


async def test_M05_FR_06_past_CertificateEntries_maxLimit_Rejected_but_M05_FR_17_the_same_one_replaces(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    roots = [Ca(f"root {n}") for n in range(20)]
    for root in roots:
        assert await install(wire, root.pem, "V2GRootCertificate") == "Accepted"
    assert await install(wire, Ca("one more").pem, "V2GRootCertificate") == "Rejected"
    assert await install(wire, roots[0].pem, "V2GRootCertificate") == "Accepted"
    assert entries(wire) == 20


async def test_M04_FR_02_deletes_a_root_then_M04_FR_04_NotFound(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    await install(wire, Ca("Maker root").pem, "ManufacturerRootCertificate")
    (chain,) = (await ids(wire, "ManufacturerRootCertificate"))["certificateHashDataChain"]
    request = {"certificateHashData": chain["certificateHashData"]}
    assert (await answer(wire, "DeleteCertificate", request))["status"] == "Accepted"
    assert (await answer(wire, "DeleteCertificate", request))["status"] == "NotFound"
    assert entries(wire) == 0


async def test_M04_FR_03_the_last_CSMS_root_is_kept_while_profile_2_uses_it(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    await install(wire, Ca("CSMS root").pem)
    wire.station.config.set_internal("SecurityCtrlr.SecurityProfile", "2")
    (chain,) = (await ids(wire, "CSMSRootCertificate"))["certificateHashDataChain"]
    request = {"certificateHashData": chain["certificateHashData"]}
    assert (await answer(wire, "DeleteCertificate", request))["status"] == "Failed"
    wire.station.config.set_internal("SecurityCtrlr.SecurityProfile", "1")
    assert (await answer(wire, "DeleteCertificate", request))["status"] == "Accepted"


async def test_a_malformed_InstallCertificate_gets_a_CALLERROR_and_changes_nothing(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    frame = await wire.inject(json.dumps([2, "bad-1", "InstallCertificate", {"certificate": Ca("root").pem}]))
    assert frame[0] == 4 and frame[2] == "OccurrenceConstraintViolation"
    frame = await wire.inject(
        json.dumps([2, "bad-2", "InstallCertificate", {"certificateType": "Mine", "certificate": Ca("x").pem}])
    )
    assert frame[0] == 4
    assert entries(wire) == 0


# -- A02: the station's own certificate ------------------------------------------------------


async def signing_station(wired: Callable[..., Wire]) -> tuple[Wire, Ca, dict[str, Any]]:
    """A station with a CSMS root and an OrganizationName, asked for a signing request by the trigger it offers."""
    wire = await booted(wired, ocpp_config=[seed("SecurityCtrlr", "OrganizationName", ORGANISATION)])
    root = Ca("CSMS root")
    assert await install(wire, root.pem) == "Accepted"
    trigger = wire.station.kernel.triggers["SignChargingStationCertificate"]
    assert trigger.accepts(None)
    await trigger.send(None)
    await wire.until(lambda: len(wire.calls("SignCertificate")) == 1)
    return wire, root, wire.calls("SignCertificate")[0]


async def test_A02_FR_02_03_the_trigger_sends_a_CSR_of_a_new_key_with_the_station_id_and_OrganizationName(
    wired: Callable[..., Wire],
) -> None:
    wire, _root, request = await signing_station(wired)
    assert request["certificateType"] == "ChargingStationCertificate"
    csr = x509.load_pem_x509_csr(request["csr"].encode())
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == wire.station.id
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == ORGANISATION
    assert wire.station.config.get("SecurityCtrlr.Identity") == wire.station.id
    assert wire.station.store.private_keys.get("pending") is not None  # A02.FR.05: kept, never sent


async def test_without_OrganizationName_the_trigger_is_refused(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    assert not wire.station.kernel.triggers["SignChargingStationCertificate"].accepts(None)


async def test_A02_FR_08_a_valid_chain_is_Accepted_kept_with_its_key_and_M04_FR_06_cannot_be_deleted(
    wired: Callable[..., Wire],
) -> None:
    wire, root, request = await signing_station(wired)
    signed = root.sign_csr(request["csr"])
    reply = await answer(wire, "CertificateSigned", {"certificateChain": signed,
                                                      "certificateType": "ChargingStationCertificate"})  # fmt: skip
    assert reply == {"status": "Accepted"}
    credentials = wire.station.store.private_keys.charge_point_credentials()
    assert credentials is not None and credentials[0] == signed  # what the link presents on profile 3
    leaf = x509.load_pem_x509_certificate(signed.encode())
    data = wire.station.store.certificates.all("ChargePointCertificate")[0]
    assert data.serial_number == format(leaf.serial_number, "x")
    assert await ids(wire, "V2GCertificateChain") == {"status": "NotFound"}  # not a V2G chain
    hash_data = {"hashAlgorithm": "SHA256", "issuerNameHash": data.issuer_name_hash,
                 "issuerKeyHash": data.issuer_key_hash, "serialNumber": data.serial_number}  # fmt: skip
    assert (await answer(wire, "DeleteCertificate", {"certificateHashData": hash_data}))["status"] == "Failed"
    assert wire.station.store.private_keys.charge_point_credentials() == credentials


async def test_A02_FR_07_a_bad_chain_is_Rejected_reported_and_A02_FR_20_not_asked_again(
    wired: Callable[..., Wire],
) -> None:
    wire, root, request = await signing_station(wired)
    reported: list[tuple[str, str | None]] = []
    wire.station.security_events.handle(lambda kind, info=None, *, notify=False: reported.append((kind, info)))
    unknown_issuer = Ca("another CA").sign_csr(request["csr"])  # leads to no installed root
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, wire.station.id)])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    other_key = root.sign_csr(csr.public_bytes(serialization.Encoding.PEM).decode())  # not the waiting key
    for bad in (unknown_issuer, other_key, Ca("old", expired=True).pem, "garbage"):
        assert await answer(wire, "CertificateSigned", {"certificateChain": bad}) == {"status": "Rejected"}
    assert [kind for kind, _info in reported] == ["InvalidChargingStationCertificate"] * 4
    assert wire.station.store.private_keys.charge_point_credentials() is None
    await wire.clock.advance(3600)
    assert len(wire.calls("SignCertificate")) == 1  # A02.FR.20: no back-off after a refusal


async def test_A02_FR_06_a_certificate_for_another_name_is_Rejected(wired: Callable[..., Wire]) -> None:
    wire, root, request = await signing_station(wired)
    csr = x509.load_pem_x509_csr(request["csr"].encode())
    renamed = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "another-station")]))
        .issuer_name(root.name)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(START - timedelta(days=1))
        .not_valid_after(START + timedelta(days=365))
        .sign(root.key, hashes.SHA256())
    )
    pem = renamed.public_bytes(serialization.Encoding.PEM).decode()
    assert await answer(wire, "CertificateSigned", {"certificateChain": pem}) == {"status": "Rejected"}


async def test_TC_A_15_CS_a_SignCertificate_answered_Rejected_is_not_asked_again(wired: Callable[..., Wire]) -> None:
    config = [
        seed("SecurityCtrlr", "OrganizationName", ORGANISATION),
        seed("SecurityCtrlr", "CertSigningWaitMinimum", "10"),
    ]
    rejected = {
        m.Action.SIGN_CERTIFICATE: lambda _r: m.SignCertificateResponse(status=m.GenericStatusEnumType.REJECTED)
    }
    wire = await booted(wired, ocpp_config=config, csms_policy={"extra_handlers": rejected})
    await wire.station.kernel.triggers["SignChargingStationCertificate"].send(None)
    await wire.until(lambda: len(wire.calls("SignCertificate")) == 1)
    await wire.clock.advance(3600)
    await wire.until(lambda: wire.station.lane.pending() == 0)
    assert len(wire.calls("SignCertificate")) == 1  # A02.FR.17: only an accepted request is sent again


async def test_TC_A_23_CS_A02_FR_17_18_19_asks_again_doubling_the_wait_CertSigningRepeatTimes_times(
    wired: Callable[..., Wire],
) -> None:
    config = [
        seed("SecurityCtrlr", "OrganizationName", ORGANISATION),
        seed("SecurityCtrlr", "CertSigningWaitMinimum", "10"),
        seed("SecurityCtrlr", "CertSigningRepeatTimes", "2"),
    ]
    wire = await booted(wired, ocpp_config=config)
    await wire.station.kernel.triggers["SignChargingStationCertificate"].send(None)
    await wire.until(lambda: len(wire.calls("SignCertificate")) == 1)
    counts = []
    for seconds in (9, 1, 19, 1, 1000):  # 10 s, then 20 s, then no more
        await wire.clock.advance(seconds)
        await wire.until(lambda: wire.station.lane.pending() == 0)
        counts.append(len(wire.calls("SignCertificate")))
    assert counts == [1, 2, 2, 3, 3]


async def test_A03_FR_02_a_certificate_a_month_from_its_end_is_renewed_at_the_next_boot(
    wired: Callable[..., Wire],
) -> None:
    wire, root, request = await signing_station(wired)
    await answer(wire, "CertificateSigned", {"certificateChain": root.sign_csr(request["csr"])})
    service = wire.station.features.need(CertificateService)
    wire.clock.set_time(START + timedelta(days=340))
    await service.resume()
    await wire.until(lambda: len(wire.calls("SignCertificate")) == 2)
