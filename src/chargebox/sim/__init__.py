"""Simulated hardware, the control API, and the runners behind ``simulate`` and ``demo``."""
