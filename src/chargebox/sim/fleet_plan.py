"""``fleet --plan FILE``: a timeline of changes to a running fleet (TOML), each at its offset in seconds from the
start, on the fleet's clock::

    [templates]                     # names for station templates (sim/template.py), files beside the plan
    wallbox = "wallbox.toml"        # "default" is the fleet's own (--template's, else the built-in one)

    [[step]]
    at = 0                          # seconds from the start
    do = "add"                      # add, stop, start, remove, blackout, partition, rolling-reboot, firmware-campaign
    count = 500
    template = "wallbox"

    [[step]]
    at = 300
    do = "stop"                     # stop, start, remove: count (the last ones, by id) or ids = ["CP3", "CP7"]
    count = 100

    [[step]]
    at = 400
    do = "blackout"
    restore_over = 30               # each station's power back at a seeded time within 30 s

    [[step]]
    at = 500
    do = "partition"
    share = 0.2                     # a fifth of the running stations, drawn from --seed
    seconds = 60

    [[step]]
    at = 600
    do = "rolling-reboot"
    batch = 10

    [[step]]
    at = 900
    do = "firmware-campaign"        # the 1.6 stations, 50 at a time
    location = "http://files.test/fw-2.0.img"
    batch = 50

The whole file is checked before the fleet starts (msgspec: types, ranges, unknown keys; the templates read; the
names it uses known): a bad one is one line naming the file and where in it, exit 2. Steps run in the order of
``at`` (those at the same time in the file's order), each as the control API's request of the same name does
(sim/fleet_live.py, sim/scenarios.py); one that cannot be done when its time comes (no station stopped to start, say)
is one warning, and the plan goes on.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Final

import msgspec

from chargebox.errors import ConfigError
from chargebox.sim import scenarios
from chargebox.sim.fleet_live import DEFAULT_TEMPLATE, MAX_ADD, MAX_STATIONS, LiveFleet, Refused, States
from chargebox.sim.scenarios import MAX_LOCATION, MAX_SCENARIO_SECONDS
from chargebox.sim.template import Template, read_template
from chargebox.user_files import read_config

log = logging.getLogger("chargebox.fleet")

MAX_STEPS: Final = 10_000
MAX_AT: Final = 30 * 86_400.0  # a plan spans at most 30 days

Seconds = Annotated[float, msgspec.Meta(ge=0, le=MAX_SCENARIO_SECONDS)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Count = Annotated[int, msgspec.Meta(ge=1, le=MAX_STATIONS)]


class _Step(msgspec.Struct, forbid_unknown_fields=True, tag_field="do", kw_only=True):
    at: Annotated[float, msgspec.Meta(ge=0, le=MAX_AT)]


class Add(_Step, tag="add"):
    count: Annotated[int, msgspec.Meta(ge=1, le=MAX_ADD)]
    template: Name = DEFAULT_TEMPLATE


class _Some(_Step):
    """Stations by ``count`` (the last ones, by id, of those it applies to) or by ``ids``: one of them."""

    count: Count | None = None
    ids: Annotated[list[Name], msgspec.Meta(min_length=1, max_length=MAX_STATIONS)] | None = None


class Stop(_Some, tag="stop"):
    pass


class Start(_Some, tag="start"):
    pass


class Remove(_Some, tag="remove"):
    pass


class Blackout(_Step, tag="blackout"):
    restore_over: Seconds = 0.0


class Partition(_Step, tag="partition"):
    seconds: Seconds
    share: Annotated[float, msgspec.Meta(gt=0, le=1)] = 1.0


class RollingReboot(_Step, tag="rolling-reboot"):
    batch: Count = 1


class FirmwareCampaign(_Step, tag="firmware-campaign"):
    location: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_LOCATION)]
    batch: Count = 1


Step = Add | Stop | Start | Remove | Blackout | Partition | RollingReboot | FirmwareCampaign


class _File(msgspec.Struct, forbid_unknown_fields=True):
    step: Annotated[list[Step], msgspec.Meta(min_length=1, max_length=MAX_STEPS)]
    templates: dict[Name, Name] = {}


class Plan(msgspec.Struct, frozen=True):
    """The steps in the order they run, and the templates they name (read)."""

    steps: tuple[Step, ...]
    templates: dict[str, Template]


def read_plan(path: Path) -> Plan:
    """Raises:
    ConfigError: the file cannot be read, is not TOML, or is not a plan (one line naming where)."""
    try:
        data = msgspec.convert(read_config(path, "--plan", toml=True), _File)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"--plan {path}: {exc}") from None
    templates = {name: read_template(path.parent / file) for name, file in data.templates.items()}
    if DEFAULT_TEMPLATE in templates:
        raise ConfigError(f"--plan {path}: templates: {DEFAULT_TEMPLATE!r} is the fleet's own template's name")
    for number, step in enumerate(data.step):
        where = f"--plan {path}: step[{number}]"
        if isinstance(step, Add) and step.template != DEFAULT_TEMPLATE and step.template not in templates:
            raise ConfigError(f"{where}: template {step.template!r} is not in [templates]")
        if isinstance(step, _Some) and (step.count is None) == (step.ids is None):
            raise ConfigError(f"{where}: {_tag(step)} needs count or ids (one of them)")
        if isinstance(step, FirmwareCampaign):
            try:
                scenarios.checked_location(step.location)
            except Refused as exc:
                raise ConfigError(f"{where}: {exc}") from None
    return Plan(tuple(sorted(data.step, key=lambda step: step.at)), templates)


def _tag(step: Step) -> str:
    return str(type(step).__struct_config__.tag)


_CHOOSE_FROM: Final[dict[type[_Some], States]] = {Stop: "running", Start: "stopped", Remove: "running"}


async def run_plan(live: LiveFleet, plan: Plan) -> None:
    """Each step at its time (seconds from now on the fleet's clock)."""
    clock = live.fleet.clock
    start = clock.monotonic()
    for step in plan.steps:
        await clock.sleep(max(start + step.at - clock.monotonic(), 0.0))
        try:
            done = await _do(live, step)
        except Refused as exc:
            log.warning("! --plan at %gs: %s not done: %s", step.at, _tag(step), exc)
        else:
            log.info("= --plan at %gs: %s %s", step.at, _tag(step), done)


async def _do(live: LiveFleet, step: Step) -> object:
    if isinstance(step, Add):
        return len(await live.add(step.template, step.count))
    if isinstance(step, _Some):
        ids = step.ids if step.ids is not None else live.last(step.count or 0, _CHOOSE_FROM[type(step)])
        change = {Stop: live.stop, Start: live.start, Remove: live.remove}[type(step)]
        return len(await change(ids))
    if isinstance(step, Blackout):
        return await scenarios.blackout(live, step.restore_over)
    if isinstance(step, Partition):
        return await scenarios.partition(live, step.share, step.seconds)
    if isinstance(step, RollingReboot):
        return await scenarios.rolling_reboot(live, step.batch)
    return await scenarios.firmware_campaign(live, step.location, step.batch)
