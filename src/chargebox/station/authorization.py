"""Authorization: the authorization cache and ClearCache (C-9, A-8).

Answers: ClearCache. The cache lives in the store (it survives reboots, A-8); the transactions
issue adds lookup and the Authorize message on top of it.
"""

from __future__ import annotations

import logging

from chargebox.protocol.messages import Action, ClearCacheRequest, ClearCacheResponse, ClearCacheStatus
from chargebox.rpc import Handler
from chargebox.store import Store


class AuthorizationService:
    def __init__(self, *, store: Store, log: logging.LoggerAdapter[logging.Logger] | logging.Logger) -> None:
        self._store = store
        self._log = log

    def handlers(self) -> dict[Action, Handler]:
        return {Action.CLEAR_CACHE: self.on_clear_cache}

    def on_clear_cache(self, _request: ClearCacheRequest) -> ClearCacheResponse:
        """C-9: empty the cache (the local list is untouched) and say Accepted."""
        removed = self._store.auth_cache.count()
        self._store.auth_cache.clear()
        self._log.info("= authorization cache cleared (%d entries)", removed)
        return ClearCacheResponse(status=ClearCacheStatus.ACCEPTED)

    def reset(self) -> None:
        """The cache is persistent state and survives a reset (A-8)."""
