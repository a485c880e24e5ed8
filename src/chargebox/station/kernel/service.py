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

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from chargebox.protocol.messages import Action
from chargebox.rpc import Handler

if TYPE_CHECKING:  # the trigger service is itself a Service
    from chargebox.station.v16.trigger import Triggers

Permit = Callable[[Action], None]  # B-5: lets one triggered CALL through while Pending


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
