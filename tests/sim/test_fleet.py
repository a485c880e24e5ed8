"""chargebox fleet: many stations in one process against the built-in central system, sharing one
store; --auto reproducible from its seed; the fleet control API; templates; the CLI's figures."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from chargebox.auto_sessions import AutoSettings
from chargebox.clock import VirtualClock
from chargebox.csms.server import CentralSystem, CsmsEvent
from chargebox.errors import ConfigError
from chargebox.protocol import messages as m
from chargebox.rpc import SendOutcome
from chargebox.sim.ev import EV_MODELS
from chargebox.sim.fleet import AutoDriver, Fleet, FleetSettings, RoundTrips
from chargebox.sim.fleet_control import start_fleet_control
from chargebox.sim.hardware import SimulatedEv, SimulatedHardware
from chargebox.sim.template import parse_template, read_template
from tests.loopback import until
from tests.test_cli import CLI, JSON, assert_one_line_error, run_cli

FIGURES = {"stations", "connected", "booted", "messagesSent", "messagesPerSecond", "errors", "reconnects",
           "rttP50Ms", "rttP99Ms"}  # fmt: skip


async def until_fleet(condition: Callable[[], object]) -> None:
    """A fleet of stations on two cores takes longer than one station."""
    await until(condition, timeout=20.0, poll=0.05)


async def running(fleet: Fleet) -> asyncio.Future[None]:
    task = asyncio.ensure_future(fleet.run())
    await until_fleet(lambda: fleet.figures()["booted"] == fleet.settings.count or task.done())
    if task.done():
        task.result()
    return task


async def test_a_fleet_of_200_stations_boots_against_the_built_in_central_system(
    csms: tuple[CentralSystem, int],
) -> None:
    system, port = csms
    fleet = Fleet(FleetSettings(csms_url=f"ws://127.0.0.1:{port}", count=200, connect_rate=1000))
    task = await running(fleet)
    try:
        await until_fleet(lambda: fleet.round_trips.sent >= 200 * 3)  # a boot and two StatusNotifications each
        figures = fleet.figures()
        assert set(figures) >= FIGURES
        assert (figures["stations"], figures["connected"], figures["booted"]) == (200, 200, 200)
        assert figures["errors"] == figures["reconnects"] == 0
        assert figures["rttP50Ms"] is not None and figures["rttP99Ms"] >= figures["rttP50Ms"]
        assert set(system.sessions) == {f"CP{i}" for i in range(1, 201)}
        backends = {id(sim.station.store.backend) for sim in fleet.sims.values()}
        assert backends == {id(fleet.backend)}  # one shared store
    finally:
        task.cancel()
        await fleet.stop()


async def test_a_fleet_on_a_data_dir_keeps_each_stations_rows_in_one_file(
    csms: tuple[CentralSystem, int], tmp_path: Path
) -> None:
    _, port = csms
    settings = FleetSettings(csms_url=f"ws://127.0.0.1:{port}", count=3, connect_rate=100, data_dir=tmp_path)
    fleet = Fleet(settings)
    task = await running(fleet)
    assert fleet.sims["CP2"].station.config.change("MeterValueSampleInterval", "17").value == "Accepted"
    task.cancel()
    await fleet.stop()
    again = Fleet(settings)
    try:
        assert [again.backend.station(f"CP{i}").config.load().get("MeterValueSampleInterval") for i in (1, 2, 3)] == [
            None, "17", None,
        ]  # fmt: skip
        assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".sqlite") == ["station.sqlite"]
    finally:
        await again.stop()


class Recorder:
    """Stands where the Simulator stands, writing down what the driver does to it, and when; its simulated hardware
    charges a started EV at ``offered`` amps (or what the EV's curve takes) in the clock's time."""

    def __init__(self, clock: VirtualClock, connectors: int = 2, offered: float = 32.0) -> None:
        self.clock = clock
        self.hardware = SimulatedHardware(clock=clock, connectors=connectors)
        self.offered = offered
        self.seen: list[tuple[float, str, int, str]] = []
        self.accepted = asyncio.Event()  # the station's boot
        self.accepted.set()

    async def booted(self) -> None:
        await self.accepted.wait()

    async def plug(self, connector_id: int, ev: SimulatedEv | None = None) -> None:
        assert ev is not None
        self.hardware.plug(connector_id, ev)
        self.seen.append((self.clock.monotonic(), "plug", connector_id, f"{ev.capacity_wh} {ev.soc}"))

    async def swipe(self, id_tag: str, connector_id: int | None) -> None:
        assert connector_id is not None
        self.hardware.offered_current(connector_id, self.offered)
        await self.hardware.close(connector_id)
        self.seen.append((self.clock.monotonic(), "swipe", connector_id, id_tag))

    async def unplug(self, connector_id: int) -> None:
        await self.hardware.open(connector_id)
        self.hardware.unplug(connector_id)
        self.seen.append((self.clock.monotonic(), "unplug", connector_id, ""))

    def soc(self, connector_id: int) -> float:
        return self.hardware.soc(connector_id)


async def drive(seed: int, station_id: str, hours: float = 24) -> list[tuple[float, str, int, str]]:
    clock = VirtualClock()
    recorder = Recorder(clock)
    driver = AutoDriver(
        recorder, station_id=station_id, seed=seed, connectors=2, clock=clock, evs=tuple(EV_MODELS.values()),
        settings=AutoSettings(mean_gap_s=600, session_min_s=300, session_max_s=3600),
    )  # fmt: skip
    task = asyncio.ensure_future(driver.run())
    await clock.advance(hours * 3600)
    task.cancel()
    return recorder.seen


async def test_auto_the_first_ev_arrives_only_after_the_boot_is_accepted() -> None:
    """A card swiped before the boot is accepted is refused and its session never starts: the driver waits."""
    clock = VirtualClock()
    recorder = Recorder(clock)
    recorder.accepted.clear()
    driver = AutoDriver(recorder, station_id="CP1", seed=7, connectors=2, clock=clock, evs=tuple(EV_MODELS.values()),
                        settings=AutoSettings(mean_gap_s=60, session_min_s=300, session_max_s=600))  # fmt: skip
    task = asyncio.ensure_future(driver.run())
    await clock.advance(3600)
    assert recorder.seen == []
    recorder.accepted.set()
    await clock.advance(3600)
    task.cancel()
    assert recorder.seen and recorder.seen[0][0] >= 3600 and recorder.seen[0][1] == "plug"


async def test_auto_the_same_seed_gives_the_same_events_per_station() -> None:
    first = await drive(7, "CP1")
    assert len([e for e in first if e[1] == "plug"]) >= 10
    assert first == await drive(7, "CP1")
    assert first != await drive(8, "CP1")
    assert first != await drive(7, "CP2")  # each station its own stream


async def test_auto_sessions_charge_along_the_ev_curve_against_the_central_system(
    csms: tuple[CentralSystem, int],
) -> None:
    _, port = csms
    fleet = Fleet(
        FleetSettings(
            csms_url=f"ws://127.0.0.1:{port}", count=2, connect_rate=100, auto=True, seed=3,
            auto_settings=AutoSettings(mean_gap_s=0.05, session_min_s=30, session_max_s=60),
        )
    )  # fmt: skip
    task = await running(fleet)
    try:
        await until_fleet(
            lambda: all(sim.station.connectors[1].transaction_id is not None for sim in fleet.sims.values())
        )
        assert all(driver.events[0][1] == "plug" for driver in fleet.drivers.values())
    finally:
        task.cancel()
        await fleet.stop()


def test_the_ev_curve_tapers_near_full_and_the_offered_current_still_governs() -> None:
    ev = EV_MODELS["premium"].ev(50.0)
    assert ev.accepts() == 32
    ev.soc = 90.0
    assert 3.2 < ev.accepts() < 32
    ev.soc = 100.0
    assert ev.accepts() == pytest.approx(3.2)
    from chargebox.sim.hardware import SimulatedConnector

    connector = SimulatedConnector(plugged=True, contactor_closed=True, offered_a=10.0, ev=EV_MODELS["premium"].ev(50))
    assert connector.current() == 10.0  # min(offered, curve)
    connector.ev.soc = 99.0
    assert connector.current() < 10.0


async def test_the_fleet_control_api(csms: tuple[CentralSystem, int]) -> None:
    _, port = csms
    fleet = Fleet(FleetSettings(csms_url=f"ws://127.0.0.1:{port}", count=12, connectors=2, connect_rate=500))
    task = await running(fleet)
    runner, control = await start_fleet_control(fleet, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{control}/api"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/fleet") as response:
                figures = await response.json()
            assert set(figures) >= FIGURES and figures["stations"] == figures["booted"] == 12
            async with http.get(f"{base}/stations", params={"q": "cp1", "limit": "2"}) as response:
                listing = await response.json()
            assert listing["total"] == 4  # CP1, CP10, CP11, CP12
            assert [s["id"] for s in listing["stations"]] == ["CP1", "CP10"]
            assert listing["stations"][0]["registration"] == "Accepted"
            assert listing["stations"][0]["connectors"] == [
                {"id": 1, "status": "Available", "errorCode": "NoError", "transactionId": None},
                {"id": 2, "status": "Available", "errorCode": "NoError", "transactionId": None},
            ]  # fmt: skip
            async with http.post(f"{base}/stations/CP7/connectors/2/plug", json={}) as response:
                assert response.status == 200
                assert (await response.json())["connectors"][1]["status"] == "Preparing"
            async with http.get(f"{base}/stations/CP7/state") as response:
                state = await response.json()
            assert state["id"] == "CP7" and state["connectors"][1]["plugged"] is True
            async with http.get(f"{base}/stations/CP6/state") as response:
                assert (await response.json())["connectors"][1]["plugged"] is False
            async with http.get(f"{base}/stations/CP99/state") as response:
                assert response.status == 404 and "no station" in (await response.json())["error"]
            async with http.post(f"{base}/stations/CP7/connectors/9/plug", json={}) as response:
                assert response.status == 404
            async with http.get(f"{base}/stations", params={"limit": "0"}) as response:
                assert response.status == 400
            async with http.post(f"{base}/stations/CP7/swipe", data="{", headers=JSON) as response:
                assert response.status == 400
    finally:
        await runner.cleanup()
        task.cancel()
        await fleet.stop()


def test_a_template_sets_vendor_model_connectors_meter_and_keys(tmp_path: Path) -> None:
    path = tmp_path / "wallbox.toml"
    path.write_text(
        'vendor = "Acme"\nmodel = "Wallbox 22"\nconnectors = 2\nmax_current = 16\nphases = 1\n'
        '[meter]\nsample_interval = 30\nmeasurands = ["Energy.Active.Import.Register", "SoC"]\n'
        "[config]\nHeartbeatInterval = 120\n"
        '[[ev]]\nname = "van"\ncapacity_kwh = 75\nmax_current = 16\nphases = 3\ntaper_soc = 80\n'
    )
    template = read_template(path)
    assert (template.vendor, template.model, template.connectors, template.max_current, template.phases) == (
        "Acme", "Wallbox 22", 2, 16.0, 1,
    )  # fmt: skip
    assert template.config == {
        "HeartbeatInterval": 120, "MeterValueSampleInterval": 30,
        "MeterValuesSampledData": "Energy.Active.Import.Register,SoC",
    }  # fmt: skip
    assert [(ev.name, ev.capacity_wh) for ev in template.evs] == [("van", 75_000)]


async def test_a_template_reaches_the_boot_and_the_hardware(csms: tuple[CentralSystem, int]) -> None:
    _, port = csms
    template = parse_template({"vendor": "Acme", "model": "W22", "connectors": 2, "max_current": 16}, "t.toml")
    fleet = Fleet(FleetSettings(csms_url=f"ws://127.0.0.1:{port}", count=1, template=template))
    task = await running(fleet)
    try:
        sim = fleet.sims["CP1"]
        assert (sim.station.boot.identity.vendor, sim.station.boot.identity.model) == ("Acme", "W22")
        assert sim.station.connectors.count == 2
        assert {c.max_current for c in sim.hardware.connectors.values()} == {16.0}
    finally:
        task.cancel()
        await fleet.stop()


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"vendr": "x"}, "vendr: unknown key"),
        ({"connectors": 0}, "connectors: must be 1 to"),
        ({"phases": 2}, "phases: must be 1 or 3"),
        ({"max_current": "lots"}, "max_current: must be a number"),
        ({"meter": {"sample_interval": -1}}, "meter.sample_interval"),
        ({"ev": [{"capacity_kwh": 0}]}, "ev[0].capacity_kwh"),
        ({"vendor": "x" * 21}, "vendor: must be 1 to 20"),
        ({"auto": {"mean_gap": 0}}, "auto.mean_gap: must be a number from 0.01"),
        ({"auto": {"session_min": 60, "session_max": 30}}, "auto.session_min: must not be above session_max"),
        ({"auto": {"gap": 60}}, "auto.gap: unknown key"),
    ],
)
def test_a_bad_template_value_is_one_error_naming_the_key(data: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError, match=r"--template t\.toml") as raised:
        parse_template(data, "t.toml")
    assert fragment in str(raised.value)


async def test_a_bad_template_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("phases = 2\n")
    code, _, err = await run_cli("fleet", "--csms", "ws://127.0.0.1:9", "--count", "1", "--template", str(path))
    assert_one_line_error(code, err, "phases")
    path.write_text("vendor = \n")
    code, _, err = await run_cli("fleet", "--csms", "ws://127.0.0.1:9", "--count", "1", "--template", str(path))
    assert_one_line_error(code, err, "not valid TOML")


async def test_fleet_duration_ends_with_exit_0_and_writes_the_stats_json(
    csms: tuple[CentralSystem, int], tmp_path: Path
) -> None:
    _, port = csms
    stats = tmp_path / "stats.json"
    code, out, err = await run_cli(
        "fleet", "--csms", f"ws://127.0.0.1:{port}", "--count", "5", "--connect-rate", "50", "--duration", "2",
        "--stats-json", str(stats), "--data-dir", str(tmp_path / "fleet"),
    )  # fmt: skip
    assert code == 0, err
    figures = json.loads(stats.read_text())
    assert set(figures) >= FIGURES
    assert (figures["stations"], figures["booted"], figures["errors"]) == (5, 5, 0)
    assert "fleet summary" in out


async def test_fleet_ends_cleanly_on_sigterm(csms: tuple[CentralSystem, int], tmp_path: Path) -> None:
    system, port = csms
    stats = tmp_path / "stats.json"
    proc = await asyncio.create_subprocess_exec(
        *CLI, "fleet", "--csms", f"ws://127.0.0.1:{port}", "--count", "3", "--stats-json", str(stats),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await until_fleet(lambda: len(system.sessions) == 3)
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 15) == 0
    assert json.loads(stats.read_text())["stations"] == 3


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--count", "0"], "--count"),
        (["--count", "2", "--connect-rate", "0"], "--connect-rate"),
        (["--count", "2", "--duration", "-1"], "--duration"),
        (["--count", "2", "--id-prefix", "a:b"], "--id"),
        (["--count", "2", "--auto", "--mean-gap", "0"], "--mean-gap: expected 0.01 to"),
        (["--count", "2", "--auto", "--session-seconds", "60"], "--session-seconds: expected MIN,MAX"),
        (["--count", "2", "--auto", "--session-seconds", "60,30"], "MIN must not be above MAX"),
        (["--count", "2", "--mean-gap", "5"], "add --auto"),
    ],
)
async def test_bad_fleet_flags_are_one_line_and_exit_2(args: list[str], fragment: str) -> None:
    code, _, err = await run_cli("fleet", "--csms", "ws://127.0.0.1:9", *args)
    assert_one_line_error(code, err, fragment)


async def test_demo_fleet_shows_a_live_fleet_and_exits_0() -> None:
    code, out, err = await run_cli("demo", "--fleet", timeout=40)
    assert code == 0, out + err
    assert "fleet demo finished" in out and "EVs arrived" in out


async def test_auto_sessions_report_soc_in_meter_values_when_the_template_asks(
    csms: tuple[CentralSystem, int],
) -> None:
    """MV-*: the EV's state of charge rises through a session and reaches the central system as SoC."""
    system, port = csms
    socs: list[float] = []

    def watch(event: CsmsEvent) -> None:
        if isinstance(event.request, m.MeterValuesRequest):
            socs.extend(
                float(sample.value)
                for value in event.request.meter_value
                for sample in value.sampled_value
                if sample.measurand == m.Measurand.SOC
            )

    system.on_event = watch
    template = parse_template(
        {"connectors": 1, "meter": {"sample_interval": 1, "measurands": ["Energy.Active.Import.Register", "SoC"]}},
        "t.toml",
    )
    fleet = Fleet(
        FleetSettings(
            csms_url=f"ws://127.0.0.1:{port}", count=1, template=template, auto=True, seed=5,
            auto_settings=AutoSettings(mean_gap_s=0.05, session_min_s=30, session_max_s=60),
        )
    )  # fmt: skip
    task = await running(fleet)
    try:
        await until_fleet(lambda: len(socs) >= 2)
        assert 10.0 <= socs[0] <= 70.0 and socs[-1] >= socs[0]
    finally:
        task.cancel()
        await fleet.stop()


# -- --auto's defaults and knobs, the whole-run figures -------------------------------------------------------


async def test_auto_defaults_show_sessions_in_a_newcomers_short_run(
    csms: tuple[CentralSystem, int], tmp_path: Path
) -> None:
    """20 stations for a few seconds with nothing but --auto: EVs arrive and transactions start at the central
    system (the defaults are an EV about every 20 s per connector, staying 30 s to 5 min)."""
    system, port = csms
    starts: list[str] = []
    system.on_event = lambda event: starts.append(event.charge_point_id) if event.action == "StartTransaction" else None
    stats = tmp_path / "stats.json"
    code, _out, err = await run_cli(
        "fleet", "--csms", f"ws://127.0.0.1:{port}", "--count", "20", "--connect-rate", "200", "--auto",
        "--duration", "6", "--stats-json", str(stats), timeout=40,
    )  # fmt: skip
    assert code == 0, err
    figures = json.loads(stats.read_text())
    assert figures["sessionsStarted"] >= 3 and len(starts) >= 3, figures  # 5 with seed 0 (1 with a 900 s gap)
    assert figures["sessionsEnded"] == 0  # none lasts under 30 s


async def test_auto_mean_gap_and_session_seconds_tune_the_sessions(
    csms: tuple[CentralSystem, int], tmp_path: Path
) -> None:
    _, port = csms
    stats = tmp_path / "stats.json"
    code, _out, err = await run_cli(
        "fleet", "--csms", f"ws://127.0.0.1:{port}", "--count", "2", "--auto", "--mean-gap", "0.2",
        "--session-seconds", "0.5,1", "--duration", "4", "--stats-json", str(stats), timeout=40,
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(stats.read_text())["sessionsEnded"] >= 2


def test_auto_template_keys_set_the_sessions_and_the_defaults_are_short() -> None:
    template = parse_template({"auto": {"mean_gap": 900, "session_min": 600, "session_max": 5400}}, "t.toml")
    assert template.auto == AutoSettings(mean_gap_s=900, session_min_s=600, session_max_s=5400)
    default = parse_template({}, "t.toml").auto
    assert default.mean_gap_s <= 30 and default.session_min_s <= 60


def test_whole_run_percentiles_count_every_round_trip_and_the_recent_ones_only_the_last() -> None:
    trips = RoundTrips()
    for _ in range(6000):
        trips.record(0.001, SendOutcome.RESPONSE_SUCCESS)
    for _ in range(4096):
        trips.record(0.100, SendOutcome.RESPONSE_SUCCESS)
    assert trips.whole_run_percentile(0.50) == pytest.approx(1.0, rel=0.01)  # 6,000 of 10,096 took 1 ms
    assert trips.whole_run_percentile(0.99) == pytest.approx(100.0, rel=0.01)
    assert trips.percentile(0.50) == trips.percentile(0.99) == 100.0  # the last 4,096 all took 100 ms


async def test_stats_json_reports_the_whole_runs_rate_after_an_idle_end(
    csms: tuple[CentralSystem, int], tmp_path: Path
) -> None:
    """The boots are at the start, then 8 s of silence: the last 5 s saw nothing, the run did."""
    _, port = csms
    stats = tmp_path / "stats.json"
    code, _out, err = await run_cli(
        "fleet", "--csms", f"ws://127.0.0.1:{port}", "--count", "5", "--connect-rate", "100", "--duration", "8",
        "--stats-json", str(stats),
    )  # fmt: skip
    assert code == 0, err
    figures = json.loads(stats.read_text())
    assert figures["messagesSent"] >= 15  # a boot and two StatusNotifications each
    assert figures["messagesPerSecond"] == pytest.approx(figures["messagesSent"] / figures["seconds"], rel=0.05)
    assert figures["messagesPerSecond"] > 0 and figures["messagesPerSecondLast5s"] == 0.0
    assert figures["seconds"] >= 8
    assert figures["rttP99Ms"] is not None and figures["rttP99MsLast4096"] is not None
