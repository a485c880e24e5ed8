"""The SecurityProfile a station starts with (checklist 1.6), when the operator names none.

Other charge point stacks take the profile from what they are given, and so does chargebox: ``wss://`` with a
ChargePointCertificate and its key is 3 (mutual TLS), ``wss://`` alone 2 (Basic auth over TLS), ``ws://`` with a
password 1 (Basic auth), else 0. A profile given explicitly (``--security-profile``, ``[station]
security_profile``) or in the initial configuration (``SecurityProfile``) is used as given, and one that
contradicts the URL stays an error (``station/link.py``). ``simulate``, ``fleet`` and ``run`` all choose here, and
log the choice and its reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class ProfileChoice:
    """``profile`` for ``TlsSettings.security_profile`` (None: the initial configuration's stands) and why."""

    profile: int | None
    reason: str

    def describe(self, effective: int | None = None) -> str:
        """The log line's text; ``effective`` is the profile the station read from its configuration, where a
        data dir may hold one the central system raised (T-43), which is then kept."""
        if effective is None:
            effective = self.profile
        if effective is None:
            return f"the security profile of the {self.reason}"
        if self.profile is not None and effective != self.profile:
            return f"security profile {effective} (kept from the data dir)"
        return f"security profile {effective} ({self.reason})"


def choose(
    explicit: int | None,
    csms_url: str,
    *,
    option: str,
    password: bool,
    client_certificate: bool,
    initial: Mapping[str, object],
) -> ProfileChoice:
    """The profile to start with: ``explicit`` (named by ``option`` in the log), else the initial configuration's,
    else the one the URL and credentials imply."""
    if explicit is not None:
        return ProfileChoice(explicit, f"{option} {explicit}")
    if any(key.lower() == "securityprofile" for key in initial):
        return ProfileChoice(None, "initial configuration (SecurityProfile)")
    if urlsplit(csms_url).scheme.lower() == "wss":
        if client_certificate:
            return ProfileChoice(3, "implied by wss:// with a client certificate and key")
        return ProfileChoice(2, "implied by wss://")
    if password:
        return ProfileChoice(1, "implied by ws:// with a password")
    return ProfileChoice(0, "implied by ws:// without a password")


def initial_keys(ocpp_config: Mapping[str, object] | Sequence[Mapping[str, object]]) -> Mapping[str, object]:
    """What an initial configuration sets, by key (``choose``'s ``initial``): 1.6's object as it is, 2.0.1's
    device-model entries by their variable's name."""
    if isinstance(ocpp_config, Mapping):
        return ocpp_config
    variables = (entry.get("variable") for entry in ocpp_config)
    return {str(variable.get("name")): True for variable in variables if isinstance(variable, dict)}
