"""What a station of one OCPP version is made of, and what it does that only its version knows.

``Station`` speaks the version its settings name (``StationSettings.ocpp``): it reads that version's ``Table``
(``v16/table.py``, ``v201/table.py``: ``TABLE``), which says how the version reads its offer from the settings
(1.6: its feature profiles and connectors; 2.0.1: its functional blocks and EVSEs), how it makes its
configuration (1.6: the keys of the catalogue; 2.0.1: the device model), its feature table, its kernel
``Version``, and its ``Front``: the part of the station's life that each version lives its own way (what is
recovered at start, what an accepted boot sends, what a clean stop waits for, what a reboot keeps, how the
station shows its state, what a cable does). Everything else of the station is the same for both.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from chargebox.clock import Clock
from chargebox.log import Log
from chargebox.station.feature import Assembly, Feature
from chargebox.station.kernel.config import KernelConfig
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.settings import Identity, StationSettings
from chargebox.station.kernel.version import Version
from chargebox.store import Store

VERSIONS = ("1.6", "2.0.1")  # what ``StationSettings.ocpp`` may name; 1.6 by default


def is_id_token(text: str, length: int) -> bool:
    """What a reader or an operator may present as an idToken of at most ``length`` characters (1.6: IdToken,
    CiString20; 2.0.1: IdTokenType.idToken, 36): not empty, printable ASCII (G-1), so that none forges a log line."""
    return 0 < len(text) <= length and all(" " <= ch <= "~" for ch in text)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a cable or a card did, told to whoever caused it (the control API answers it, so a person
    sees why nothing started): ``result`` is started, stopped, released, resumed, waiting or refused."""

    result: str
    connector_id: int | None = None
    reason: str | None = None


class Offer(Protocol):
    """What a station offers, read from its settings before anything is opened."""

    @property
    def profiles(self) -> frozenset[str]:
        """What it offers: 1.6's feature profiles, 2.0.1's functional blocks."""
        ...

    @property
    def offered(self) -> frozenset[str]:
        """What builds features: its profiles, and the switches its settings turn on (1.6: SF-10's
        ``signed_firmware_only``)."""
        ...

    @property
    def connectors(self) -> int:
        """1.6: its connectors; 2.0.1: its EVSEs (one connector each unless a template says otherwise)."""
        ...


class Front(Protocol):
    """The station's life as one OCPP version lives it, over the features that version built."""

    async def start(self, placed: asyncio.Event) -> None:
        """Before the first connection: end what a power loss cut (1.6: X-12). ``placed`` is set once what
        ends it has its places in the lane: the station connects then, while a full disk may still keep those
        messages from being journaled (and the station must be able to report that)."""
        ...

    def opened(self) -> None:
        """A WebSocket opened: boot, or after an accepted boot pick up where the link left off."""
        ...

    def closed(self) -> None:
        """The WebSocket is gone."""
        ...

    async def accepted(self, first: bool) -> None:
        """The boot was accepted (``first``) or the link came back after one: the statuses, then the queue."""
        ...

    async def end_sessions(self, reason: str) -> None:
        """End every transaction with ``reason`` (X-8: a clean stop, the emergency button, a local reboot; 1.6's
        Reason vocabulary) and journal what says so."""
        ...

    async def stopping(self) -> None:
        """Persist what a clean stop must not lose (meter registers, a security event just reported)."""
        ...

    def unpersisted(self) -> None:
        """The stop gives up on writes a faulty store refuses: say what the next start will find."""
        ...

    def detach(self) -> None:
        """The station stops: what follows the store lets go of it (a fleet's store outlives a station)."""
        ...

    def rebooting(self, identity: Identity | None) -> Coroutine[Any, Any, None] | None:
        """The station software restarts (its runtime state is already reset): what the next boot says,
        and what to finish before it, run by the station."""
        ...

    @property
    def registration(self) -> str | None:
        """The status of the last BootNotification's answer (Accepted, Pending, Rejected; None: not answered since
        the start), read where a whole snapshot costs too much (a fleet's figures)."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """The station as the control API shows it (``GET /api/state``): ``ocpp`` (its version), ``connected``,
        ``registration``, ``queued``, ``deadLetters`` and ``connectors`` (1.6: its connectors; 2.0.1: its EVSEs),
        each with ``id``, ``status``, ``errorCode``, ``plugged``, ``transactionId`` and ``meterWh``; what only one
        version has besides (1.6: firmware, diagnostics, a reservation, a charging limit)."""
        ...

    def diagnostics_state(self) -> dict[str, Any]:
        """The station as a diagnostics archive holds it."""
        ...

    async def plugged(self, connector_id: int, connector: int = 1) -> Outcome:
        """A cable is connected at that connector (1.6) or EVSE (2.0.1); ``connector``, which of the EVSE's
        connectors (2.0.1; a 1.6 connector has only itself, 1)."""
        ...

    async def unplugged(self, connector_id: int) -> None:
        """The cable is gone."""
        ...

    async def id_token_presented(self, id_tag: str, connector_id: int | None, token_type: str | None = None) -> Outcome:
        """A card at a reader (``connector_id`` None: the station's one reader): 1.6 authorizes its idTag,
        2.0.1 its idToken (C01) of ``token_type`` (IdTokenEnumType; None: ISO14443, a card), checked by the
        station before."""
        ...

    async def ev_suspended(self, connector_id: int, suspended: bool) -> None:
        """The EV stopped (``suspended``) or resumed taking energy: 1.6's SuspendedEV (S-4), 2.0.1's (E01.FR.19)."""
        ...

    def fault(self, connector_id: int, error_code: str, info: str | None) -> None:
        """A hardware fault at that connector (1.6) or EVSE (2.0.1), 0 the whole station, with the hardware's
        error code (1.6's ChargePointErrorCode) and text: Faulted until ``clear_fault``."""
        ...

    def clear_fault(self, connector_id: int) -> None:
        """The fault is gone."""
        ...

    def permit_triggered(self, action: Any) -> None:
        """A TriggerMessage was accepted while the boot is Pending: let one such CALL through (B-5, B02.FR.02)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Table:
    """One OCPP version's station, as ``Station`` builds it."""

    version: Version
    features: tuple[Feature[Any], ...]  # in build order, which is the dependency order
    offer: Callable[[StationSettings], Offer]  # checked before anything is opened: ConfigError if unusable
    # its configuration: the offer, the settings, the store, the station's log
    configuration: Callable[[Any, StationSettings, Store, logging.LoggerAdapter[logging.Logger]], KernelConfig]
    front: Callable[[Kernel[Any], Assembly], Front]
    id_token_length: int  # the longest idToken a card may present (``is_id_token``)
    id_token_types: tuple[str, ...] = ()  # the types an idToken may name (2.0.1's IdTokenEnumType; 1.6: none)
    # what the settings install in the store before the kernel starts, so the link finds it (1.6: the factory's
    # root of ``install_root``, T-44): the settings, the store, the clock, the station's log; ConfigError if unusable
    provision: Callable[[StationSettings, Store, Clock, Log], None] | None = None
