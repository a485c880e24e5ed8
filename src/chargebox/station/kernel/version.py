"""What the kernel knows of the OCPP version a station speaks, and no more.

A ``Version`` carries the version's ``Dialect`` (``chargebox.protocol.dialect``): the Rpc and its Connection
speak it, the link asks for its WebSocket subprotocol (T-4) and the lane decodes a journaled payload into its
request type and names a request by its action. Beside the dialect, what only the station knows: which of two
waiting messages makes the other stale, the names under which the version keeps the configuration the kernel
reads (``KernelKeys``), under which certificate type it stores the central system's TLS roots, and whether a
journaled message carries an id the central system gave (1.6's transactionId) that the lane fills in when it
sends it, and which messages left unanswered count as one of their MessageAttempts. Each version gives one
``Version`` (1.6: ``v16/table.py``, 2.0.1: ``v201/table.py``), so the kernel imports the message types of neither.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chargebox.protocol.base import Message
from chargebox.protocol.dialect import Dialect
from chargebox.station.kernel.config import KernelKeys


@dataclass(frozen=True, slots=True, kw_only=True)
class Version:
    """One OCPP version as the kernel sees it."""

    dialect: Dialect[Any]  # the messages, who sends which, the subprotocol, the CALLERROR rules
    # Past the lane's bound, ``supersedes(new, waiting)`` says the new message makes the waiting one stale
    # (a connector's StatusNotification replaces the one of the same connector still waiting).
    supersedes: Callable[[Message, Message], bool]
    keys: KernelKeys  # the configuration the kernel reads, by this version's names
    csms_root: str  # the certificate type under which the central system's TLS roots are stored (T-44)
    # 1.6: a journaled message of a transaction carries the central system's transactionId, known only once its
    # StartTransaction is answered, so the lane fills it in when it sends (X-4); 2.0.1's transactionId is the
    # station's own, journaled as it is sent.
    csms_transaction_ids: bool = False
    # The actions of the durable messages a central system that leaves one unanswered past the call timeout has failed
    # to process: 2.0.1's TransactionEvent, a failed attempt of MessageAttempts (E13.FR.02: "does not reply within
    # MessageTimeout"). Any other, and every 1.6 message (Q-4: only a CALLERROR is a failure), is sent again uncounted.
    attempt_on_timeout: frozenset[str] = frozenset()
    requests: Mapping[str, type[Message]] = field(init=False)  # by action name: a journaled payload decodes into it

    def __post_init__(self) -> None:
        object.__setattr__(self, "requests", {action.value: kind for action, kind in self.dialect.requests.items()})

    @property
    def subprotocol(self) -> str:
        """The WebSocket subprotocol the link asks for and requires (T-4)."""
        return self.dialect.subprotocol

    @property
    def actions(self) -> Mapping[type[Message], enum.StrEnum]:
        """A request's action."""
        return self.dialect.action_of_request
