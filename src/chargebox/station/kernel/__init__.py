"""The station's kernel: what every feature uses, whichever OCPP version it speaks."""
