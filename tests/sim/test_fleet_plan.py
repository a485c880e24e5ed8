"""``fleet --plan FILE`` (sim/fleet_plan.py): the timeline run on the fleet's clock (a VirtualClock here) against the
built-in central system, a bad file refused whole in one line before anything starts, and the command end to end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from chargebox import cli
from chargebox.clock import VirtualClock
from chargebox.csms.server import CentralSystem, CsmsEvent
from chargebox.errors import ConfigError
from chargebox.sim.fleet import Fleet, FleetSettings
from chargebox.sim.fleet_live import LiveFleet
from chargebox.sim.fleet_plan import read_plan, run_plan
from tests.loopback import until
from tests.test_cli import assert_one_line_error, run_cli

WALLBOX = 'vendor = "Acme"\nmodel = "Wallbox 22"\nconnectors = 2\n'
PLAN = """
[templates]
wallbox = "wallbox.toml"

[[step]]
at = 0
do = "add"
count = 5

[[step]]
at = 60
do = "add"
count = 2
template = "wallbox"

[[step]]
at = 300
do = "stop"
count = 3

[[step]]
at = 400
do = "remove"
ids = ["CP1"]

[[step]]
at = 500
do = "blackout"
restore_over = 20
"""


def write_plan(tmp_path: Path, text: str = PLAN) -> Path:
    (tmp_path / "wallbox.toml").write_text(WALLBOX)
    path = tmp_path / "plan.toml"
    path.write_text(text)
    return path


async def settle(condition: object) -> None:
    await until(condition, timeout=20.0, poll=0.02)  # type: ignore[arg-type]


async def test_a_plan_adds_stops_removes_and_blacks_out_at_its_times(
    csms: tuple[CentralSystem, int], tmp_path: Path
) -> None:
    system, port = csms
    seen: list[CsmsEvent] = []
    system.on_event = seen.append
    plan = read_plan(write_plan(tmp_path))
    clock = VirtualClock()
    fleet = Fleet(FleetSettings(csms_url=f"ws://127.0.0.1:{port}", count=0, connect_rate=1000), clock=clock)
    live = LiveFleet(fleet, plan.templates)
    running = asyncio.ensure_future(fleet.run())
    planned = asyncio.ensure_future(run_plan(live, plan))
    try:
        await clock.advance(1)
        await settle(lambda: fleet.counts()["booted"] == 5)
        await clock.advance(58)
        assert len(fleet.sims) == 5  # the next step waits for its time
        await clock.advance(2)
        await settle(lambda: fleet.counts()["booted"] == 7)
        boots = [e.request for e in seen if str(e.action) == "BootNotification"]
        assert [b.charge_point_model for b in boots[-2:]] == ["Wallbox 22"] * 2  # type: ignore[attr-defined]
        await clock.advance(239)
        await settle(lambda: set(live.stopped) == {"CP5", "CP6", "CP7"})  # the last three by id
        await clock.advance(100)
        await settle(lambda: "CP1" not in live.kinds)
        await clock.advance(100)
        await settle(lambda: set(live.dark) == {"CP2", "CP3", "CP4"})
        await clock.advance(20)
        await settle(lambda: not live.dark and fleet.counts()["booted"] == 3)
        assert planned.done() and planned.exception() is None
    finally:
        planned.cancel()
        live.tasks.cancel()
        running.cancel()
        await fleet.stop()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[[step]]\nat = 0\ndo = 'add'\ncount = 0\n", "Expected `int` >= 1 - at `$.step[0].count`"),
        ("[[step]]\nat = -1\ndo = 'add'\ncount = 1\n", "Expected `float` >= 0.0 - at `$.step[0].at`"),
        ("[[step]]\nat = 0\ndo = 'explode'\n", "Invalid value 'explode' - at `$.step[0].do`"),
        ("[[step]]\nat = 0\ndo = 'add'\ncount = 1\ncolour = 'red'\n", "unknown field `colour`"),
        ("[[step]]\nat = 0\ndo = 'add'\ncount = 1\ntemplate = 'nope'\n", "step[0]: template 'nope' is not in"),
        ("[[step]]\nat = 0\ndo = 'stop'\n", "step[0]: stop needs count or ids (one of them)"),
        ("[[step]]\nat = 0\ndo = 'stop'\ncount = 1\nids = ['CP1']\n", "stop needs count or ids"),
        ("[[step]]\nat = 0\ndo = 'partition'\nshare = 2\nseconds = 5\n", "Expected `float` <= 1.0"),
        ("[[step]]\nat = 0\ndo = 'partition'\n", "missing required field `seconds`"),
        ("step = []\n", "Expected `array` of length >= 1"),
        ("[[step]]\nat = 0\ndo = 'firmware-campaign'\nlocation = 'file:///x'\n", "step[0]: location must be an http"),
        ("[templates]\nwallbox = 'missing.toml'\n[[step]]\nat = 0\ndo = 'add'\ncount = 1\n", "missing.toml"),
        ("at = [", "not valid TOML"),
    ],
)
def test_a_bad_plan_is_one_error_naming_where(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as refused:
        read_plan(write_plan(tmp_path, text))
    assert fragment in str(refused.value) and "\n" not in str(refused.value)


def test_the_documented_plan_is_the_example_file_and_a_plan(tmp_path: Path) -> None:
    """README's plan is docs/howto/fleet-plan.toml, word for word, and reads as a plan (beside the template)."""
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("```toml", readme.index("A plan (`--plan`)")) + len("```toml\n") :]
    example = (root / "docs/howto/fleet-plan.toml").read_text(encoding="utf-8")
    assert block[: block.index("```")] == example
    plan = read_plan(write_plan(tmp_path, example))
    assert [step.at for step in plan.steps] == [0, 2, 4, 5, 6, 600, 900] and set(plan.templates) == {"van"}


@pytest.mark.parametrize(
    ("plan", "more", "fragment"),
    [
        ("[[step]]\nat = 0\ndo = 'add'\ncount = 'many'\n", [], "Expected `int`, got `str` - at `$.step[0].count`"),
        (PLAN, ["--processes", "2"], "--plan runs in one process"),
        (PLAN, ["--template", "wallbox.toml"], "templates: 'wallbox' is --template's name already"),
        (None, [], "--count N is needed (or --plan FILE"),
    ],
)
def test_a_bad_plan_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], plan: str | None, more: list[str], fragment: str
) -> None:
    """In process (cli.main), as the command runs it: each is refused before anything starts."""
    named = ["--plan", str(write_plan(tmp_path, plan))] if plan is not None else []
    more = [str(tmp_path / arg) if arg.endswith(".toml") else arg for arg in more]
    assert cli.main(["fleet", "--csms", "ws://127.0.0.1:9", *named, *more]) == 2
    assert_one_line_error(2, capsys.readouterr().err, fragment)


async def test_fleet_plan_runs_end_to_end(csms: tuple[CentralSystem, int], tmp_path: Path) -> None:
    """The command: a plan of two adds and a stop, on the wall clock, and the figures at the end."""
    system, port = csms
    seen: list[CsmsEvent] = []
    system.on_event = seen.append
    plan = write_plan(
        tmp_path,
        "[templates]\nwallbox = 'wallbox.toml'\n"
        "[[step]]\nat = 0\ndo = 'add'\ncount = 3\n"
        "[[step]]\nat = 0.5\ndo = 'add'\ncount = 2\ntemplate = 'wallbox'\n"
        "[[step]]\nat = 1.5\ndo = 'stop'\nids = ['CP2']\n",
    )
    stats = tmp_path / "stats.json"
    code, _out, err = await run_cli(
        "fleet", "--csms", f"ws://127.0.0.1:{port}", "--plan", str(plan), "--duration", "4", "--stats-json", str(stats),
    )  # fmt: skip
    assert code == 0, err
    figures = json.loads(stats.read_text())
    assert (figures["stations"], figures["errors"]) == (4, 0)  # five added, one stopped
    boots = {e.charge_point_id: e.request for e in seen if str(e.action) == "BootNotification"}
    assert set(boots) == {"CP1", "CP2", "CP3", "CP4", "CP5"}
    assert boots["CP5"].charge_point_vendor == "Acme"  # type: ignore[attr-defined]
