"""Installed certificates (migration 7; whitepaper section 2, CT-1..CT-6).

One row per certificate, kept as PEM with the identifiers GetInstalledCertificateIds and
DeleteCertificate use (OCSP's CertificateHashData: hash algorithm, issuer name hash, issuer key
hash, serial number), so a lookup never has to parse every certificate again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from chargebox.store.table import Table

MIGRATIONS: Final[Mapping[int, str]] = {
    # 7: installed certificates: the central system's and the manufacturer's roots, the charge point's own
    7: """
    CREATE TABLE certificates (
        station TEXT NOT NULL DEFAULT '',
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        certificate_type TEXT NOT NULL,
        pem TEXT NOT NULL,
        hash_algorithm TEXT NOT NULL,
        issuer_name_hash TEXT NOT NULL,
        issuer_key_hash TEXT NOT NULL,
        serial_number TEXT NOT NULL,
        installed_at TEXT NOT NULL,
        UNIQUE (station, certificate_type, hash_algorithm, issuer_name_hash, issuer_key_hash, serial_number)
    );
    """,
}


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    id: int
    certificate_type: str
    pem: str
    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str
    installed_at: str


class CertificatesTable(Table):
    """The station's certificate store; the certificate service decides what may be added or removed."""

    def add(
        self,
        certificate_type: str,
        pem: str,
        *,
        hash_algorithm: str,
        issuer_name_hash: str,
        issuer_key_hash: str,
        serial_number: str,
        now: str,
    ) -> int:
        """Install a certificate (an identical one is replaced); returns its row id."""
        with self._store.transaction() as db:
            db.execute(
                "DELETE FROM certificates WHERE station = ? AND certificate_type = ? AND hash_algorithm = ? "
                "AND issuer_name_hash = ? AND issuer_key_hash = ? AND serial_number = ?",
                (self.station, certificate_type, hash_algorithm, issuer_name_hash, issuer_key_hash, serial_number),
            )
            cursor = db.execute(
                "INSERT INTO certificates (station, certificate_type, pem, hash_algorithm, issuer_name_hash, "
                "issuer_key_hash, serial_number, installed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (self.station, certificate_type, pem, hash_algorithm, issuer_name_hash, issuer_key_hash,
                 serial_number, now),
            )  # fmt: skip
            return int(cursor.lastrowid or 0)

    def all(self, certificate_type: str | None = None) -> list[CertificateRecord]:
        """Every installed certificate (of one type), oldest first."""
        sql = "SELECT * FROM certificates WHERE station = ?"
        args: tuple[object, ...] = (self.station,)
        if certificate_type is not None:
            sql += " AND certificate_type = ?"
            args += (certificate_type,)
        rows = self._store.rows(sql + " ORDER BY id", args)
        return [
            CertificateRecord(
                id=int(row["id"]),
                certificate_type=str(row["certificate_type"]),
                pem=str(row["pem"]),
                hash_algorithm=str(row["hash_algorithm"]),
                issuer_name_hash=str(row["issuer_name_hash"]),
                issuer_key_hash=str(row["issuer_key_hash"]),
                serial_number=str(row["serial_number"]),
                installed_at=str(row["installed_at"]),
            )
            for row in rows
        ]

    def pems(self, certificate_type: str) -> list[str]:
        """The PEM text of every installed certificate of a type (e.g. ManufacturerRootCertificate)."""
        return [record.pem for record in self.all(certificate_type)]

    def count(self) -> int:
        """How many certificates are installed: InstallCertificate refuses one past CertificateStoreMaxLength (CT-6)."""
        rows = self._store.rows("SELECT COUNT(*) AS n FROM certificates WHERE station = ?", (self.station,))
        return int(rows[0]["n"])

    def delete(self, certificate_id: int) -> bool:
        """Remove one certificate; False if there was none with that id."""
        with self._store.transaction() as db:
            cursor = db.execute("DELETE FROM certificates WHERE station = ? AND id = ?", (self.station, certificate_id))
            return cursor.rowcount > 0
