"""Certificates (M03 to M05, A02), DataTransfer (P01) and CustomerInformation (N09, N10) against the ``ocpp``
library's 2.0.1 central system: Part 6's TC_M, TC_A_11/14, TC_P_01 and TC_N cases, checked on the wire.

TriggerMessage is another block's (F06): these tests ask for the signing request through the trigger this station
offers to it (``kernel.triggers["SignChargingStationCertificate"]``), as TriggerMessage will.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from ocpp.v201 import call

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


async def test_TC_P_01_CS_an_unknown_vendor_is_UnknownVendorId(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await booted(csms, station_factory)
    result = await csms.call(call.DataTransfer(vendor_id="org.unknown", message_id="x"))
    assert result.status == "UnknownVendorId"  # P01.FR.05


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
