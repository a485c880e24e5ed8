"""The exceptions chargebox raises, as one tree.

::

    ChargeboxError                         base, never raised itself
    ├── UserError                          the operator can fix it: the CLI prints str(exc), exits 2
    │   ├── ConfigError                    names the file and the key
    │   └── CsmsUnreachable                the reconnect policy gave up
    ├── ConnectionLost                     the WebSocket went away while we were writing to it
    ├── RemoteProtocolError                the peer broke OCPP-J: .code (its version's spelling) and .frame
    ├── HardwareError                      a port failed; the service turns it into an OCPP outcome
    ├── StoreError                         the disk refused a write the caller cannot wait for (full, read-only)
    ├── TransferError                      a download or upload failed (HTTP status, refused, truncated...)
    └── LocalProtocolError                 we built an invalid frame: a bug (also an AssertionError)

Expected outcomes of our own CALLs (a CALLERROR answer, a timeout) are not exceptions: they are
``SendResult`` values (see ``chargebox.rpc``).
"""

from __future__ import annotations


class ChargeboxError(Exception):
    """Base of every chargebox exception."""


class UserError(ChargeboxError):
    """Something the operator can fix; the CLI prints the message alone and exits with code 2."""


class ConfigError(UserError):
    """A configuration file or value is unusable; the message names the file and the key."""


class CsmsUnreachable(UserError):
    """The reconnect policy gave up on the central system."""


class ConnectionLost(ChargeboxError):
    """The WebSocket closed while a frame was being written."""


class RemoteProtocolError(ChargeboxError):
    """The peer sent something OCPP-J does not allow.

    ``code`` is the CALLERROR code as the connection's OCPP version spells it (1.6:
    ``FormationViolation``, ``OccurenceConstraintViolation``; 2.0.1: ``FormatViolation``,
    ``OccurrenceConstraintViolation``), ``frame`` the offending text when there is one.
    """

    def __init__(self, code: str, description: str, *, frame: str | bytes | None = None) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.frame = frame


class HardwareError(ChargeboxError):
    """A hardware port could not do what it was asked."""


class StoreError(ChargeboxError):
    """The store could not commit a write made at once (``Store.transaction``): the disk is full, read-only or
    failing. Writes through ``Store.write`` never raise it: they wait, and are tried again, until the disk
    takes them (``chargebox.store.core``)."""


class TransferError(ChargeboxError):
    """A firmware download or diagnostics upload failed; ``transfer.py`` translates every aiohttp,
    aioftp, ssl and OS error into this one, so the services retry on one type (F-4, D-3)."""


class LocalProtocolError(ChargeboxError, AssertionError):
    """chargebox itself built a frame OCPP does not allow: always a bug."""
