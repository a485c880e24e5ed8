"""OCPP 2.0.1: the generated messages; ``chargebox.protocol.dialect.OCPP201`` is how the codec speaks it."""
