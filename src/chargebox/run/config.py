"""The station file of ``chargebox run``: ``[station]``, ``[ocpp]`` and ``[hardware]`` (see
``docs/howto/integrate.md`` for a complete one).

``[station] ocpp`` is the OCPP version the station speaks ("1.6", the default, or "2.0.1"); ``[ocpp]`` is what its
configuration starts with: 1.6's configuration keys, or 2.0.1's device-model entries as ``[[ocpp.entries]]``
tables (``chargebox device-model`` prints them: component, variable, value).

Everything is checked here, before a file is opened or a port is touched, and every problem is one line that
names the key (``station.toml: [station] csms: ...``). ``[station]`` keys map one to one onto the options of
``chargebox simulate`` and the fields of ``StationSettings``; a new key is one line in ``read_station``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from chargebox import security_profile
from chargebox.errors import ConfigError
from chargebox.protocol.identity import MAX_ID_LENGTH, identity_problem
from chargebox.protocol.messages import Reason
from chargebox.redact import redact
from chargebox.run.hardware import HardwarePlan, read_hardware
from chargebox.run.section import Section
from chargebox.security_profile import ProfileChoice
from chargebox.station.kernel.settings import Identity
from chargebox.station.kernel.tls import TlsSettings
from chargebox.station.station import VERSIONS, StationSettings, connector_count
from chargebox.station.v16.config_keys import MAX_CONNECTORS
from chargebox.transfer import TransferSettings, UploadMethod
from chargebox.transport import ReconnectPolicy, csms_url_problem
from chargebox.user_files import MAX_CONFIG_BYTES, MIB, ca_context, parse_config, read_text

PASSWORD_LENGTH: Final = (16, 40)  # T-41: the AuthorizationKey rule


@dataclass(frozen=True, slots=True)
class RunConfig:
    settings: StationSettings
    hardware: HardwarePlan
    profile: ProfileChoice  # the SecurityProfile it starts with, and why (logged at start)


def load(path: Path) -> RunConfig:
    """Read and check the whole file; ``ConfigError`` (one line) on the first problem."""
    return parse(parse_config(read_text(path, "--config", MAX_CONFIG_BYTES), path.name, toml=True), path.name)


def parse(data: dict[str, Any], name: str = "station.toml") -> RunConfig:
    root = Section(name, "", data)
    if not root.has("station"):
        raise ConfigError(f"{name}: [station]: required")
    station = Section(name, "station", root.table("station"))
    ocpp = root.table("ocpp", {})
    hardware = Section(name, "hardware", root.table("hardware")) if root.has("hardware") else None
    for key in data:
        if key not in ("station", "ocpp", "hardware"):
            raise ConfigError(f"{name}: [{key}]: unknown table (expected [station], [ocpp], [hardware])")
    settings, profile = read_station(station, ocpp)
    try:
        count = connector_count(settings)
    except ConfigError as exc:
        raise ConfigError(f"{name}: {exc}") from exc
    if hardware is None:
        raise ConfigError(f"{name}: [hardware]: required (a driver for each port; 'simulated' on a bench)")
    plan = read_hardware(hardware, connectors=count, fixed_cable=settings.fixed_cable)
    return RunConfig(settings, plan, profile)


def read_station(s: Section, ocpp: dict[str, object]) -> tuple[StationSettings, ProfileChoice]:
    version = s.choice("ocpp", VERSIONS, "1.6")
    initial = _initial(s.file, version, ocpp)
    charge_point_id = s.string("id", max_length=MAX_ID_LENGTH)
    if (problem := identity_problem(charge_point_id)) is not None:  # the rule simulate and fleet ids follow
        raise s.error("id", problem)
    csms = s.string("csms", max_length=2048)
    if (problem := csms_url_problem(csms)) is not None:
        raise s.error("csms", f"{redact(csms)!r}: {problem}")
    password = s.ascii("password", None, max_length=PASSWORD_LENGTH[1])  # no message echoes the password
    if password is not None and len(password) < PASSWORD_LENGTH[0]:
        raise s.error("password", "must be 16 to 40 printable ASCII characters (the AuthorizationKey rule)")
    ca_file = s.path("ca_file", None)
    cert_file, key_file = s.path("cert", None), s.path("key", None)
    profile = security_profile.choose(
        s.integer("security_profile", 0, 3, None), csms, option="[station] security_profile",
        password=password is not None, client_certificate=cert_file is not None and key_file is not None,
        initial=security_profile.initial_keys(initial),
    )  # fmt: skip
    settings = StationSettings(
        charge_point_id=charge_point_id,
        csms_url=csms,
        ocpp=version,
        identity=Identity(  # B-1: the CiString limits of BootNotification
            vendor=s.ascii("vendor", max_length=20),
            model=s.ascii("model", max_length=20),
            serial_number=s.ascii("serial", None, max_length=25),
            firmware_version=s.ascii("firmware_version", None, max_length=50),
        ),
        connectors=s.integer("connectors", 1, MAX_CONNECTORS, None),
        evses=s.integers("evses", 1, MAX_CONNECTORS, None),  # 2.0.1: the offer checks the layout and the version
        data_dir=s.path("data_dir"),  # a real charger never runs from memory
        password=password,
        ocpp_config=initial,
        ocpp_config_source=f"{s.file} [ocpp]",
        fixed_cable=s.boolean("fixed_cable", False),
        compression=s.boolean("compression", False),
        # chargebox run is the charger's own service, started again by its service manager
        sigterm_reason=Reason(s.choice("sigterm_reason", (Reason.REBOOT.value, Reason.OTHER.value), "Reboot")),
        signed_firmware_only=s.boolean("signed_firmware_only", False),  # as simulate --signed-firmware-only
        install_root=s.path("install_root", None),  # as simulate --install-root
        reconnect=ReconnectPolicy(max_attempts=s.integer("give_up_after", 1, 1_000_000, None)),
        tls=TlsSettings(  # as simulate's --ca-file --tls-server-name --cert --key --security-profile
            ca_file=ca_file,
            server_name=s.ascii("tls_server_name", None, max_length=253),
            cert_file=cert_file,
            key_file=key_file,
            security_profile=profile.profile,
        ),
        transfer=TransferSettings(
            ssl_context=_ca_context(s, ca_file) if ca_file is not None else None,
            upload_method=UploadMethod(s.choice("upload_method", ("put", "post"), "put").upper()),
            max_download_bytes=s.integer("max_download_mb", 1, 1 << 20, TransferSettings().max_download_bytes // MIB)
            * MIB,
        ),
    )
    s.done()
    return settings, profile


def _initial(file: str, version: str, ocpp: dict[str, object]) -> dict[str, object] | list[dict[str, object]]:
    """``[ocpp]`` as the station of ``version`` takes it: 1.6's keys as they are, 2.0.1's ``entries`` as a list
    (each entry is checked by the device model when the station is built, naming the file)."""
    if version == "1.6":
        return ocpp
    entries = ocpp.get("entries", [])
    if set(ocpp) - {"entries"} or not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{file}: [ocpp]: a 2.0.1 station starts from device-model entries, as [[ocpp.entries]] "
                          "tables (component, variable, value: chargebox device-model prints them)")  # fmt: skip
    return entries


def _ca_context(s: Section, path: Path) -> ssl.SSLContext:
    try:
        return ca_context(path, "")
    except ConfigError as exc:
        raise s.error("ca_file", str(exc)) from exc
