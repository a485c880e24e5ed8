"""An OCPP-J version as the protocol layer speaks it: ``Dialect``, and ``OCPP16``, the default everywhere.

A station speaks one version, chosen at start; a ``Connection`` is told which at construction. A dialect
bundles what differs between versions below the station: the Action enum, the request and response Structs
of each action, who initiates which CALL, the WebSocket subprotocol that names the version (OCPP-J 2.0.1 Part
4 section 3.1.2, Table 1) and the CALLERROR rules (``CallErrors``). The frame layout, the 36-character unique
id and the one outstanding CALL per side are the same in both.

OCPP 2.0.1 is ``chargebox.protocol.v201.dialect.OCPP201``: its 64 actions' Structs take ~70 ms to import, so
it is imported where a station speaks 2.0.1 (or through ``dialect_for``), never on the 1.6 path.
"""

from __future__ import annotations

import enum
import importlib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Generic

from chargebox.protocol import messages as v16
from chargebox.protocol.base import Message
from chargebox.protocol.errors import OCPP16_CALL_ERRORS, CallErrors

if TYPE_CHECKING:
    from typing_extensions import TypeVar

    # PEP 696: a bare Connection, CallReceived or Dialect is the 1.6 one, so 1.6 code names no version.
    A = TypeVar("A", bound=enum.StrEnum, default=v16.Action)
else:
    from typing import TypeVar

    A = TypeVar("A", bound=enum.StrEnum)


@dataclass(frozen=True, eq=False, repr=False)
class Dialect(Generic[A]):
    """One OCPP-J version: its messages, who sends which CALL, its subprotocol and its CALLERROR rules."""

    version: str  # "1.6", "2.0.1"
    subprotocol: str  # Sec-WebSocket-Protocol: "ocpp1.6", "ocpp2.0.1"
    action: type[A]  # the Action enum, spelt as on the wire
    requests: Mapping[A, type[Message]]
    responses: Mapping[A, type[Message]]
    station_initiated: frozenset[A]  # CALLs the charge point / Charging Station sends
    csms_initiated: frozenset[A]  # CALLs the central system / CSMS sends (DataTransfer is in both)
    errors: CallErrors
    action_of_request: Mapping[type[Message], A] = field(init=False)
    actions_by_name: Mapping[str, A] = field(init=False)  # the known actions, by their wire spelling

    def __post_init__(self) -> None:
        by_request = types.MappingProxyType({kind: action for action, kind in self.requests.items()})
        by_name = types.MappingProxyType({action.value: action for action in self.action})
        object.__setattr__(self, "action_of_request", by_request)
        object.__setattr__(self, "actions_by_name", by_name)

    def __repr__(self) -> str:
        return f"<Dialect OCPP {self.version}>"


OCPP16: Final[Dialect[v16.Action]] = Dialect(
    version="1.6",
    subprotocol="ocpp1.6",
    action=v16.Action,
    requests=v16.REQUESTS,
    responses=v16.RESPONSES,
    station_initiated=v16.CHARGE_POINT_INITIATED,
    csms_initiated=v16.CENTRAL_SYSTEM_INITIATED,
    errors=OCPP16_CALL_ERRORS,
)
"""OCPP-J 1.6 with the security whitepaper's messages: what every Connection speaks unless told otherwise."""

# Where each dialect lives, by the subprotocol that names it.
_DIALECTS: Final = {
    "ocpp1.6": "chargebox.protocol.dialect:OCPP16",
    "ocpp2.0.1": "chargebox.protocol.v201.dialect:OCPP201",
}
SUBPROTOCOLS: Final = tuple(_DIALECTS)
"""The WebSocket subprotocols chargebox speaks (a station offers the one of its version)."""


def dialect_for(subprotocol: str) -> Dialect[Any]:
    """The dialect a WebSocket subprotocol names; importing 2.0.1's messages only when it is asked for.

    Raises KeyError for a subprotocol chargebox does not speak.
    """
    module, name = _DIALECTS[subprotocol].split(":")
    dialect: Dialect[Any] = getattr(importlib.import_module(module), name)
    return dialect
