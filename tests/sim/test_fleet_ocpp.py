"""``fleet --ocpp``: fleets of OCPP 2.0.1 stations and of both versions (sim/ocpp_mix.py), against the built-in
central system (``chargebox csms`` as a real process, which speaks both): each station boots on its version's
subprotocol, the ids stay P1..PN and each keeps its version run after run, ``--stats-json`` counts each version,
``--auto`` drives 2.0.1 stations too, a template may say ``[station] ocpp``; a bad mix is one line and exit 2."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import aiohttp
import pytest

from chargebox.auto_sessions import AutoSettings
from chargebox.csms.server import CentralSystem, CsmsPolicy
from chargebox.errors import ConfigError
from chargebox.sim.fleet import Fleet, FleetSettings
from chargebox.sim.ocpp_mix import parse_mix, spread
from chargebox.sim.template import parse_template
from tests.loopback import CLI, until
from tests.test_cli import assert_one_line_error, run_cli, spawn_until, stop


def test_a_mix_spreads_the_versions_through_the_ids_by_their_percentages() -> None:
    mix = parse_mix("1.6:70,2.0.1:30")
    assert mix == (("1.6", 70), ("2.0.1", 30))
    ten = spread(mix, 10)
    assert ten.count("1.6") == 7 and ten.count("2.0.1") == 3
    assert spread(mix, 1000).count("2.0.1") == 300
    assert spread(mix, 1000)[:10] == ten == spread(mix, 10)  # the same id, the same version, whatever the count
    assert "2.0.1" in ten[:4]  # spread, not in blocks: the ramp meets both versions from the start
    assert spread(parse_mix("2.0.1"), 3) == ["2.0.1"] * 3
    assert spread(parse_mix("2.0.1:1,1.6:99"), 100).count("2.0.1") == 1


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("3.0", "'3.0' is not an OCPP version chargebox speaks (1.6, 2.0.1)"),
        ("1.6:70,2.0.1:20", "the percentages sum to 90, not 100"),
        ("1.6:70,3.0:30", "'3.0' is not an OCPP version"),
        ("1.6:50,1.6:50", "1.6 is named twice"),
        ("1.6:x,2.0.1:30", "expected a version (1.6, 2.0.1) or VERSION:PERCENT"),
        ("1.6:100,2.0.1:0", "2.0.1: a percentage is 1 to 100, got 0"),
        ("1.6:-70,2.0.1:170", "expected a version"),
        ("junk", "'junk' is not an OCPP version"),
        ("", "'' is not an OCPP version"),
    ],
)
async def test_a_bad_ocpp_mix_is_one_line_and_exit_2(value: str, fragment: str) -> None:
    code, _out, err = await run_cli("fleet", "--csms", "ws://127.0.0.1:9", "--count", "2", "--ocpp", value)
    assert_one_line_error(code, err, "argument --ocpp: " + fragment)


async def test_a_template_says_the_version_and_refuses_1_6_keys_for_2_0_1_stations(tmp_path: Path) -> None:
    template = parse_template({"station": {"ocpp": "2.0.1"}}, "t.toml")
    assert template.ocpp == "2.0.1"
    fleet = Fleet(FleetSettings(csms_url="ws://127.0.0.1:9", count=2, template=template))
    assert fleet.versions == ["2.0.1", "2.0.1"]
    assert Fleet(FleetSettings(csms_url="ws://127.0.0.1:9", count=1, template=template,
                               ocpp=parse_mix("1.6"))).versions == ["1.6"]  # fmt: skip  # --ocpp overrides it
    keyed = parse_template({"station": {"ocpp": "2.0.1"}, "config": {"HeartbeatInterval": 60}}, "t.toml")
    with pytest.raises(ConfigError, match=r"--template t.toml: \[meter\] and \[config\] set OCPP 1.6"):
        Fleet(FleetSettings(csms_url="ws://127.0.0.1:9", count=1, template=keyed))
    path = tmp_path / "t.toml"
    for text, fragment in (
        ('[station]\nocpp = "2.1"\n', "station.ocpp: must be one of '1.6', '2.0.1'"),
        ('[station]\nid = "X"\n', "station.id: unknown key (expected evses, ocpp)"),
        ('[station]\nocpp = "2.0.1"\nevses = [2, 0]\n', "station.evses: must be 1 to 128 EVSEs of 1 to 8 connectors"),
        ("connectors = 2\n[station]\nevses = [2]\n", "station.evses: gives the EVSEs and their connectors: not with"),
        ('[station]\nocpp = "1.6"\nevses = [2]\n', "[station] evses is an OCPP 2.0.1 station's EVSE layout"),
        ('[station]\nocpp = "2.0.1"\n[meter]\nsample_interval = 10\n', "[meter] and [config]"),
    ):
        path.write_text(text)
        code, _out, err = await run_cli("fleet", "--csms", "ws://127.0.0.1:9", "--count", "1", "--template", str(path))
        assert_one_line_error(code, err, fragment)


async def test_a_template_s_EVSE_layout_reaches_its_2_0_1_stations_and_fleet_connectors_wins() -> None:
    template = parse_template({"station": {"ocpp": "2.0.1", "evses": [2, 1]}}, "t.toml")
    assert template.evses == (2, 1)
    sim = Fleet(FleetSettings(csms_url="ws://127.0.0.1:9", count=1, template=template)).add_station(1)
    assert sim.station.settings.evses == (2, 1) and sim.station.kernel.connector_count == 2
    sim = Fleet(FleetSettings(csms_url="ws://127.0.0.1:9", count=1, template=template, connectors=3)).add_station(1)
    assert (sim.station.settings.evses, sim.station.kernel.connector_count) == (None, 3)  # --connectors 3 wins


async def test_auto_sessions_run_on_2_0_1_stations_through_the_station_api() -> None:
    """Each station's sessions start transactions the central system sees as TransactionEvent Started (a card swiped
    before the boot was accepted starts none: the next session does)."""
    csms = CentralSystem(CsmsPolicy(heartbeat_interval=600), max_events=10)
    started: set[str] = set()
    csms.on_event = lambda event: (
        started.add(event.charge_point_id) if getattr(event.request, "event_type", None) == "Started" else None
    )
    port = await csms.start("127.0.0.1", 0)
    fleet = Fleet(FleetSettings(
        csms_url=f"ws://127.0.0.1:{port}", count=2, connect_rate=100, auto=True, seed=3, ocpp=parse_mix("2.0.1"),
        auto_settings=AutoSettings(mean_gap_s=0.05, session_min_s=0.5, session_max_s=1),
    ))  # fmt: skip
    task = asyncio.ensure_future(fleet.run())
    try:
        await until(lambda: started == {"CP1", "CP2"}, timeout=20.0, poll=0.05)
        assert {sim.station.settings.ocpp for sim in fleet.sims.values()} == {"2.0.1"}
        assert fleet.figures()["sessionsStarted"] >= 2 and fleet.figures()["booted"] == 2
        assert all(driver.events[0][1] == "plug" for driver in fleet.drivers.values())
    finally:
        task.cancel()
        await fleet.stop()
        await csms.stop()


async def test_a_mixed_fleet_boots_each_station_on_its_subprotocol_at_the_built_in_central_system(
    tmp_path: Path,
) -> None:
    proc, lines, control = await spawn_until(
        r"control page on (http://127\.0\.0\.1:\d+/)", "csms", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0"
    )
    try:
        listening = re.search(r"listening on ws://127\.0\.0\.1:(\d+)/", "".join(lines))
        assert listening is not None, lines
        stats = tmp_path / "stats.json"
        fleet = await asyncio.create_subprocess_exec(
            *CLI, "fleet", "--csms", f"ws://127.0.0.1:{listening[1]}", "--count", "10", "--ocpp", "1.6:70,2.0.1:30",
            "--connect-rate", "200", "--duration", "4", "--stats-json", str(stats), "--id-prefix", "MIX",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        seen: dict[str, str] = {}
        async with aiohttp.ClientSession() as http:

            async def booted() -> bool:
                async with http.get(control[1] + "api/stations") as response:
                    rows = (await response.json())["stations"]
                seen.update({row["id"]: row["ocpp"] for row in rows if row["ocpp"] is not None})
                return len(seen) == 10

            for _ in range(300):
                if await booted():
                    break
                await asyncio.sleep(0.05)
        _out, err = await asyncio.wait_for(fleet.communicate(), 30)
        assert fleet.returncode == 0, err.decode()
        expected = spread(parse_mix("1.6:70,2.0.1:30"), 10)
        assert seen == {f"MIX{i}": version for i, version in enumerate(expected, 1)}  # the subprotocol each booted on
        figures = json.loads(stats.read_text())
        assert figures["ocpp"] == {"1.6": {"stations": 7, "connected": 7, "booted": 7},
                                   "2.0.1": {"stations": 3, "connected": 3, "booted": 3}}  # fmt: skip
        assert (figures["stations"], figures["booted"], figures["errors"]) == (10, 10, 0)
    finally:
        await stop(proc)
