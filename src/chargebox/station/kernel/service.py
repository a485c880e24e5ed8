"""The shape of every feature's service: what the station asks of it once it is built.

A service answers some CSMS-initiated actions (``handlers``), may offer messages to TriggerMessage
(``triggers``, open-ocpp's inversion: the trigger service knows no feature), finishes after an
accepted boot what a reboot or power loss interrupted (``resume``), and forgets its runtime state on
``reset`` (seed: each module's ResetGlobals). Its persistent state lives in its own store module,
whose migrations that module owns; the feature's declaration (``station/feature.py``) names the
actions, configuration keys and tables it owns. The defaults here are "none of that", so a service
states only what it has.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic

from chargebox.protocol.dialect import A
from chargebox.rpc import Handler

# B-5 (1.6), B02.FR.02 (2.0.1): lets one triggered CALL of that action through while Pending
Permit = Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class Trigger:
    """How a service sends one triggerable message.

    ``send(connector_id)`` sends it (connector_id None when the request named none). ``accepts``
    lets a service refuse (Rejected), e.g. a BootNotification after an accepted boot (B-9).
    ``per_connector`` says whether a connectorId matters; if not it is ignored (C-31).
    """

    send: Callable[[int | None], Awaitable[object]]
    accepts: Callable[[int | None], bool] = lambda _connector_id: True
    per_connector: bool = False


# By the name of the message a TriggerMessage requests (each version's MessageTrigger spells them).
Triggers = dict[str, Trigger]


class Service(Generic[A]):
    """Base of the station's services; every method has a do-nothing default.

    Generic in the Action enum of the version the service speaks: a bare ``Service`` is a 1.6 one, a 2.0.1
    service is a ``Service[v201.Action]``."""

    def handlers(self) -> Mapping[A, Handler]:
        """The CSMS-initiated actions this service answers."""
        return {}

    def triggers(self, permit: Permit) -> Triggers:
        """What TriggerMessage may ask of this service (C-27..C-31)."""
        return {}

    async def resume(self) -> None:
        """After the first accepted boot: finish what a reboot or power loss interrupted."""

    def reset(self) -> None:
        """Forget runtime state; persisted state stays (seed: OCPPResetAllGlobals)."""
