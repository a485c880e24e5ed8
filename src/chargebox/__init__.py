"""chargebox: an OCPP 1.6J charge point stack and simulator."""

__version__ = "0.1.0"
