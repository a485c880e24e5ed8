"""What an OCPP 1.6 station offers, read from its settings before anything is opened.

Its feature profiles (SupportedFeatureProfiles: the features the station builds, K-4), its connectors
(NumberOfConnectors or ``--connectors``), and the configuration it starts with: the station
template's values over the catalogue's defaults, and the facts its hardware dictates. A template the
station cannot honour is a ``ConfigError`` naming the key, before a store row or a task exists.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from chargebox.errors import ConfigError
from chargebox.station.kernel.config import Configuration
from chargebox.station.kernel.settings import StationSettings
from chargebox.station.v16.config_keys import MAX_CONNECTORS, Profile, served_keys
from chargebox.store import Store

# Every feature profile is implemented (the six of 1.6 and the whitepaper's Security); a template may offer fewer
# of the six. Security is not a 1.6 feature profile (SupportedFeatureProfiles never lists it): the whitepaper's
# certificates, security events, security log, GetLog and ExtendedTriggerMessage are offered beside whatever the
# template names, as libocpp does, so a central system provisioning a station finds them (docs/howto/security.md).
IMPLEMENTED_PROFILES: Final = frozenset(Profile)
ALWAYS_OFFERED: Final = frozenset({Profile.CORE, Profile.SECURITY})
DEFAULT_PROFILES: Final = IMPLEMENTED_PROFILES
# Not a profile: the switch (``signed_firmware_only``) that offers SignedUpdateFirmware, which SF-10 says must then
# replace plain UpdateFirmware. Off by default, so a central system that knows only UpdateFirmware can update.
SIGNED_FIRMWARE_ONLY: Final = "SignedFirmwareOnly"


@dataclass(frozen=True, slots=True)
class Offer:
    """The profiles and connectors of a station, and the template they were read from."""

    profiles: frozenset[Profile]
    connectors: int
    template: Mapping[str, object]
    signed_firmware_only: bool = False

    @property
    def offered(self) -> frozenset[str]:
        """What builds features: the profiles, and the signed-firmware switch when it is on."""
        return self.profiles | ({SIGNED_FIRMWARE_ONLY} if self.signed_firmware_only else set())


def offer(settings: StationSettings) -> Offer:
    """The station's offer; ConfigError if the settings contradict themselves."""
    template = _template(settings)
    return Offer(
        _profiles(template, settings.ocpp_config_source),
        _connector_count(settings, template),
        template,
        settings.signed_firmware_only,
    )


def connector_count(settings: StationSettings) -> int:
    """The number of connectors the settings give (``--connectors`` or NumberOfConnectors), checked."""
    return _connector_count(settings, _template(settings))


def configuration(
    offered: Offer, settings: StationSettings, store: Store, log: logging.LoggerAdapter[logging.Logger]
) -> Configuration:
    """The keys of the offered profiles, their stored values, the template's, and the hardware's facts."""
    profiles, count = offered.profiles, offered.connectors
    config = Configuration(
        store=store,
        keys=served_keys(profiles, settings.fixed_cable),
        known=served_keys(IMPLEMENTED_PROFILES, settings.fixed_cable),  # a template may name any of them
        facts={
            "NumberOfConnectors": str(count),
            "ConnectorPhaseRotationMaxLength": str(count + 1),
            # the whitepaper's Security is offered beside the profiles, not listed among them
            "SupportedFeatureProfiles": ",".join(
                p.value for p in Profile if p in profiles and p is not Profile.SECURITY
            ),
        },
        log=log,
    )
    # SupportedFeatureProfiles is a fact (above), read by _profiles; the template's may name Security, which
    # the key itself never lists (it is not a 1.6 feature profile)
    values = {k: v for k, v in offered.template.items() if k.lower() != "supportedfeatureprofiles"}
    config.load_template(values, settings.ocpp_config_source)
    return config


def _template(settings: StationSettings) -> dict[str, object]:
    if not isinstance(settings.ocpp_config, Mapping):
        raise ConfigError(f"{settings.ocpp_config_source}: a 1.6 station's configuration is an object of key -> value")
    template = dict(settings.ocpp_config)
    if settings.password is not None:
        template.setdefault("AuthorizationKey", settings.password)
        template.setdefault("SecurityProfile", 1)
    if settings.tls.security_profile is not None:
        template["SecurityProfile"] = settings.tls.security_profile
    return template


def _profiles(template: Mapping[str, object], source: str) -> frozenset[Profile]:
    raw = _template_value(template, "SupportedFeatureProfiles", source)
    if raw is None:
        return DEFAULT_PROFILES
    names = raw if isinstance(raw, list) else [p.strip() for p in str(raw).split(",") if p.strip()]
    profiles = set()
    for name in names:
        try:
            profile = Profile(name)
        except ValueError:
            raise ConfigError(f"{source}: SupportedFeatureProfiles: unknown profile {name!r}") from None
        profiles.add(profile)
    if Profile.CORE not in profiles:
        raise ConfigError(f"{source}: SupportedFeatureProfiles must include Core")
    return frozenset(profiles) | ALWAYS_OFFERED


def _connector_count(settings: StationSettings, template: Mapping[str, object]) -> int:
    """Checked before anything is allocated per connector (store rows, timers, tasks)."""
    source = settings.ocpp_config_source
    if settings.evses is not None:
        raise ConfigError(
            f"evses {list(settings.evses)}: an OCPP 2.0.1 station's EVSE layout; a 1.6 station has connectors "
            "(connectors, --connectors), each its own"
        )
    if settings.connectors is not None and not 1 <= settings.connectors <= MAX_CONNECTORS:
        raise ConfigError(f"connectors: {settings.connectors} is not 1 to {MAX_CONNECTORS}")
    raw = _template_value(template, "NumberOfConnectors", source)
    if raw is None:
        return settings.connectors or 1
    try:
        count = int(str(raw))
    except ValueError:
        raise ConfigError(f"{source}: NumberOfConnectors: not an integer: {raw!r}") from None
    if not 1 <= count <= MAX_CONNECTORS:
        raise ConfigError(f"{source}: NumberOfConnectors: must be 1 to {MAX_CONNECTORS}")
    if settings.connectors is not None and settings.connectors != count:
        raise ConfigError(f"{source}: NumberOfConnectors={count} contradicts --connectors {settings.connectors}")
    return count


def _template_value(template: Mapping[str, object], name: str, source: str) -> object | None:
    """A template key, matched case-insensitively as configuration keys are (G-1); two spellings
    of it are an error, since either value could be the one meant."""
    found = [(key, value) for key, value in template.items() if key.lower() == name.lower()]
    if len(found) > 1:
        raise ConfigError(
            f"{source}: {found[0][0]!r} and {found[1][0]!r} are the same configuration key (keys ignore case)"
        )
    return found[0][1] if found else None
