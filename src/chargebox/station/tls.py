"""Where ``TlsSettings`` was first documented (``chargebox.station.tls.TlsSettings``), kept for the
integrators who import it from here; it lives in ``kernel/tls.py`` and is ``chargebox.TlsSettings``."""

from chargebox.station.kernel.tls import TlsSettings

__all__ = ["TlsSettings"]
