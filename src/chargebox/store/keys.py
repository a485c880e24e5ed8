"""The charge point's private keys (whitepaper A02/A03, CT-1): the one its certificate is for, and
the one a signing request waits on. A private key never leaves the station, so it lives here, next
to the certificates, and nowhere else.

``pending`` is the key of the last SignCertificate; a CertificateSigned for it makes it ``active``
and its chain the ChargePointCertificate in one transaction, so a power cut never leaves a
certificate without its key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from chargebox.store.table import Table

MIGRATIONS: Final[Mapping[int, str]] = {
    # 12: the charge point's private keys (active: in use with its ChargePointCertificate; pending: awaiting one)
    12: """
    CREATE TABLE private_keys (
        station TEXT NOT NULL DEFAULT '',
        purpose TEXT NOT NULL,
        pem TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (station, purpose)
    );
    """,
}

ACTIVE: Final = "active"
PENDING: Final = "pending"
CHARGE_POINT_CERTIFICATE: Final = "ChargePointCertificate"


class PrivateKeysTable(Table):
    """Private keys by purpose; only the certificate service reads them."""

    def get(self, purpose: str) -> str | None:
        """The key kept for ``purpose`` (the pending one of a CSR, the active one of the certificate), if any."""
        rows = self._store.rows(
            "SELECT pem FROM private_keys WHERE station = ? AND purpose = ?", (self.station, purpose)
        )
        return str(rows[0]["pem"]) if rows else None

    def charge_point_credentials(self) -> tuple[str, str] | None:
        """The ChargePointCertificate chain the central system signed and its active key (PEM), if any."""
        rows = self._store.rows(
            "SELECT c.pem AS chain, k.pem AS key FROM certificates c JOIN private_keys k "
            "ON k.station = c.station AND k.purpose = ? WHERE c.station = ? AND c.certificate_type = ? "
            "ORDER BY c.id DESC LIMIT 1",
            (ACTIVE, self.station, CHARGE_POINT_CERTIFICATE),
        )
        return (str(rows[0]["chain"]), str(rows[0]["key"])) if rows else None

    def put(self, purpose: str, pem: str, *, now: str) -> None:
        """Keep a new key before its CSR is sent (CT-1): a certificate signed for it must find it after a reboot."""
        with self._store.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO private_keys (station, purpose, pem, created_at) VALUES (?, ?, ?, ?)",
                (self.station, purpose, pem, now),
            )

    def activate(
        self,
        chain_pem: str,
        *,
        hash_algorithm: str,
        issuer_name_hash: str,
        issuer_key_hash: str,
        serial_number: str,
        now: str,
    ) -> None:
        """The pending key becomes the active one and ``chain_pem`` the ChargePointCertificate, at once."""
        with self._store.transaction() as db:
            pending = db.execute(
                "SELECT pem FROM private_keys WHERE station = ? AND purpose = ?", (self.station, PENDING)
            ).fetchone()
            if pending is None:
                raise LookupError("no pending private key")
            db.execute(
                "INSERT OR REPLACE INTO private_keys (station, purpose, pem, created_at) VALUES (?, ?, ?, ?)",
                (self.station, ACTIVE, pending[0], now),
            )
            db.execute("DELETE FROM private_keys WHERE station = ? AND purpose = ?", (self.station, PENDING))
            db.execute(
                "DELETE FROM certificates WHERE station = ? AND certificate_type = ?",
                (self.station, CHARGE_POINT_CERTIFICATE),
            )
            db.execute(
                "INSERT INTO certificates (station, certificate_type, pem, hash_algorithm, issuer_name_hash, "
                "issuer_key_hash, serial_number, installed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (self.station, CHARGE_POINT_CERTIFICATE, chain_pem, hash_algorithm, issuer_name_hash,
                 issuer_key_hash, serial_number, now),
            )  # fmt: skip
