"""Certificates (M03 to M05, A02), DataTransfer (P01) and CustomerInformation (N09, N10) against the ``ocpp``
library's 2.0.1 central system: Part 6's TC_M, TC_A_11/14/15, TC_P_01/03 and TC_N cases, checked on the wire. The hash
data a test expects is computed here by cryptography's OCSP request builder, not by the station's code.

TC_M_09_CS, TC_M_30_CS and TC_M_31_CS (AdditionalRootCertificateCheck true, a station on profile 2 verifying the
central system with a new CSMS root) run over real TLS in test_tls.py.

TC_A_11 and TC_A_14 ask for the signing request through the trigger the certificates feature offers
(``kernel.triggers["SignChargingStationCertificate"]``); TC_A_15 asks through TriggerMessage.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from ocpp.v201 import call
from ocpp.v201.enums import MessageTriggerEnumType

from chargebox.station.station import Station
from tests.interop.conftest import OcppCsms
from tests.interop.v201.conftest import StationRunner201, entry, wait_booted
from tests.tls.test_certificates import Ca


def sign_now(ca: Ca, csr_pem: str) -> str:
    """A leaf for the CSR's key valid from yesterday for a year of the real clock (the interop station's)."""
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca.name).public_key(csr.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
    )  # fmt: skip
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


async def booted(csms: OcppCsms, station_factory: StationRunner201, **settings: object) -> Station:
    station = station_factory(connectors=1, **settings)
    await wait_booted(csms, evses=1)
    return station


async def test_TC_M_01_CS_and_TC_M_12_CS_install_a_CSMS_root_then_list_it(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await booted(csms, station_factory)
    root = Ca("CSMS root")
    assert (await csms.call(call.InstallCertificate(certificate_type="CSMSRootCertificate",
                                                   certificate=root.pem))).status == "Accepted"  # fmt: skip
    listed = await csms.call(call.GetInstalledCertificateIds(certificate_type=["CSMSRootCertificate"]))
    assert listed.status == "Accepted"
    (chain,) = listed.certificate_hash_data_chain
    assert chain["certificate_hash_data"]["serial_number"] == format(root.cert.serial_number, "x")


async def test_TC_M_07_CS_an_invalid_certificate_is_Rejected(csms: OcppCsms, station_factory: StationRunner201) -> None:
    await booted(csms, station_factory)
    expired = Ca("expired", expired=True)
    result = await csms.call(call.InstallCertificate(certificate_type="CSMSRootCertificate", certificate=expired.pem))
    assert result.status == "Rejected"


async def test_TC_M_19_CS_no_matching_certificate_is_NotFound(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await booted(csms, station_factory)
    result = await csms.call(call.GetInstalledCertificateIds(certificate_type=["ManufacturerRootCertificate"]))
    assert result.status == "NotFound"


async def test_TC_M_20_CS_and_TC_M_22_CS_delete_then_NotFound(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await booted(csms, station_factory)
    await csms.call(call.InstallCertificate(certificate_type="ManufacturerRootCertificate", certificate=Ca("m").pem))
    listed = await csms.call(call.GetInstalledCertificateIds(certificate_type=["ManufacturerRootCertificate"]))
    data = listed.certificate_hash_data_chain[0]["certificate_hash_data"]
    assert (await csms.call(call.DeleteCertificate(certificate_hash_data=data))).status == "Accepted"
    assert (await csms.call(call.DeleteCertificate(certificate_hash_data=data))).status == "NotFound"


def hash_of(cert: x509.Certificate, issuer: x509.Certificate) -> dict[str, str]:
    """The certificate's hash data as Part 2 defines it (RFC 6960's CertID), computed here by cryptography's OCSP."""
    cert_id = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    return {
        "hash_algorithm": "SHA256",
        "issuer_name_hash": cert_id.issuer_name_hash.hex(),
        "issuer_key_hash": cert_id.issuer_key_hash.hex(),
        "serial_number": format(cert.serial_number, "x"),
    }


def listed_hashes(result: Any) -> dict[str, dict[str, str]]:
    """A GetInstalledCertificateIds answer as {certificateType: hash data}."""
    return {chain["certificate_type"]: chain["certificate_hash_data"] for chain in result.certificate_hash_data_chain}


async def install(csms: OcppCsms, certificate_type: str, ca: Ca) -> None:
    result = await csms.call(call.InstallCertificate(certificate_type=certificate_type, certificate=ca.pem))
    assert result.status == "Accepted"


async def test_TC_M_02_CS_and_TC_M_13_CS_install_a_manufacturer_root_then_retrieve_it(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await booted(csms, station_factory)
    root = Ca("manufacturer root")
    await install(csms, "ManufacturerRootCertificate", root)  # M05.FR.01, M05.FR.02
    listed = await csms.call(call.GetInstalledCertificateIds(certificate_type=["ManufacturerRootCertificate"]))
    assert listed.status == "Accepted"  # M03.FR.01
    assert listed_hashes(listed) == {"ManufacturerRootCertificate": hash_of(root.cert, root.cert)}  # M03.FR.03


async def two_roots(csms: OcppCsms, station_factory: StationRunner201) -> dict[str, dict[str, str]]:
    """A CSMS root and a manufacturer root installed: each one's hash data, by type."""
    await booted(csms, station_factory)
    roots = {"CSMSRootCertificate": Ca("CSMS root"), "ManufacturerRootCertificate": Ca("manufacturer root")}
    for certificate_type, root in roots.items():
        await install(csms, certificate_type, root)
    return {certificate_type: hash_of(root.cert, root.cert) for certificate_type, root in roots.items()}


async def test_TC_M_17_CS_retrieve_the_CSMS_and_manufacturer_roots(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    expected = await two_roots(csms, station_factory)
    asked = ["CSMSRootCertificate", "ManufacturerRootCertificate"]
    listed = await csms.call(call.GetInstalledCertificateIds(certificate_type=asked))
    assert listed.status == "Accepted" and listed_hashes(listed) == expected  # M03.FR.04: each asked type


async def test_TC_M_18_CS_retrieve_every_type_when_none_is_named(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    expected = await two_roots(csms, station_factory)
    listed = await csms.call(call.GetInstalledCertificateIds())
    assert listed.status == "Accepted"  # M03.FR.03: every type
    assert len(listed.certificate_hash_data_chain) == 2 and listed_hashes(listed) == expected


async def signing(csms: OcppCsms, station_factory: StationRunner201) -> tuple[Station, Ca, str]:
    station = await booted(csms, station_factory, ocpp_config=[entry("SecurityCtrlr", "OrganizationName", "CSO")])
    root = Ca("CSMS root")
    await csms.call(call.InstallCertificate(certificate_type="CSMSRootCertificate", certificate=root.pem))
    start = len(csms.frames.frames)
    await station.kernel.triggers["SignChargingStationCertificate"].send(None)
    _, frame = await csms.wait_call("SignCertificate", start=start)
    return station, root, str(frame.payload["csr"])


async def test_TC_A_11_CS_a_new_charging_station_certificate(csms: OcppCsms, station_factory: StationRunner201) -> None:
    station, root, csr = await signing(csms, station_factory)
    result = await csms.call(call.CertificateSigned(certificate_chain=sign_now(root, csr),
                                                    certificate_type="ChargingStationCertificate"))  # fmt: skip
    assert result.status == "Accepted"  # A02.FR.08
    assert station.store.private_keys.charge_point_credentials() is not None


async def test_TC_A_14_CS_an_invalid_certificate_is_Rejected(csms: OcppCsms, station_factory: StationRunner201) -> None:
    station, _root, csr = await signing(csms, station_factory)
    result = await csms.call(call.CertificateSigned(certificate_chain=sign_now(Ca("not the CSO"), csr)))
    assert result.status == "Rejected"  # A02.FR.07
    assert station.store.private_keys.charge_point_credentials() is None


async def test_TC_M_23_CS_the_charging_station_certificate_cannot_be_deleted(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station, root, csr = await signing(csms, station_factory)
    leaf = sign_now(root, csr)
    result = await csms.call(call.CertificateSigned(certificate_chain=leaf,
                                                    certificate_type="ChargingStationCertificate"))  # fmt: skip
    assert result.status == "Accepted"
    listed = await csms.call(call.GetInstalledCertificateIds())
    assert set(listed_hashes(listed)) == {"CSMSRootCertificate"}  # no use of M03 names the station's own
    own = hash_of(x509.load_pem_x509_certificate(leaf.encode()), root.cert)
    result = await csms.call(call.DeleteCertificate(certificate_hash_data=own))
    assert result.status in ("NotFound", "Failed")  # M04.FR.06
    assert station.store.private_keys.charge_point_credentials() is not None


async def test_TC_A_15_CS_a_SignCertificate_Rejected_ends_the_attempt(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    """The wire's view; that a refused request is not sent again (only an accepted one is, A02.FR.17) is proven
    under a virtual clock in tests/station/v201/test_certificates.py."""
    station = await booted(csms, station_factory, ocpp_config=[entry("SecurityCtrlr", "OrganizationName", "CSO")])
    csms.cp.sign_status = "Rejected"
    start = len(csms.frames.frames)
    trigger = call.TriggerMessage(requested_message=MessageTriggerEnumType.sign_charging_station_certificate)
    assert (await csms.call(trigger)).status == "Accepted"  # F06.FR.04
    answer, _ = await csms.frames.wait_for(lambda f: isinstance(f.data, list) and f.data[0] == 3, start=start)
    index, frame = await csms.wait_call("SignCertificate", start=start)
    assert answer < index and "BEGIN CERTIFICATE REQUEST" in frame.payload["csr"]
    await csms.call(call.TriggerMessage(requested_message=MessageTriggerEnumType.heartbeat))
    await csms.wait_call("Heartbeat", start=index)
    assert station.store.private_keys.charge_point_credentials() is None and len(csms.sessions) == 1


async def test_TC_P_01_CS_an_unknown_vendor_is_UnknownVendorId(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await booted(csms, station_factory)
    result = await csms.call(call.DataTransfer(vendor_id="org.unknown", message_id="x"))
    assert result.status == "UnknownVendorId"  # P01.FR.05


def vendor(**properties: object) -> dict[str, object]:
    """customData of a vendor the station does not know, with properties of its own (Part 4 section 9)."""
    return {"vendor_id": "org.example.lab", **properties}


async def test_TC_P_03_CS_custom_data_is_received_and_ignored(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await booted(csms, station_factory)
    threshold = {
        "component": {"name": "OCPPCommCtrlr", "custom_data": vendor(rack=3)},
        "variable": {"name": "OfflineThreshold", "custom_data": vendor(note="lab")},
        "custom_data": vendor(flags=[1, 2], nested={"deep": True}),
    }
    request = call.SetVariables(
        set_variable_data=[{**threshold, "attribute_value": "200", "attribute_type": "Actual"}],
        custom_data=vendor(batch="p03"),
    )
    result = (await csms.call(request)).set_variable_result[0]
    assert result["attribute_status"] == "Accepted"
    read = await csms.call(
        call.GetVariables(get_variable_data=[{**threshold, "attribute_type": "Actual"}], custom_data=vendor())
    )
    got = read.get_variable_result[0]
    assert (got["attribute_status"], got.get("attribute_type", "Actual"), got["attribute_value"]) == (
        "Accepted",
        "Actual",
        "200",
    )


async def test_TC_N_28_CS_and_TC_N_32_CS_customer_information_without_data_then_clear(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await booted(csms, station_factory)
    start = len(csms.frames.frames)
    asked = call.CustomerInformation(request_id=3, report=True, clear=False, customer_identifier="customer-1")
    assert (await csms.call(asked)).status == "Accepted"  # N09.FR.02
    index, note = await csms.wait_call("NotifyCustomerInformation", start=start)
    assert note.payload["requestId"] == 3 and note.payload["seqNo"] == 0  # N09.FR.06
    answer = next(i for i, f in enumerate(csms.frames.frames) if i >= start and f.data[0] == 3)
    assert answer < index  # the answer goes before the notification
    token = {"id_token": "04A2B3C4", "type": "ISO14443"}
    cleared = call.CustomerInformation(request_id=4, report=False, clear=True, id_token=token)
    assert (await csms.call(cleared)).status == "Accepted"
    _, note = await csms.wait_call("NotifyCustomerInformation", start=index + 1)
    assert note.payload["requestId"] == 4 and note.payload["data"] == "The customer's data was cleared."  # N10.FR.06
