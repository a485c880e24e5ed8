"""OCPP-J 2.0.1 as the protocol layer speaks it: ``Connection(OCPP201)``."""

from __future__ import annotations

from typing import Final

from chargebox.protocol.dialect import Dialect
from chargebox.protocol.errors import OCPP201_CALL_ERRORS
from chargebox.protocol.v201 import messages

OCPP201: Final[Dialect[messages.Action]] = Dialect(
    version="2.0.1",
    subprotocol="ocpp2.0.1",  # Part 4 3.1.2, Table 1
    action=messages.Action,
    requests=messages.REQUESTS,
    responses=messages.RESPONSES,
    station_initiated=messages.CHARGING_STATION_INITIATED,
    csms_initiated=messages.CSMS_INITIATED,
    errors=OCPP201_CALL_ERRORS,
)
"""OCPP-J 2.0.1 (Part 4) with its 64 actions (Part 3 schemas)."""
