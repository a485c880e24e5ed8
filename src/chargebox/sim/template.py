"""Station templates (TOML): what kind of charger every station of a fleet is.

::

    vendor = "Acme"                 # BootNotification (B-1: CiString20)
    model = "Wallbox 22"
    connectors = 2
    max_current = 32                # amps per phase each connector offers at most
    phases = 3                      # the supply: an EV on three phases charges on at most this many

    [station]
    ocpp = "1.6"                    # the OCPP version every station speaks ("2.0.1"; fleet --ocpp overrides it)
    # evses = [2, 1]                # 2.0.1: the connectors of each EVSE, EVSE 1 first (instead of connectors;
                                    # fleet --connectors N overrides it: N EVSEs of one connector)

    [meter]                         # how the station meters (its configuration keys)
    sample_interval = 60            # MeterValueSampleInterval, seconds
    measurands = ["Energy.Active.Import.Register", "Power.Active.Import", "SoC"]

    [config]                        # any other configuration key, as the station reads it at start (1.6 only)
    HeartbeatInterval = 300

    [[ev]]                          # the EVs that come to charge (default: sim/ev.py's models)
    name = "van"
    capacity_kwh = 75               # the battery (required)
    max_current = 16                # amps per phase it takes at most (or max_power_kw = 11: over its phases)
    phases = 3
    taper_soc = 80                  # full current up to 80 %, then less and less towards full
    soc_min = 10                    # it arrives with 10 to 70 % (uniform)
    soc_max = 70
    target_soc = 100                # it leaves once charged to here, or at its session's end
    weight = 2                      # twice as often as a model of weight 1

    [auto]                          # fleet --auto: when EVs come and how long they stay, per connector
    mean_gap = 900                  # mean seconds from an EV leaving to the next arriving (exponential)
                                    # or arrival_rate = 4: EVs per hour (not both)
    session_min = 600               # a session lasts session_min to session_max seconds (uniform)
    session_max = 5400
    cards = 50                      # idTags card_pattern.format(0..49), or a list: cards = ["04A1B2", "04C3D4"]
    card_pattern = "AUTO{:04d}"
    start_probability = 0.9         # the others plug, present no card, and leave after their session's length
    sessions = 0                    # EVs per connector, then it stops generating (0: no end)

The ``[auto]`` defaults (``AutoSettings``) are made to be seen at work within a minute: an EV about every 20 s per
connector, staying 30 s to 5 min. A load test of a real day sets a real day's figures here or with ``fleet
--mean-gap`` and ``--session-seconds``.

``[meter]`` and ``[config]`` are OCPP 1.6 configuration keys: a template that sets them is refused for a fleet
with 2.0.1 stations (``check_versions``), whose configuration is a device model.

Every value is checked when the file is read; a bad one is one ``ConfigError`` naming the file and
the key, before any station starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from chargebox.auto_sessions import (
    MAX_ARRIVAL_RATE,
    MAX_AUTO_SECONDS,
    MAX_CARDS,
    MAX_SESSIONS,
    MIN_ARRIVAL_RATE,
    MIN_AUTO_SECONDS,
    AutoSettings,
    arrival_gap,
    card_list_problem,
    card_problem,
)
from chargebox.errors import ConfigError
from chargebox.sim.ev import EV_MODELS, EvModel
from chargebox.station.station import VERSIONS
from chargebox.station.v16.config_keys import MAX_CONNECTORS
from chargebox.station.v201.offer import MAX_CONNECTORS_PER_EVSE, MAX_EVSES
from chargebox.user_files import read_config

_TOP: Final = frozenset(
    {"station", "vendor", "model", "connectors", "max_current", "phases", "meter", "config", "ev", "auto"}
)
_EV: Final = frozenset(
    {"name", "capacity_kwh", "max_current", "max_power_kw", "phases", "taper_soc", "soc_min", "soc_max", "target_soc",
     "weight"}
)  # fmt: skip
_AUTO: Final = frozenset(
    {"mean_gap", "arrival_rate", "session_min", "session_max", "cards", "card_pattern", "start_probability",
     "sessions"}
)  # fmt: skip
VOLTAGE: Final = 230.0  # max_power_kw to amps per phase (sim/hardware.py's mains)


@dataclass(frozen=True, slots=True)
class Template:
    vendor: str = "chargebox"
    model: str = "Simulator"
    connectors: int | None = None
    evses: tuple[int, ...] | None = None  # [station] evses: 2.0.1's connectors of each EVSE
    max_current: float = 32.0
    phases: int = 3
    config: Mapping[str, object] = field(default_factory=dict)
    evs: tuple[EvModel, ...] = tuple(EV_MODELS.values())
    auto: AutoSettings = field(default_factory=AutoSettings)
    ocpp: str | None = None  # [station] ocpp; None: not said (1.6, unless fleet --ocpp says otherwise)
    source: str = "--template"  # where it was read, for a message about it


def read_template(path: Path) -> Template:
    """Raises:
    ConfigError: the file cannot be read, is not TOML, or a value is out of range."""
    return parse_template(read_config(path, "--template", toml=True), str(path))


def parse_template(data: Mapping[str, Any], source: str) -> Template:
    def bad(key: str, why: str) -> ConfigError:
        return ConfigError(f"--template {source}: {key}: {why}")

    unknown = sorted(set(data) - _TOP)
    if unknown:
        raise bad(unknown[0], f"unknown key (expected one of {', '.join(sorted(_TOP))})")
    station = _table(data, "station", bad)
    for key in sorted(set(station) - {"ocpp", "evses"}):
        raise bad(f"station.{key}", "unknown key (expected evses, ocpp)")
    ocpp = station.get("ocpp")
    if ocpp is not None and ocpp not in VERSIONS:
        raise bad("station.ocpp", f"must be one of {', '.join(repr(v) for v in VERSIONS)}")
    evses = station.get("evses")
    if evses is not None:
        if not (isinstance(evses, list) and 1 <= len(evses) <= MAX_EVSES
                and all(_is_int(n) and 1 <= n <= MAX_CONNECTORS_PER_EVSE for n in evses)):  # fmt: skip
            raise bad("station.evses", f"must be 1 to {MAX_EVSES} EVSEs of 1 to {MAX_CONNECTORS_PER_EVSE} connectors")
        evses = tuple(evses)
    vendor = _text(data, "vendor", "chargebox", 20, bad)
    model = _text(data, "model", "Simulator", 20, bad)
    connectors = data.get("connectors")
    if connectors is not None and not (_is_int(connectors) and 1 <= connectors <= MAX_CONNECTORS):
        raise bad("connectors", f"must be 1 to {MAX_CONNECTORS}")
    if connectors is not None and evses is not None:
        raise bad("station.evses", "gives the EVSEs and their connectors: not with connectors")
    max_current = _number(data, "max_current", 32.0, 6.0, 80.0, bad)
    phases = data.get("phases", 3)
    if not (_is_int(phases) and phases in (1, 3)):
        raise bad("phases", "must be 1 or 3")
    config = dict(_table(data, "config", bad))
    meter = _table(data, "meter", bad)
    for key in sorted(set(meter) - {"sample_interval", "measurands"}):
        raise bad(f"meter.{key}", "unknown key (expected sample_interval, measurands)")
    if "sample_interval" in meter:
        interval = meter["sample_interval"]
        if not (_is_int(interval) and 0 <= interval <= 86_400):
            raise bad("meter.sample_interval", "must be 0 to 86400 seconds")
        config["MeterValueSampleInterval"] = interval
    if "measurands" in meter:
        measurands = meter["measurands"]
        if not (isinstance(measurands, list) and all(isinstance(m, str) and m for m in measurands)):
            raise bad("meter.measurands", "must be a list of measurand names")
        config["MeterValuesSampledData"] = ",".join(measurands)
    evs = data.get("ev")
    models = tuple(EV_MODELS.values())
    if evs is not None:
        if not (isinstance(evs, list) and evs and all(isinstance(ev, dict) for ev in evs)):
            raise bad("ev", "must be one or more [[ev]] tables")
        models = tuple(_ev(ev, index, bad) for index, ev in enumerate(evs))
    return Template(
        vendor=vendor, model=model, connectors=connectors, evses=evses, max_current=max_current, phases=phases,
        config=config, evs=models, auto=_auto(_table(data, "auto", bad), bad), ocpp=ocpp, source=f"--template {source}",
    )  # fmt: skip


def check_versions(template: Template, versions: set[str]) -> None:
    """ConfigError if stations of ``versions`` cannot take what the template configures (1.6's keys, 2.0.1's
    EVSE layout)."""
    if template.evses is not None and "1.6" in versions:
        raise ConfigError(
            f"{template.source}: [station] evses is an OCPP 2.0.1 station's EVSE layout; a 1.6 station has connectors"
        )
    if template.config and versions - {"1.6"}:
        others = "/".join(sorted(versions - {"1.6"}))
        raise ConfigError(
            f"{template.source}: [meter] and [config] set OCPP 1.6 configuration keys, which a {others} station "
            "does not have (its configuration is a device model)"
        )


def _auto(data: Mapping[str, Any], bad: Any) -> AutoSettings:
    for key in sorted(set(data) - _AUTO):
        raise bad(f"auto.{key}", f"unknown key (expected one of {', '.join(sorted(_AUTO))})")
    default = AutoSettings()

    def where(key: str, why: str) -> ConfigError:
        return bad(f"auto.{key}", why)  # type: ignore[no-any-return]

    if "mean_gap" in data and "arrival_rate" in data:
        raise where("arrival_rate", "give mean_gap or arrival_rate, not both")
    mean_gap = _number(data, "mean_gap", default.mean_gap_s, MIN_AUTO_SECONDS, MAX_AUTO_SECONDS, where)
    if "arrival_rate" in data:
        mean_gap = arrival_gap(_number(data, "arrival_rate", 0, MIN_ARRIVAL_RATE, MAX_ARRIVAL_RATE, where))
    cards, card_list = data.get("cards", default.cards), ()
    if isinstance(cards, list):
        texts = all(isinstance(card, str) for card in cards)
        if problem := card_list_problem(cards) if texts else "must be a list of idTags (texts)":
            raise where("cards", problem)
        card_list, cards = tuple(cards), len(cards)
    elif not (_is_int(cards) and 1 <= cards <= MAX_CARDS):
        raise where("cards", f"must be a count of cards (1 to {MAX_CARDS}) or a list of idTags")
    pattern = data.get("card_pattern", default.card_pattern)
    if problem := card_problem(pattern, cards) if isinstance(pattern, str) else "must be a text":
        raise where("card_pattern", problem)
    if card_list and "card_pattern" in data:
        raise where("card_pattern", "give a list of cards or a card_pattern, not both")
    sessions = data.get("sessions", default.sessions)
    if not (_is_int(sessions) and 0 <= sessions <= MAX_SESSIONS):
        raise where("sessions", f"must be 0 (no end) to {MAX_SESSIONS} EVs per connector")
    auto = AutoSettings(
        mean_gap_s=mean_gap,
        session_min_s=_number(data, "session_min", default.session_min_s, MIN_AUTO_SECONDS, MAX_AUTO_SECONDS, where),
        session_max_s=_number(data, "session_max", default.session_max_s, MIN_AUTO_SECONDS, MAX_AUTO_SECONDS, where),
        cards=cards,
        card_pattern=pattern,
        card_list=card_list,
        start_probability=_number(data, "start_probability", default.start_probability, 0.0, 1.0, where),
        sessions=sessions,
    )
    if auto.session_min_s > auto.session_max_s:
        raise bad("auto.session_min", "must not be above session_max")
    return auto


def _ev(data: Mapping[str, Any], index: int, bad: Any) -> EvModel:
    def where(key: str, why: str) -> ConfigError:
        return bad(f"ev[{index}].{key}", why)  # type: ignore[no-any-return]

    for key in sorted(set(data) - _EV):
        raise where(key, f"unknown key (expected one of {', '.join(sorted(_EV))})")
    if "capacity_kwh" not in data:
        raise where("capacity_kwh", "missing: the battery's size, kWh")
    if "max_current" in data and "max_power_kw" in data:
        raise where("max_power_kw", "give max_current or max_power_kw, not both")
    name = _text(data, "name", f"ev{index + 1}", 40, where)
    capacity = _number(data, "capacity_kwh", 60.0, 1.0, 300.0, where)
    phases = data.get("phases", 3)
    if not (_is_int(phases) and phases in (1, 2, 3)):
        raise where("phases", "must be 1, 2 or 3")
    current = _number(data, "max_current", 16.0, 1.0, 80.0, where)
    if "max_power_kw" in data:
        power = _number(data, "max_power_kw", 0.0, 0.23 * phases, 80 * VOLTAGE * phases / 1000, where)
        current = power * 1000 / (VOLTAGE * phases)
    taper = _number(data, "taper_soc", 80.0, 1.0, 100.0, where)
    soc_min = _number(data, "soc_min", 10.0, 0.0, 100.0, where)
    soc_max = _number(data, "soc_max", max(70.0, soc_min), 0.0, 100.0, where)
    if soc_min > soc_max:
        raise where("soc_min", "must not be above soc_max")
    target = _number(data, "target_soc", 100.0, 1.0, 100.0, where)
    if target <= soc_min:
        raise where("target_soc", "must be above soc_min (an EV arriving full would not charge)")
    weight = _number(data, "weight", 1.0, 0.0, 1_000_000.0, where)
    if weight == 0:
        raise where("weight", "must be above 0 (leave the model out instead)")
    return EvModel(
        name, capacity_wh=capacity * 1000, max_current=current, phases=phases, taper_soc=taper, soc_min=soc_min,
        soc_max=soc_max, target_soc=target, weight=weight,
    )  # fmt: skip


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(data: Mapping[str, Any], key: str, default: str, limit: int, bad: Any) -> str:
    value = data.get(key, default)
    if not (isinstance(value, str) and 1 <= len(value) <= limit and value.isascii() and value.isprintable()):
        raise bad(key, f"must be 1 to {limit} printable ASCII characters")
    return value


def _number(data: Mapping[str, Any], key: str, default: float, low: float, high: float, bad: Any) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise bad(key, f"must be a number from {low:g} to {high:g}")
    return float(value)


def _table(data: Mapping[str, Any], key: str, bad: Any) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise bad(key, "must be a table")
    return value
