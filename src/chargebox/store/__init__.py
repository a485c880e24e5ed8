"""SQLite persistence: the only package that writes to disk.

One file per data dir (``<data-dir>/station.sqlite``) in WAL mode with ``synchronous=FULL``: a
write has reached the disk when its method returns, so a caller may act on it (journal first,
then send). ``core`` holds the ``StoreBackend`` (connections, the writer thread, group commit, safe
opening) and the ``Store``, one station's view of it: a single station's store is station ``''``
with a backend of its own; a fleet shares one backend, one view per station (``backend.station(id)``),
every table keyed by ``station`` (migration 8, ``stations``). ``schema`` gathers the numbered
migrations that each table module declares for its own tables.

The API is grouped by feature (``store.config``, ``store.state``, ``store.connectors``,
``store.auth_cache``, ``store.outbox``, ``store.dead_letters``, ``store.transactions``,
``store.firmware``, ``store.diagnostics``), one module per group. Everything importable from the
former ``chargebox/store.py`` is importable from here.
"""

from chargebox.errors import StoreError
from chargebox.store.auth import AuthCacheTable
from chargebox.store.certificates import CertificateRecord, CertificatesTable
from chargebox.store.config import ConfigTable, StateTable
from chargebox.store.connectors import ConnectorsTable
from chargebox.store.core import LOCK_NAME, Store, StoreBackend, StoreFault
from chargebox.store.jobs import (
    DiagnosticsJobRecord,
    DiagnosticsJobTable,
    FirmwareJobRecord,
    FirmwareJobTable,
    JobValue,
)
from chargebox.store.outbox import DeadLetter, DeadLettersTable, OutboxItem, OutboxTable
from chargebox.store.schema import FILE_NAME, MIGRATIONS, SCHEMA_VERSION, migrate
from chargebox.store.security_log import LogJobRecord, SecurityLogEntry, SignedFirmwareJobRecord
from chargebox.store.table import Op
from chargebox.store.transactions import TransactionRecord, TransactionsTable

__all__ = [
    "FILE_NAME",
    "LOCK_NAME",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "AuthCacheTable",
    "CertificateRecord",
    "CertificatesTable",
    "ConfigTable",
    "ConnectorsTable",
    "DeadLetter",
    "DeadLettersTable",
    "DiagnosticsJobRecord",
    "DiagnosticsJobTable",
    "FirmwareJobRecord",
    "FirmwareJobTable",
    "JobValue",
    "LogJobRecord",
    "Op",
    "OutboxItem",
    "OutboxTable",
    "SecurityLogEntry",
    "SignedFirmwareJobRecord",
    "StateTable",
    "Store",
    "StoreBackend",
    "StoreError",
    "StoreFault",
    "TransactionRecord",
    "TransactionsTable",
    "migrate",
]
