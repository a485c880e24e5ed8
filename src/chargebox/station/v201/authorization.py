"""Authorization of an idToken (C01) with the authorization cache (C10 to C12; ClearCache, C11).

A presented idToken is authorized by the central system (Authorize) when the station is online, unless the cache already
holds it Accepted and AuthCtrlr.LocalPreAuthorize lets the station start on that (C12.FR.02), one cached otherwise is
asked again (C12.FR.05) unless AuthCacheCtrlr.DisablePostAuthorize refuses it on the cache's word. Offline, and before
the boot is accepted (the station may send no Authorize then, B02.FR.02, B03.FR.02, and may allow locally authorized
transactions, B02.FR.03, B03.FR.01), the cache decides when AuthCtrlr.LocalAuthorizationOffline is true, and an idToken
it does not hold is Accepted only with AuthCtrlr.OfflineTxForUnknownIdEnabled (C15.FR.08), uncached (C15.FR.01). Every
IdTokenInfo the central system gives (an AuthorizeResponse, a TransactionEventResponse) is cached, valid or not
(C10.FR.01, C10.FR.04, C10.FR.05), until its cacheExpiryDateTime or AuthCacheCtrlr.LifeTime after its last use
(C10.FR.08); an expired entry says Expired.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Final

import msgspec

from chargebox.clock import Clock
from chargebox.protocol.v201 import messages as m
from chargebox.rpc import Handler
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Service
from chargebox.station.v201.boot import BootService
from chargebox.station.v201.device_model import DeviceModel
from chargebox.station.v201.offer import Block
from chargebox.station.v201.variables import Mutability, declare
from chargebox.store import Store
from chargebox.store.id_token_cache import IdTokenCacheTable

Status = m.AuthorizationStatusEnumType
ID_TOKEN_LENGTH: Final = 36  # IdTokenType.idToken: a string of at most 36 (1.6's IdToken has 20)
CACHE_ENTRIES: Final = 1000  # past this many idTokens, the least recently used goes (AuthCacheCtrlr.Policy LRU)

AUTHORIZE_REMOTE_START: Final = declare(
    "AuthCtrlr", "AuthorizeRemoteStart", mutability=Mutability.READ_WRITE, default="true",
    description="A RequestStartTransaction's idToken is authorized (Authorize) before it starts (F01.FR.01)",
)  # fmt: skip
LOCAL_AUTHORIZATION_OFFLINE: Final = declare(
    "AuthCtrlr", "LocalAuthorizationOffline", default="true",
    description="Offline, an idToken the cache holds Accepted starts a transaction",
)  # fmt: skip
LOCAL_PRE_AUTHORIZE: Final = declare(
    "AuthCtrlr", "LocalPreAuthorize", default="false",
    description="Online, an idToken the cache holds Accepted starts without an Authorize (C12.FR.02)",
)  # fmt: skip
OFFLINE_TX_FOR_UNKNOWN_ID: Final = declare(
    "AuthCtrlr", "OfflineTxForUnknownIdEnabled", default="false",
    description="Offline, an idToken the station does not know starts a transaction",
)  # fmt: skip
MASTER_PASS_GROUP_ID: Final = declare(
    "AuthCtrlr", "MasterPassGroupId", default="",
    description="The groupIdToken of master passes: one stops every transaction and starts none (use case C16)",
)  # fmt: skip
CACHE_ENABLED: Final = declare(
    "AuthCacheCtrlr", "Enabled", default="true", description="The authorization cache is kept and read (C10)"
)
CACHE_AVAILABLE: Final = declare("AuthCacheCtrlr", "Available", default="true")
CACHE_LIFE_TIME: Final = declare(
    "AuthCacheCtrlr", "LifeTime", default="86400", min_limit=1,
    description="Seconds a cached IdTokenInfo without cacheExpiryDateTime stays valid after its last use (C10.FR.08)",
)  # fmt: skip
CACHE_POLICY: Final = declare("AuthCacheCtrlr", "Policy", default="LRU", values=("LRU",))
CACHE_DISABLE_POST_AUTHORIZE: Final = declare(
    "AuthCacheCtrlr", "DisablePostAuthorize", default="false",
    description="Online with LocalPreAuthorize, an idToken cached not Accepted is refused without an Authorize",
)  # fmt: skip


class AuthorizationService(Service[m.Action]):
    """Authorize and the authorization cache."""

    def __init__(
        self,
        *,
        lane: Lane,
        boot: BootService,
        store: Store,
        model: DeviceModel,
        clock: Clock,
        log: logging.LoggerAdapter[logging.Logger] | logging.Logger,
    ) -> None:
        self._lane = lane
        self._boot = boot
        self._cache = IdTokenCacheTable(store)
        self._model = model
        self._clock = clock
        self._log = log

    def handlers(self) -> dict[m.Action, Handler]:
        return {m.Action.CLEAR_CACHE: self.on_clear_cache}

    def on_clear_cache(self, _request: m.ClearCacheRequest) -> m.ClearCacheResponse:
        if not self._model.get_bool(CACHE_ENABLED.key):
            return m.ClearCacheResponse(status=m.ClearCacheStatusEnumType.REJECTED)  # C11.FR.04
        self._cache.clear()  # C11.FR.02
        self._log.info("= authorization cache cleared")
        return m.ClearCacheResponse(status=m.ClearCacheStatusEnumType.ACCEPTED)

    async def authorize(self, id_token: m.IdTokenType) -> m.IdTokenInfoType:
        """What the station may do for this idToken now: the central system's word online, the cache's offline."""
        entry = self._entry(id_token)
        cached = _as_cached(entry)
        if entry is not None and not entry[1] and self._model.get_bool(LOCAL_PRE_AUTHORIZE.key):
            if entry[0].status is Status.ACCEPTED:
                return self._used(id_token, entry[0])  # C12.FR.02: started at once on what the cache holds
            if self._model.get_bool(CACHE_DISABLE_POST_AUTHORIZE.key):
                return entry[0]  # AuthCacheCtrlr.DisablePostAuthorize: C10.FR.03 and C12.FR.05 set aside
        if self.offline() is None:
            result = await self._lane.call(m.AuthorizeRequest(id_token=id_token))  # C01.FR.02, C12.FR.05
            if result.ok and isinstance(result.response, m.AuthorizeResponse):
                info = result.response.id_token_info
                self.learn(id_token, info)
                return info
        if cached is not None and self._model.get_bool(LOCAL_AUTHORIZATION_OFFLINE.key):
            return self._used(id_token, cached)  # LocalAuthorizationOffline
        if cached is None and self._model.get_bool(OFFLINE_TX_FOR_UNKNOWN_ID.key):
            return m.IdTokenInfoType(status=Status.ACCEPTED)
        return m.IdTokenInfoType(status=cached.status if cached else Status.UNKNOWN)

    async def authorize_to_stop(self, id_token: m.IdTokenType) -> m.IdTokenInfoType:
        """What an idToken presented to end another's authorization is: one the cache holds valid is taken as it is,
        without an Authorize first (C01.FR.03, C09.FR.07); any other is asked for (C09.FR.05)."""
        cached = self.cached(id_token)
        if cached is not None and cached.status is Status.ACCEPTED:
            return self._used(id_token, cached)
        return await self.authorize(id_token)

    def _used(self, id_token: m.IdTokenType, info: m.IdTokenInfoType) -> m.IdTokenInfoType:
        """The cache's word acted on: an Accepted entry is stored again, so that its LifeTime runs from this use
        (C10.FR.08); one with a cacheExpiryDateTime keeps it (C10.FR.13)."""
        if info.status is Status.ACCEPTED:
            self.learn(id_token, info)
        return info

    def master_pass(self, info: m.IdTokenInfoType) -> bool:
        """Is this the IdTokenInfo of a master pass: Accepted, its groupIdToken AuthCtrlr.MasterPassGroupId?"""
        master = self._model.get(MASTER_PASS_GROUP_ID.key) or ""
        group = info.group_id_token
        return bool(master) and isinstance(group, m.IdTokenType) and group.id_token.lower() == master.lower()

    def offline(self) -> str | None:
        """Why the central system cannot be asked now (no connection, or a boot not accepted: B02.FR.02,
        B03.FR.02), in words; None when it can."""
        if not self._lane.connected:
            return "offline"
        if not self._boot.accepted:
            registration = self._boot.registration
            return f"the boot is {registration.value if registration else 'not answered yet'}"
        return None

    def learn(self, id_token: m.IdTokenType, info: m.IdTokenInfoType) -> None:
        """An IdTokenInfo from the central system (Authorize, TransactionEvent): cached, valid or not (C10.FR.01,
        C10.FR.04, C10.FR.05)."""
        if not self._model.get_bool(CACHE_ENABLED.key) or id_token.type in _NOT_CACHED:
            return
        now = self._clock.now().timestamp()
        if isinstance(info.cache_expiry_date_time, datetime):
            expires = info.cache_expiry_date_time.timestamp()
        else:
            expires = now + self._model.get_int(CACHE_LIFE_TIME.key, 86400)  # C10.FR.08
        self._cache.put(id_token.id_token, id_token.type, msgspec.json.encode(info), expires_at=expires, now=now,
                        keep=CACHE_ENTRIES)  # fmt: skip

    def cached(self, id_token: m.IdTokenType) -> m.IdTokenInfoType | None:
        """The cache's IdTokenInfo of an idToken; an expired one says Expired, None if not held."""
        return _as_cached(self._entry(id_token))

    def _entry(self, id_token: m.IdTokenType) -> tuple[m.IdTokenInfoType, bool] | None:
        """The cache's IdTokenInfo of an idToken as the central system gave it, and whether its time in the cache is
        over (C10.FR.08, C10.FR.13); None if not held or the cache is off."""
        if not self._model.get_bool(CACHE_ENABLED.key):
            return None
        held = self._cache.get(id_token.id_token, id_token.type)
        if held is None:
            return None
        info = msgspec.json.decode(held[0], type=m.IdTokenInfoType)
        return info, held[1] is not None and held[1] <= self._clock.now().timestamp()

    def customer_data(self, id_token: m.IdTokenType) -> list[str]:
        """What the cache holds of an idToken, in words (N09.FR.05); it is read even when the cache is off."""
        held = self._cache.get(id_token.id_token, id_token.type)
        if held is None:
            return []
        info = msgspec.json.decode(held[0], type=m.IdTokenInfoType)
        expires = "" if held[1] is None else f", until {datetime.fromtimestamp(held[1], UTC):%Y-%m-%dT%H:%M:%SZ}"
        return [f"authorization cache: {id_token.type} {id_token.id_token} {info.status}{expires}"]

    def forget(self, id_token: m.IdTokenType) -> bool:
        """CustomerInformation clear (N10.FR.03/06): the idToken's cache entry goes."""
        return self._cache.delete(id_token.id_token, id_token.type)


def _as_cached(entry: tuple[m.IdTokenInfoType, bool] | None) -> m.IdTokenInfoType | None:
    """A cache entry as the station reads it: one whose time is over says Expired."""
    if entry is None:
        return None
    info, over = entry
    return msgspec.structs.replace(info, status=Status.EXPIRED) if over else info


# C10: what the cache holds are tokens the central system knows; a station's own have nothing to cache.
_NOT_CACHED: Final = frozenset({m.IdTokenEnumType.CENTRAL, m.IdTokenEnumType.NO_AUTHORIZATION})


def _build(kernel: Kernel[DeviceModel], needs: Needs) -> AuthorizationService:
    return AuthorizationService(lane=kernel.lane, boot=needs(BootService), store=kernel.store, model=kernel.config,
                                clock=kernel.clock, log=kernel.log)  # fmt: skip


FEATURE: Final = Feature(
    name="authorization",
    profile=Block.AUTHORIZATION,
    service=AuthorizationService,
    build=_build,
    actions=frozenset({m.Action.CLEAR_CACHE}),
    variables=(
        AUTHORIZE_REMOTE_START,
        LOCAL_AUTHORIZATION_OFFLINE,
        LOCAL_PRE_AUTHORIZE,
        OFFLINE_TX_FOR_UNKNOWN_ID,
        MASTER_PASS_GROUP_ID,
        CACHE_ENABLED,
        CACHE_AVAILABLE,
        CACHE_LIFE_TIME,
        CACHE_POLICY,
        CACHE_DISABLE_POST_AUTHORIZE,
    ),
    tables=frozenset({"id_token_cache"}),
    needs=(BootService,),
)
