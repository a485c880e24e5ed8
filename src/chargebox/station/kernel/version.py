"""What the kernel knows of the OCPP version a station speaks, and no more.

The lane journals, coalesces and sends typed CALLs without knowing which version's they are: it needs
the request type of an action (to decode a journaled payload back into it), the action of a request,
and which of two waiting messages makes the other stale. The link asks for the version's WebSocket
subprotocol (T-4), reads the kernel's configuration by the version's key names (``KernelKeys``) and
trusts the roots stored under the version's name for them.
Each version gives one ``Version`` (1.6: ``v16/table.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from chargebox.protocol.messages import Action, Message
from chargebox.station.kernel.config import KernelKeys


@dataclass(frozen=True, slots=True, kw_only=True)
class Version:
    """One OCPP version as the kernel sees it."""

    subprotocol: str  # the WebSocket subprotocol the link asks for and requires (T-4)
    requests: Mapping[str, type[Message]]  # an action's request type: a journaled payload is decoded into it
    actions: Mapping[type[Message], Action]  # a request's action
    # Past the lane's bound, ``supersedes(new, waiting)`` says the new message makes the waiting one stale
    # (1.6: a connector's StatusNotification replaces the one of the same connector still waiting).
    supersedes: Callable[[Message, Message], bool]
    keys: KernelKeys  # the configuration the kernel reads, by this version's names
    csms_root: str  # the certificate type under which the central system's TLS roots are stored (T-44)
