"""Authorization: who may charge (checklist 5.1), the authorization cache (A-8) and ClearCache (C-9).

Answers: ClearCache. Sends: Authorize. The decision follows A-1..A-9: a local list (the Local Auth
List feature registers in ``lists``), then the cache, then the central system when online; offline,
LocalAuthorizeOffline and AllowOfflineTxForUnknownId decide. Every IdTagInfo the central system
gives (Authorize, StartTransaction, StopTransaction answers) updates the cache (M-2).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final, Protocol

import msgspec

from chargebox.clock import Clock
from chargebox.errors import StoreError
from chargebox.log import Log
from chargebox.protocol.messages import (
    Action,
    AuthorizationStatus,
    AuthorizeRequest,
    AuthorizeResponse,
    ClearCacheRequest,
    ClearCacheResponse,
    ClearCacheStatus,
    IdTagInfo,
    RegistrationStatus,
)
from chargebox.rpc import Handler, SendResult
from chargebox.station import front
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.config import Configuration
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Service
from chargebox.station.v16.boot import BootService
from chargebox.station.v16.config_keys import Profile
from chargebox.store import Store

CACHE_SIZE: Final = 1000  # entries kept; A-8 eviction beyond it

ID_TOKEN_LENGTH: Final = 20  # IdToken is CiString20


class LocalAuthorization(Protocol):
    """A list of cards the station holds itself, looked up before the cache and the central system
    (checklist 5.1); no answer of the central system changes it (L-6)."""

    def lookup(self, id_tag: str) -> IdTagInfo | None:
        """The list's IdTagInfo for the card, None if it does not hold it."""
        ...

    def conflict(self, id_tag: str) -> None:
        """L-7: the central system said otherwise of a card the list holds."""
        ...


class AuthorizationService(Service):
    def __init__(
        self,
        *,
        store: Store,
        lane: Lane,
        config: Configuration,
        clock: Clock,
        online: Callable[[], bool],
        log: Log,
    ) -> None:
        self._store = store
        self._lane = lane
        self._config = config
        self._clock = clock
        self._online = online
        self._log = log
        self.lists: list[LocalAuthorization] = []  # looked up in order, before the cache

    def handlers(self) -> dict[Action, Handler]:
        return {Action.CLEAR_CACHE: self.on_clear_cache}

    def on_clear_cache(self, _request: ClearCacheRequest) -> ClearCacheResponse:
        """C-9: empty the cache (the local list is untouched) and say Accepted."""
        removed = self._store.auth_cache.count()
        self._store.auth_cache.clear()
        self._log.info("= authorization cache cleared (%d entries)", removed)
        return ClearCacheResponse(status=ClearCacheStatus.ACCEPTED)

    async def authorize(self, id_tag: str) -> IdTagInfo:
        """Decide whether ``id_tag`` may start charging now (A-1..A-7)."""
        listed = self.local_list(id_tag)
        known = listed or self.cached(id_tag)
        known_valid = known is not None and known.status is AuthorizationStatus.ACCEPTED
        if self._online():
            if known_valid and self._config.get_bool("LocalPreAuthorize"):
                assert known is not None
                return known
            result = await self.send_authorize(id_tag)
            if result.response is not None:
                info: IdTagInfo = result.response.id_tag_info
                return info
            self._log.info("= Authorize for %s not answered (%s): deciding offline", id_tag, result.outcome.value)
        if known is not None:
            if known_valid and self._config.get_bool("LocalAuthorizeOffline"):
                return known
            return known if not known_valid else _invalid()
        if self._config.has("AllowOfflineTxForUnknownId") and self._config.get_bool("AllowOfflineTxForUnknownId"):
            return IdTagInfo(status=AuthorizationStatus.ACCEPTED)
        return _invalid()

    async def validate(self, id_tag: str) -> None:
        """R-8: learn what the central system says of a card reserved just now (M-2), so the cache holds it
        before the driver arrives. Not for a Local List card (L-6), not without a cache or a connection."""
        if self.local_list(id_tag) is None and self._config.get_bool("AuthorizationCacheEnabled") and self._online():
            await self.send_authorize(id_tag)

    async def send_authorize(self, id_tag: str) -> SendResult[AuthorizeResponse]:
        def learn(result: SendResult[AuthorizeResponse]) -> None:  # M-2, before the next frame is handled
            if result.response is not None:
                self.learn(id_tag, result.response.id_tag_info)

        return await self._lane.call(AuthorizeRequest(id_tag=id_tag), on_result=learn)

    def local_list(self, id_tag: str) -> IdTagInfo | None:
        """The card's entry in a local list, None when no list holds it (or none is in use)."""
        listing = self._listing(id_tag)
        return None if listing is None else listing[1]

    def _listing(self, id_tag: str) -> tuple[LocalAuthorization, IdTagInfo] | None:
        for held in self.lists:
            info = held.lookup(id_tag)
            if info is not None:
                return held, info
        return None

    def cached(self, id_tag: str) -> IdTagInfo | None:
        """The cache entry, Expired once its expiryDate has passed (A-8)."""
        if not self._config.get_bool("AuthorizationCacheEnabled"):
            return None
        entry = self._store.auth_cache.get(id_tag)
        if entry is None:
            return None
        status, expiry, parent = entry
        expiry_date = datetime.fromisoformat(expiry) if expiry else None
        if expiry_date is not None and expiry_date <= self._clock.now():
            status = AuthorizationStatus.EXPIRED
        return IdTagInfo(
            status=AuthorizationStatus(status),
            expiry_date=msgspec.UNSET if expiry_date is None else expiry_date,
            parent_id_tag=msgspec.UNSET if parent is None else parent,
        )

    def learn(self, id_tag: str, info: IdTagInfo) -> None:
        """M-2: every IdTagInfo from the central system updates the cache (not for local-list ids, L-6;
        for those a different status is a conflict, L-7)."""
        listing = self._listing(id_tag)
        if listing is not None:
            held, listed = listing
            if listed.status is not info.status:
                held.conflict(id_tag)  # L-7: the central system and the list disagree
            return
        if not self._config.get_bool("AuthorizationCacheEnabled"):
            return
        try:
            self._store.auth_cache.put(
                id_tag,
                info.status.value,
                expiry_date=None if info.expiry_date is msgspec.UNSET else info.expiry_date.isoformat(),
                parent_id_tag=None if info.parent_id_tag is msgspec.UNSET else info.parent_id_tag,
                now=self._clock.now().isoformat(),
            )
        except StoreError as exc:  # the cache only saves a question later: the answer it learns from still counts
            self._log.warning("! idTag %s not cached: %s", id_tag, exc)
        if self._store.auth_cache.count() > CACHE_SIZE:
            self._store.auth_cache.evict(CACHE_SIZE)

    def reset(self) -> None:
        """The cache is persistent state and survives a reset (A-8)."""


def _invalid() -> IdTagInfo:
    return IdTagInfo(status=AuthorizationStatus.INVALID)


def is_ci_string(text: str, length: int) -> bool:
    """G-1: an OCPP CiStringNN is printable ASCII, at most NN characters."""
    return len(text) <= length and all(" " <= ch <= "~" for ch in text)


def is_id_token(text: str) -> bool:
    """An OCPP IdToken (CiString20), and not empty: what a reader or an operator may present."""
    return front.is_id_token(text, ID_TOKEN_LENGTH)


def _build(kernel: Kernel, needs: Needs) -> AuthorizationService:
    boot, rpc = needs(BootService), kernel.rpc
    return AuthorizationService(
        store=kernel.store,
        lane=kernel.lane,
        config=kernel.config,
        clock=kernel.clock,
        online=lambda: rpc.connected and boot.registration is RegistrationStatus.ACCEPTED,
        log=kernel.log,
    )


FEATURE: Final = Feature(
    name="authorization",
    profile=Profile.CORE,
    service=AuthorizationService,
    build=_build,
    actions=frozenset({Action.CLEAR_CACHE}),
    keys=frozenset({"AllowOfflineTxForUnknownId", "AuthorizationCacheEnabled", "LocalAuthorizeOffline",
                    "LocalPreAuthorize"}),
    tables=frozenset({"auth_cache"}),
    needs=(BootService,),
)  # fmt: skip
