"""fleet --auto's generator, tuned: arrival rate, start probability, cards, stop-after and the EV mix, each drawn
and run in virtual time against simulated hardware; the template's [auto] and [[ev]] and the flags that mirror
them, bad values refused where they enter; one run of the CLI against the built-in central system."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest

from chargebox import cli
from chargebox.auto_sessions import AutoSettings
from chargebox.clock import VirtualClock
from chargebox.csms.server import CentralSystem, CsmsEvent
from chargebox.errors import ConfigError
from chargebox.sim.ev import EV_MODELS, EvModel
from chargebox.sim.fleet import AutoDriver
from chargebox.sim.template import parse_template
from tests.sim.test_fleet import Recorder
from tests.test_cli import assert_one_line_error, run_cli

Seen = list[tuple[float, str, int, str]]


async def drive(
    settings: AutoSettings,
    evs: tuple[EvModel, ...] = tuple(EV_MODELS.values()),
    *,
    hours: float = 24,
    station_id: str = "CP1",
    connectors: int = 2,
) -> tuple[AutoDriver, Recorder]:
    """``hours`` of one station's automatic sessions in virtual time (or fewer, once every connector stopped)."""
    clock = VirtualClock()
    recorder = Recorder(clock, connectors)
    driver = AutoDriver(recorder, station_id=station_id, seed=3, connectors=connectors, clock=clock, evs=evs,
                        settings=settings)  # fmt: skip
    task = asyncio.ensure_future(driver.run())
    await clock.advance(hours * 3600)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return driver, recorder


def actions(seen: Seen, what: str) -> list[tuple[float, str, int, str]]:
    return [event for event in seen if event[1] == what]


async def test_auto_an_ev_leaves_once_charged_to_its_target_soc() -> None:
    """10 kWh from 50 % to 80 % at 32 A on three phases (22 kW) takes about 8 minutes: it leaves then, not after
    the hour its session could last, and its battery is at its target."""
    small = EvModel("city", capacity_wh=10_000, max_current=32, phases=3, taper_soc=100, soc_min=50, soc_max=50,
                    target_soc=80)  # fmt: skip
    driver, recorder = await drive(
        AutoSettings(mean_gap_s=600, session_min_s=3600, session_max_s=3600, sessions=1), (small,), connectors=1
    )
    (_, _, _, plugged), (swiped_at, _, _, _), (left_at, _, _, _) = recorder.seen
    assert plugged == "10000 50.0"
    assert 5 * 60 <= left_at - swiped_at <= 10 * 60  # 3 kWh at 22 kW: 8.2 min, looked at every 30 s
    assert 80 <= recorder.hardware.connectors[1].ev.soc < 85
    assert driver.events[-1][3].startswith("full after")
    assert (driver.arrivals, driver.sessions) == (1, 1)


async def test_auto_an_ev_not_yet_full_leaves_at_its_sessions_end() -> None:
    big = EvModel("truck", capacity_wh=200_000, max_current=6, phases=1, soc_min=10, soc_max=10, target_soc=100)
    driver, recorder = await drive(
        AutoSettings(mean_gap_s=60, session_min_s=600, session_max_s=600, sessions=1), (big,), connectors=1
    )
    (_, _, _, _), (swiped_at, _, _, _), (left_at, _, _, _) = recorder.seen
    assert left_at - swiped_at == pytest.approx(600)
    assert driver.events[-1][3] == "after 600.0s"


async def test_auto_a_connector_stops_generating_after_its_sessions() -> None:
    driver, recorder = await drive(AutoSettings(mean_gap_s=60, session_min_s=60, session_max_s=120, sessions=3))
    assert Counter(cid for _, _, cid, _ in actions(recorder.seen, "plug")) == {1: 3, 2: 3}
    assert len(actions(recorder.seen, "unplug")) == 6  # each left: no session is left open
    assert (driver.arrivals, driver.sessions) == (6, 6)


async def test_auto_an_ev_that_does_not_start_plugs_presents_no_card_and_leaves() -> None:
    never, _ = await drive(AutoSettings(mean_gap_s=60, session_min_s=60, session_max_s=60, start_probability=0))
    assert never.unstarted > 10 and never.arrivals == 0
    half, recorder = await drive(AutoSettings(mean_gap_s=60, session_min_s=60, session_max_s=60, start_probability=0.5))
    plugs, swipes = len(actions(recorder.seen, "plug")), len(actions(recorder.seen, "swipe"))
    assert 0.35 < swipes / plugs < 0.65, (swipes, plugs)
    assert half.arrivals == swipes and half.unstarted + half.arrivals >= plugs - 2  # 2: still parked at the end


async def test_auto_cards_come_from_the_list_or_the_pattern() -> None:
    _, listed = await drive(AutoSettings(card_list=("04A1B2C3", "04D4E5F6"), cards=2))
    assert {tag for *_, tag in actions(listed.seen, "swipe")} == {"04A1B2C3", "04D4E5F6"}
    _, patterned = await drive(AutoSettings(card_pattern="FLEET-{:02d}", cards=3))
    assert {tag for *_, tag in actions(patterned.seen, "swipe")} == {"FLEET-00", "FLEET-01", "FLEET-02"}


async def test_auto_the_ev_mix_follows_the_models_weights_and_arrival_socs() -> None:
    common = EvModel("common", capacity_wh=50_000, max_current=16, phases=3, soc_min=20, soc_max=30, weight=9)
    rare = EvModel("rare", capacity_wh=77_000, max_current=16, phases=3, soc_min=5, soc_max=5, weight=1)
    _, recorder = await drive(AutoSettings(mean_gap_s=30, session_min_s=30, session_max_s=60), (common, rare))
    plugs = [detail.split() for *_, detail in actions(recorder.seen, "plug")]
    kinds = Counter(capacity for capacity, _soc in plugs)
    assert len(plugs) > 500 and 0.05 < kinds["77000"] / len(plugs) < 0.15, kinds
    assert all(20 <= float(soc) <= 30 for capacity, soc in plugs if capacity == "50000")
    assert all(soc == "5.0" for capacity, soc in plugs if capacity == "77000")


async def test_auto_the_new_draws_are_the_same_for_the_same_seed_and_station() -> None:
    tuned = AutoSettings(mean_gap_s=120, card_pattern="T{:03d}", cards=900, start_probability=0.7, sessions=20)
    evs = (EvModel("a", 30_000, 16, 3, weight=3, target_soc=60), EvModel("b", 80_000, 32, 3, soc_min=0, soc_max=90))
    first, again, other = [await drive(tuned, evs, station_id=sid) for sid in ("CP1", "CP1", "CP2")]
    assert first[1].seen == again[1].seen and first[0].events == again[0].events
    assert first[1].seen != other[1].seen


def test_auto_template_keys_mirror_the_flags() -> None:
    auto = parse_template(
        {"auto": {"arrival_rate": 4, "cards": ["04A1", "04B2"], "start_probability": 0.9, "sessions": 5}}, "t.toml"
    ).auto
    assert auto == AutoSettings(mean_gap_s=900, card_list=("04A1", "04B2"), cards=2, start_probability=0.9,
                                sessions=5)  # fmt: skip
    assert parse_template({"auto": {"card_pattern": "X{}", "cards": 7}}, "t.toml").auto.card(6) == "X6"
    evs = parse_template(
        {"ev": [{"name": "van", "capacity_kwh": 75, "max_power_kw": 11, "phases": 3, "soc_min": 20, "soc_max": 40,
                 "target_soc": 90, "weight": 2}]}, "t.toml",
    ).evs  # fmt: skip
    assert evs == (EvModel("van", 75_000, 11_000 / 690, 3, soc_min=20, soc_max=40, target_soc=90, weight=2),)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"auto": {"arrival_rate": -1}}, "auto.arrival_rate: must be a number from"),
        ({"auto": {"arrival_rate": 4, "mean_gap": 900}}, "auto.arrival_rate: give mean_gap or arrival_rate, not both"),
        ({"auto": {"start_probability": 1.5}}, "auto.start_probability: must be a number from 0 to 1"),
        ({"auto": {"sessions": -1}}, "auto.sessions: must be 0 (no end)"),
        ({"auto": {"cards": 0}}, "auto.cards: must be a count of cards"),
        ({"auto": {"cards": []}}, "auto.cards: holds no card"),
        ({"auto": {"cards": ["ok", "x" * 21]}}, "auto.cards: card 2"),
        ({"auto": {"cards": [1]}}, "auto.cards: must be a list of idTags"),
        ({"auto": {"card_pattern": "AUTO"}}, "auto.card_pattern: must hold a {} field"),
        ({"auto": {"card_pattern": "A{:s}"}}, "auto.card_pattern: must hold one {} field of a number"),
        ({"auto": {"card_pattern": "A{:030d}"}}, "auto.card_pattern: makes"),
        ({"auto": {"cards": ["a"], "card_pattern": "A{}"}}, "auto.card_pattern: give a list of cards"),
        ({"ev": [{"name": "x"}]}, "ev[0].capacity_kwh: missing"),
        ({"ev": [{"capacity_kwh": 50, "soc_max": 101}]}, "ev[0].soc_max: must be a number from 0 to 100"),
        ({"ev": [{"capacity_kwh": 50, "soc_min": 60, "soc_max": 50}]}, "ev[0].soc_min: must not be above soc_max"),
        ({"ev": [{"capacity_kwh": 50, "soc_min": 90, "target_soc": 80}]}, "ev[0].target_soc: must be above soc_min"),
        ({"ev": [{"capacity_kwh": 50, "weight": 0}]}, "ev[0].weight: must be above 0"),
        ({"ev": [{"capacity_kwh": 50, "max_current": 16, "max_power_kw": 11}]}, "ev[0].max_power_kw: give"),
    ],
)
def test_a_bad_auto_or_ev_value_is_one_error_naming_the_file_and_key(data: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError, match=r"--template t\.toml") as raised:
        parse_template(data, "t.toml")
    assert fragment in str(raised.value)


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--auto", "--arrival-rate", "-1"], "--arrival-rate: expected 0.00595238 to 360000 EVs per hour"),
        (["--auto", "--arrival-rate", "4", "--mean-gap", "9"], "not allowed with argument"),
        (["--auto", "--start-probability", "1.5"], "--start-probability: expected 0 to 1"),
        (["--auto", "--sessions", "0"], "--sessions: expected 1 to"),
        (["--auto", "--card-pattern", "AUTO"], "--card-pattern: must hold a {} field"),
        (["--auto", "--cards", "cards.txt", "--card-count", "3"], "--card-count counts the cards of --card-pattern"),
        (["--auto", "--cards", "empty.txt"], "empty.txt: holds no card"),
        (["--sessions", "2"], "--sessions shapes the sessions of --auto: add --auto"),
    ],
)
def test_a_bad_auto_flag_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], fragment: str
) -> None:
    """In process (cli.main), as the command runs it: each is refused before any station starts."""
    (tmp_path / "cards.txt").write_text("04A1\n")
    (tmp_path / "empty.txt").write_text("# none yet\n\n")
    flags = [str(tmp_path / flag) if flag.endswith(".txt") else flag for flag in flags]
    try:
        code = cli.main(["fleet", "--csms", "ws://127.0.0.1:9", "--count", "1", *flags])
    except SystemExit as exc:  # argparse's refusal of a flag's value
        code = int(exc.code or 0)
    assert_one_line_error(code, capsys.readouterr().err, fragment)


async def test_fleet_auto_with_cards_sessions_and_arrival_rate_against_the_central_system(
    csms: tuple[CentralSystem, int], tmp_path: Path
) -> None:
    """Each connector's one EV (--sessions 1) arrives within the run (36,000 an hour: 0.1 s apart on average),
    starts with a card of the file, and leaves when its session ends: every transaction stops."""
    system, port = csms
    seen: list[tuple[str, str]] = []

    def watch(event: CsmsEvent) -> None:
        if event.action in ("StartTransaction", "StopTransaction"):
            seen.append((event.action, getattr(event.request, "id_tag", "")))

    system.on_event = watch
    cards = tmp_path / "cards.txt"
    cards.write_text("# the fleet's cards\n04A1B2C3\n04D4E5F6\n")
    stats = tmp_path / "stats.json"
    code, _out, err = await run_cli(
        "fleet", "--csms", f"ws://127.0.0.1:{port}", "--count", "3", "--connect-rate", "100", "--auto",
        "--arrival-rate", "36000", "--session-seconds", "0.5,1", "--cards", str(cards), "--sessions", "1",
        "--duration", "3", "--stats-json", str(stats), timeout=40,
    )  # fmt: skip
    assert code == 0, err
    figures = json.loads(stats.read_text())
    assert figures["sessionsStarted"] == figures["sessionsEnded"] == 3, figures  # one a connector, then none
    assert {tag for action, tag in seen if action == "StartTransaction"} <= {"04A1B2C3", "04D4E5F6"}
    assert [action for action, _ in seen].count("StopTransaction") == 3
