"""Local Auth List Management: SendLocalList and GetLocalListVersion (checklist 5.1, L-1..L-8, C-12).

Answers: SendLocalList, GetLocalListVersion. The list is the first place a card is looked up (the
service is one of the authorization service's ``lists``): list, then cache, then Authorize.req. A
list entry is never copied into the cache, and no answer of the central system changes it (L-6):
only SendLocalList does, all of it or nothing (L-4), in one commit with its version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import msgspec

from chargebox.clock import Clock
from chargebox.log import Log
from chargebox.protocol.messages import (
    Action,
    AuthorizationData,
    AuthorizationStatus,
    ChargePointErrorCode,
    GetLocalListVersionRequest,
    GetLocalListVersionResponse,
    IdTagInfo,
    SendLocalListRequest,
    SendLocalListResponse,
    UpdateStatus,
    UpdateType,
)
from chargebox.rpc import Handler
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.config import Configuration
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.service import Service
from chargebox.station.v16.authorization import AuthorizationService
from chargebox.station.v16.config_keys import Profile
from chargebox.station.v16.connectors import ConnectorsService
from chargebox.store import Store
from chargebox.store.local_list import LocalListEntry

DISABLED_VERSION = -1  # C-12, L-1: GetLocalListVersion's answer when the list is not in use or not offered


class LocalListService(Service):
    def __init__(
        self,
        *,
        store: Store,
        config: Configuration,
        connectors: ConnectorsService,
        clock: Clock,
        log: Log,
    ) -> None:
        self._store = store
        self._config = config
        self._connectors = connectors
        self._clock = clock
        self._log = log

    def handlers(self) -> dict[Action, Handler]:
        return {
            Action.SEND_LOCAL_LIST: self.on_send_local_list,
            Action.GET_LOCAL_LIST_VERSION: self.on_get_local_list_version,
        }

    @property
    def enabled(self) -> bool:
        return self._config.get_bool("LocalAuthListEnabled")

    def lookup(self, id_tag: str) -> IdTagInfo | None:
        """The list's IdTagInfo for ``id_tag`` (Expired once its expiryDate passed, A-6), None when the
        card is not listed or the list is disabled."""
        if not self.enabled:
            return None
        entry = self._store.local_list.get(id_tag)
        if entry is None:
            return None
        expiry = datetime.fromisoformat(entry.expiry_date) if entry.expiry_date else None
        status = AuthorizationStatus(entry.status)
        if expiry is not None and expiry <= self._clock.now():
            status = AuthorizationStatus.EXPIRED
        return IdTagInfo(
            status=status,
            expiry_date=msgspec.UNSET if expiry is None else expiry,
            parent_id_tag=msgspec.UNSET if entry.parent_id_tag is None else entry.parent_id_tag,
        )

    def conflict(self, id_tag: str) -> None:
        """L-7: the central system's IdTagInfo for a listed card differs from the list: connector 0
        reports LocalListConflict (its status unchanged) until the next accepted SendLocalList."""
        self._log.warning("! local list conflict for %s", id_tag)
        self._connectors.warn(0, ChargePointErrorCode.LOCAL_LIST_CONFLICT, f"idTag {id_tag}")

    def on_get_local_list_version(self, _request: GetLocalListVersionRequest) -> GetLocalListVersionResponse:
        """C-12: the version, 0 for a list never set or empty, -1 while the list is disabled (L-1)."""
        return GetLocalListVersionResponse(list_version=self.version() if self.enabled else DISABLED_VERSION)

    def version(self) -> int:
        """C-12 (TC_042_2): 0 when the list is empty, whatever version emptied it (a Full without entries, or a
        Differential removing the last); a Differential is checked against the same value (L-3)."""
        return self._store.local_list.version() if self._store.local_list.count() else 0

    def on_send_local_list(self, request: SendLocalListRequest) -> SendLocalListResponse:
        status = self._apply(request)
        self._log.info("= SendLocalList %s version %d: %s", request.update_type, request.list_version, status)
        return SendLocalListResponse(status=status)

    def _apply(self, request: SendLocalListRequest) -> UpdateStatus:
        if not self.enabled:
            return UpdateStatus.NOT_SUPPORTED  # L-1 (TC_043_1_CS)
        entries: list[AuthorizationData] = (
            [] if request.local_authorization_list is msgspec.UNSET else request.local_authorization_list
        )
        if request.list_version <= 0:
            return UpdateStatus.FAILED  # L-5: 0 and -1 have their own meanings
        if len(entries) > self._config.get_int("SendLocalListMaxLength"):
            return UpdateStatus.FAILED  # L-4
        if len({e.id_tag.lower() for e in entries}) != len(entries):
            return UpdateStatus.FAILED  # L-4: the same idTag twice (idTags ignore case, G-1)
        full = request.update_type is UpdateType.FULL
        if full and any(e.id_tag_info is msgspec.UNSET for e in entries):
            return UpdateStatus.FAILED  # L-4: a Full list gives every card its IdTagInfo
        if not full and request.list_version <= self.version():
            return UpdateStatus.VERSION_MISMATCH  # L-3 (TC_043_2_CS)
        put = [_entry(e.id_tag, e.id_tag_info) for e in entries if e.id_tag_info is not msgspec.UNSET]
        remove = [e.id_tag for e in entries if e.id_tag_info is msgspec.UNSET]
        if full:
            size = len(put)
        else:
            current = {entry.id_tag.lower() for entry in self._store.local_list.all()}
            size = len((current - {r.lower() for r in remove}) | {e.id_tag.lower() for e in put})
        if size > self._config.get_int("LocalAuthListMaxLength"):
            return UpdateStatus.FAILED  # L-4: the list would be too long; nothing changes
        self._store.local_list.update(request.list_version, put=put, remove=remove, full=full)
        self._connectors.clear_warning(0, ChargePointErrorCode.LOCAL_LIST_CONFLICT)  # L-7: a new list settles it
        return UpdateStatus.ACCEPTED

    def reset(self) -> None:
        """The list is persistent state: nothing to forget."""


def _entry(id_tag: str, info: IdTagInfo) -> LocalListEntry:
    return LocalListEntry(
        id_tag,
        info.status.value,
        None if info.expiry_date is msgspec.UNSET else info.expiry_date.isoformat(),
        None if info.parent_id_tag is msgspec.UNSET else info.parent_id_tag,
    )


def _build(kernel: Kernel, needs: Needs) -> LocalListService:
    service = LocalListService(store=kernel.store, config=kernel.config, connectors=needs(ConnectorsService),
                               clock=kernel.clock, log=kernel.log)  # fmt: skip
    needs(AuthorizationService).lists.append(service)  # list -> cache -> Authorize.req (checklist 5.1)
    return service


FEATURE: Final = Feature(
    name="local_list",
    profile=Profile.LOCAL_AUTH_LIST_MANAGEMENT,
    service=LocalListService,
    build=_build,
    actions=frozenset({Action.SEND_LOCAL_LIST, Action.GET_LOCAL_LIST_VERSION}),
    keys=frozenset({"LocalAuthListEnabled", "LocalAuthListMaxLength", "SendLocalListMaxLength"}),
    tables=frozenset({"local_list", "local_list_version"}),
    needs=(ConnectorsService, AuthorizationService),
    absent={  # L-1, C-12 (TC_042_1, TC_043_1): the answers of a station without a local list
        Action.GET_LOCAL_LIST_VERSION: lambda _request: GetLocalListVersionResponse(list_version=DISABLED_VERSION),
        Action.SEND_LOCAL_LIST: lambda _request: SendLocalListResponse(status=UpdateStatus.NOT_SUPPORTED),
    },
)
