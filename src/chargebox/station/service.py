"""The shape of every feature module: what the station asks of a service when it assembles itself.

A service answers some CSMS-initiated actions (``handlers``), may offer messages to TriggerMessage
(``triggers``, open-ocpp's inversion: the trigger service knows no feature), finishes after an
accepted boot what a reboot or power loss interrupted (``resume``), and forgets its runtime state on
``reset`` (seed: each module's ResetGlobals). Its persistent state lives in its own store module,
whose migrations that module owns; the configuration keys it serves are named in the catalogue
(``config_keys.py``, column ``service``), so that one table drives the docs and K-4.
The defaults here are "none of that", so a service states only what it has.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from chargebox.protocol.messages import Action, MessageTrigger
from chargebox.rpc import Handler

Permit = Callable[[Action], None]  # B-5: lets one triggered CALL through while Pending


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


Triggers = dict[MessageTrigger, Trigger]


class Service:
    """Base of the station's services; every method has a do-nothing default."""

    def handlers(self) -> Mapping[Action, Handler]:
        """The CSMS-initiated actions this service answers."""
        return {}

    def triggers(self, permit: Permit) -> Triggers:
        """What TriggerMessage may ask of this service (C-27..C-31)."""
        return {}

    async def resume(self) -> None:
        """After the first accepted boot: finish what a reboot or power loss interrupted."""

    def reset(self) -> None:
        """Forget runtime state; persisted state stays (seed: OCPPResetAllGlobals)."""
