"""Core profile: GetConfiguration (K-1..K-5) and ChangeConfiguration (K-10..K-13) over the key store."""

from __future__ import annotations

from typing import Final

import msgspec

from chargebox.log import Log
from chargebox.protocol.messages import (
    Action,
    ChangeConfigurationRequest,
    ChangeConfigurationResponse,
    ConfigurationStatus,
    GetConfigurationRequest,
    GetConfigurationResponse,
    KeyValue,
)
from chargebox.rpc import Handler, Reply
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.config import Access, ConfigKey, Configuration
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.service import Service
from chargebox.station.v16.config_keys import Profile


class ConfigurationService(Service):
    """Core profile: GetConfiguration and ChangeConfiguration."""

    def __init__(self, *, config: Configuration, log: Log) -> None:
        self._config = config
        self._log = log

    def handlers(self) -> dict[Action, Handler]:
        return {
            Action.GET_CONFIGURATION: self.on_get_configuration,
            Action.CHANGE_CONFIGURATION: self.on_change_configuration,
        }

    def on_get_configuration(self, request: GetConfigurationRequest) -> GetConfigurationResponse:
        config = self._config
        requested = [] if request.key is msgspec.UNSET else list(request.key)
        if not requested:  # K-1: all keys
            found = config.keys()
            unknown: list[str] = []
        else:
            limit = config.get_int("GetConfigurationMaxKeys", default=len(requested))
            if len(requested) > limit:  # K-3: answered for the first N keys only
                self._log.warning("GetConfiguration asked for %d keys; answering the first %d", len(requested), limit)
                requested = requested[:limit]
            found, unknown = [], []
            for name in dict.fromkeys(requested):
                if config.has(name):
                    found.append(config.key(name))
                else:
                    unknown.append(name)  # K-2
        entries = [self._entry(key) for key in found]
        return GetConfigurationResponse(
            configuration_key=entries if entries else msgspec.UNSET,
            unknown_key=unknown if unknown else msgspec.UNSET,
        )

    def _entry(self, key: ConfigKey) -> KeyValue:
        value = None if key.access is Access.WRITE_ONLY else self._config.configured(key.name)  # K-5, T-41
        return KeyValue(key=key.name, readonly=key.readonly, value=msgspec.UNSET if value is None else value)

    def on_change_configuration(
        self, request: ChangeConfigurationRequest
    ) -> ChangeConfigurationResponse | Reply[ChangeConfigurationResponse]:
        config = self._config
        status = ConfigurationStatus(config.change(request.key, request.value, notify=False))
        if config.has(request.key) and config.key(request.key).access is Access.WRITE_ONLY:
            self._log.info("= %s changed: %s (value not logged)", request.key, status)
        else:
            self._log.info("= %s=%r: %s", request.key, request.value, status)
        response = ChangeConfigurationResponse(status=status)
        if status is not ConfigurationStatus.ACCEPTED:
            return response

        async def take_effect() -> None:  # B-7, T-30, T-35: at once, after the answer (T-23)
            config.notify(request.key)

        return Reply(response, then=take_effect)


def _build(kernel: Kernel, _needs: Needs) -> ConfigurationService:
    return ConfigurationService(config=kernel.config, log=kernel.log)


FEATURE: Final = Feature(
    name="configuration",
    profile=Profile.CORE,
    service=ConfigurationService,
    build=_build,
    actions=frozenset({Action.GET_CONFIGURATION, Action.CHANGE_CONFIGURATION}),
    keys=frozenset({"ConnectorPhaseRotationMaxLength", "GetConfigurationMaxKeys"}),
)
