"""Security profile 3 for a fleet (``fleet --ca-cert --ca-key``): each station's ChargePointCertificate, issued
from the given CA when the station is first made (at the ramp, or when it is added live).

As OCPP asks (A00, TC_087_CS: the certificate's CN is the charge point's id; O the CPO's name, here the CA's own O),
the certificate and its key go into the station's store as a CertificateSigned would leave them (the active key and
the ChargePointCertificate, in one commit): in memory, or under ``--data-dir``, where a fleet started again finds
each station's certificate and issues none. From then on it is the station's own: a SignCertificate renews it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography import x509
from cryptography.x509.oid import NameOID

from chargebox.csms.ca import CertificateAuthority
from chargebox.station.kernel.certificates import hash_data
from chargebox.store import Store
from chargebox.store.keys import PENDING

DEFAULT_ORGANIZATION = "chargebox"  # O of a station's certificate when the CA's own subject has none


def provision(store: Store, authority: CertificateAuthority, charge_point_id: str, now: datetime | None = None) -> bool:
    """Issue ``charge_point_id`` its certificate unless its store holds one already; whether one was issued."""
    if store.private_keys.charge_point_credentials() is not None:
        return False
    organizations = authority.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    organization = str(organizations[0].value) if organizations else DEFAULT_ORGANIZATION
    now = now or datetime.now(UTC)
    issued = authority.issue_charge_point(charge_point_id, organization, now=now)
    assert issued.key is not None  # issue_charge_point makes the key too
    data = hash_data(
        x509.load_pem_x509_certificate(issued.certificate.encode("ascii")), authority.certificate, "SHA256"
    )
    stamp = now.isoformat()
    store.private_keys.put(PENDING, issued.key, now=stamp)
    store.private_keys.activate(
        issued.certificate, hash_algorithm=data.hash_algorithm, issuer_name_hash=data.issuer_name_hash,
        issuer_key_hash=data.issuer_key_hash, serial_number=data.serial_number, now=stamp,
    )  # fmt: skip
    return True
