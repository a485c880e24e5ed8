"""Power cuts at random moments: a real ``chargebox simulate`` SIGKILLed over many cycles while it charges, meters,
updates its firmware and uploads its diagnostics (checklist 5.3 X-12, X-15, Q-1..Q-7; 4.2 F-*, D-*).

Shared by tests/crash/test_power_cuts.py (a few cycles in ``make test``) and tools/power_cuts.py (as many as asked),
on the crash rig of conftest.py. A seeded RNG draws each cycle's schedule: the station is (re)started on the same
data dir and charges on connector 1 through the control API (plug, swipe, charge a while, swipe, unplug, again),
sampling every second (in a third of the lives every 15 s: ChangeConfiguration); a moment later it is cut by
SIGKILL, now and then while it boots, or by a kill rule of the recording central system (mid-send, or after the
answer and before the delete commits). From the first cycle on, the central system asks for a firmware update (the
image served over HTTP by this process) and a diagnostics upload (PUT to this process) until the station has
answered each; both go on across the cuts. After each kill ``PRAGMA integrity_check`` runs on a copy of the killed
station's file, after each restart on a copy of the running station's file. After the last cycle the station is started
once more and left to finish the update and the upload and to drain.

While the EV charges, the driver polls ``GET /api/state`` for the live register (``meterWh``). The energy the EV
had drawn when the power went is the last register polled while Charging plus the charging power times the time
since (an upper estimate); the PowerLoss StopTransaction of the transaction the kill cut says what the station kept.

A 2.0.1 station (``ocpp="2.0.1"``) is cut the same way, charging with an Updated event every 1 or 15 s
(TxUpdatedInterval, through SetVariables), its kill rules at a TransactionEvent's eventType; without the jobs and the
disk-full spells (1.6's), nor the energy figures (its control API shows no live register while charging). Its record
is checked as ``test_v201_outbox_crash.check_events`` checks a single kill's.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest
from aiohttp import web

from chargebox.csms.server import CsmsEvent
from chargebox.firmware_image import default_payload, make_image
from chargebox.protocol import messages as m
from chargebox.protocol.v201 import messages as m201
from chargebox.sim.hardware import VOLTAGE, SimulatedEv
from chargebox.store import FILE_NAME
from tests.crash.conftest import TX_ACTIONS, TX_EVENT, CrashRig, crash_rig
from tests.crash.test_outbox_crash import canonical, check_record, distinct_messages, group_by_transaction
from tests.crash.test_v201_outbox_crash import check_events

TAG = "POWER-CUT"
CHARGE_POINT: Final = "CRASH-1"  # the id the rig starts the station with
IMAGE_VERSION: Final = "2.0.0"
IMAGE: Final = make_image(IMAGE_VERSION, default_payload(IMAGE_VERSION))
CHARGING_W: Final = SimulatedEv().max_current * VOLTAGE * SimulatedEv().phases  # 22,080 W, all it is offered
LOSS_BOUND_S: Final = 5.0  # docs/reliability.md: a cut loses at most 5 s of charging
LOSS_MARGIN_S: Final = 0.5  # the register is looked at once a second; on a loaded machine a little later
LOSS_BOUND_WH: Final = CHARGING_W * (LOSS_BOUND_S + LOSS_MARGIN_S) / 3600
POLL_S: Final = 0.05
# Mostly a sample every second (each persists the register); now and then every 15 s, so that the register is
# persisted between samples (every 10 Wh or 5 s) and that bound is the one a cut meets.
SAMPLE_INTERVALS: Final = (1, 1, 15)
EVENT_KINDS: Final = ("Started", "Updated", "Ended")  # what a 2.0.1 kill rule matches
FINISH: Final = 60.0  # the last life: long enough for an update (download, install, reboot) and an upload
SPELLS: Final = 0.3  # the share of lives in which the disk fills (once the firmware and diagnostics jobs are done)
# A spell this long while charging has met a write: a sample (every 1 or 15 s) or the register (10 Wh, 1.6 s at
# 22 kW, looked at every second), and been reported.
SPELL_REPORTED_S: Final = 3.0


@dataclass(slots=True)
class Cut:
    """One station process ("life") and the kill that ended it."""

    life: int
    spawned_at: float  # time.time() just before the process was started
    killed_at: float = 0.0  # time.time() just before (or, for a kill rule, just after) the SIGKILL
    by_rule: bool = False
    sample_interval: int = 1  # MeterValueSampleInterval in this life
    # (time.time() of the poll, meterWh, W drawn at most) if the last poll saw a transaction: Charging (all it is
    # offered) or SuspendedEVSE with no power (a full disk)
    charging: tuple[float, int, float] | None = None
    spell_at: float | None = None  # time.time() when the disk filled in this life (or it started full)
    spell_until: float | None = None  # ... and when it had room again, if it did before the kill
    spell_charging: bool = False  # the connector was Charging when the disk filled

    def drawn_wh(self) -> float | None:
        """What the EV had drawn at the kill, at most (None: it was not charging at the last poll)."""
        if self.charging is None:
            return None
        polled, register, watts = self.charging
        return register + watts * (self.killed_at - polled) / 3600

    @property
    def cut_in_spell(self) -> bool:
        return self.spell_at is not None and self.spell_until is None

    @property
    def energy_since(self) -> float:
        """Since when the register may have gone unpersisted: the kill, or the disk filling before it (no energy
        flows once the station finds it cannot write)."""
        return min(self.killed_at, self.spell_at) if self.cut_in_spell and self.spell_at else self.killed_at


@dataclass(frozen=True, slots=True)
class Loss:
    """What one cut cost: the energy drawn up to the kill that the PowerLoss StopTransaction does not bill."""

    cut: Cut
    drawn_wh: float
    meter_stop: int
    stopped_at: float  # the StopTransaction's timestamp

    @property
    def wh(self) -> float:
        return self.drawn_wh - self.meter_stop


@dataclass
class Files:
    """The firmware image (GET, with Range) and the diagnostics uploads (PUT), over real HTTP on 127.0.0.1."""

    image: Path
    url: str = ""
    served: int = 0
    uploads: dict[str, bytes] = field(default_factory=dict)

    async def get(self, _request: web.Request) -> web.StreamResponse:
        self.served += 1
        return web.FileResponse(self.image)

    async def put(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["name"]] = await request.read()
        return web.Response(status=201)


@dataclass
class Run:
    seed: int
    cycles: int
    rig: CrashRig
    files: Files
    cuts: list[Cut] = field(default_factory=list)
    events: list[tuple[int, CsmsEvent]] = field(default_factory=list)  # (life, what the central system was sent)
    refused: list[tuple[str, int, str]] = field(default_factory=list)  # control API answers other than 200
    integrity_checks: int = 0
    diagnostics_file: str | None = None  # the fileName the station answered GetDiagnostics with
    firmware_asked: bool = False
    seconds: float = 0.0
    jobs: bool = True  # the central system asks for a firmware update and a diagnostics upload
    spells: float = 0.0  # the share of lives in which the disk fills
    full_at_restart: bool = False  # the last life was cut during a spell that outlasts the cut

    def jobs_done(self) -> bool:
        firmware = [s.status for s in self.sent(m.FirmwareStatusNotificationRequest)]
        diagnostics = [s.status for s in self.sent(m.DiagnosticsStatusNotificationRequest)]
        return (firmware[-1:] == [m.FirmwareStatus.INSTALLED] and diagnostics[-1:] == [m.DiagnosticsStatus.UPLOADED]
                and self.diagnostics_file in self.files.uploads)  # fmt: skip

    def sent(self, request: type[m.Message]) -> list[Any]:
        return [event.request for _, event in self.events if isinstance(event.request, request)]

    def losses(self) -> list[Loss]:
        """One per cut that hit a charging transaction: matched by the start time of its PowerLoss stop."""
        losses = []
        for copies in group_by_transaction(self.rig.csms.received).values():
            stop = copies[-1].payload
            if stop.get("reason") != "PowerLoss":
                continue
            started = stamp(copies[0].payload["timestamp"])
            cuts = [c for c in self.cuts if c.spawned_at <= started <= c.killed_at]
            assert len(cuts) == 1, f"a PowerLoss stop of a transaction started at {started} matches kills {cuts}"
            drawn = cuts[0].drawn_wh()
            if drawn is not None:
                losses.append(Loss(cuts[0], drawn, int(stop["meterStop"]), stamp(stop["timestamp"])))
        return losses

    @property
    def v201(self) -> bool:
        return self.rig.ocpp == "2.0.1"

    def figures(self) -> str:
        if self.v201:
            return self.figures_v201()
        received = self.rig.csms.received
        measured = self.losses()
        losses = [loss.wh for loss in measured]

        def worst(interval: int) -> str:
            of = [loss.wh for loss in measured if loss.cut.sample_interval == interval]
            return f"{max(of):.1f} Wh in {len(of)} cuts sampling every {interval} s" if of else f"none at {interval} s"

        by_interval = "; ".join(worst(interval) for interval in sorted(set(SAMPLE_INTERVALS)))
        lines = [
            ("seed", str(self.seed)),
            ("cycles", str(self.cycles)),
            ("kills", f"{len(self.cuts)} ({sum(c.by_rule for c in self.cuts)} by a kill rule at a message)"),
            ("transactions", str(len(group_by_transaction(received)))),
            ("transaction messages", f"{len(received)} received, {len(distinct_messages(received))} distinct"),
            ("duplicates seen", str(len(received) - len(distinct_messages(received)))),
            ("cuts measured while charging", str(len(losses))),
            ("max energy lost per cut", f"{max(losses, default=0.0):.1f} Wh (bound {LOSS_BOUND_WH:.1f} Wh: "
                                        f"5 s at {CHARGING_W:.0f} W + 0.5 s)"),
            ("by sample interval", by_interval),
            ("disk-full spells", f"{sum(c.spell_at is not None for c in self.cuts)} "
                                 f"({sum(c.cut_in_spell for c in self.cuts)} cut during the spell, "
                                 f"{sum(c.spell_at == c.spawned_at for c in self.cuts)} lives started on a full disk)"),
            ("integrity checks passed", str(self.integrity_checks)),
            ("control API refusals", str(len(self.refused))),
            ("firmware", f"{[s.status.value for s in self.sent(m.FirmwareStatusNotificationRequest)][-1:]}, "
                         f"image served {self.files.served}x"),
            ("diagnostics", f"{[s.status.value for s in self.sent(m.DiagnosticsStatusNotificationRequest)][-1:]}, "
                            f"{len(self.files.uploads)} file(s) uploaded"),
            ("time taken", f"{self.seconds:.1f} s"),
        ]  # fmt: skip
        return "\n".join(f"{name:>30}: {value}" for name, value in lines)

    def figures_v201(self) -> str:
        received = self.rig.csms.of(TX_EVENT)
        distinct = {canonical(r.payload) for r in received}
        ended = [r.payload for r in received if r.payload["eventType"] == "Ended"]
        power_loss = {canonical(p) for p in ended if p["transactionInfo"].get("stoppedReason") == "PowerLoss"}
        lines = [
            ("seed", str(self.seed)),
            ("ocpp", "2.0.1"),
            ("cycles", str(self.cycles)),
            ("kills", f"{len(self.cuts)} ({sum(c.by_rule for c in self.cuts)} by a kill rule at an event)"),
            ("transactions", f"{len({r.payload['transactionInfo']['transactionId'] for r in received})} "
                             f"({len(power_loss)} ended with PowerLoss)"),
            ("TransactionEvents", f"{len(received)} received, {len(distinct)} distinct"),
            ("duplicates seen", str(len(received) - len(distinct))),
            ("integrity checks passed", str(self.integrity_checks)),
            ("control API refusals", str(len(self.refused))),
            ("time taken", f"{self.seconds:.1f} s"),
        ]  # fmt: skip
        return "\n".join(f"{name:>30}: {value}" for name, value in lines)


def stamp(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Name the seed in any failure (the schedule replays from it; the moments are as exact as the machine is)."""
    try:
        yield
    except (AssertionError, pytest.fail.Exception) as exc:
        pytest.fail(f"power cuts with seed {seed} (CHARGEBOX_POWER_CUTS_SEED={seed} replays it): {exc}")


@contextlib.asynccontextmanager
async def serving(files: Files) -> AsyncIterator[Files]:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get("/firmware.img", files.get)
    app.router.add_put("/uploads/{name}", files.put)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    files.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield files
    finally:
        await runner.cleanup()


async def power_cuts(
    cycles: int, seed: int, workdir: Path, *, spells: float = SPELLS, jobs: bool = True, ocpp: str = "1.6"
) -> Run:
    """Run ``cycles`` cut lives and a last one left to finish; checks integrity as it goes (see ``check``).
    ``spells``: the share of lives in which the disk fills; ``jobs``: ask for a firmware update and an upload (both
    1.6 only); ``ocpp``: the station's version."""
    assert ocpp == "1.6" or not (spells or jobs), "a 2.0.1 station is cut without jobs or disk-full spells"
    started = time.monotonic()
    image = workdir / "firmware.img"
    image.write_bytes(IMAGE)
    async with crash_rig(workdir, ocpp) as rig, serving(Files(image)) as files:
        run = Run(seed, cycles, rig, files, jobs=jobs, spells=spells)
        count_boots = rig.csms.on_event
        assert count_boots is not None

        def record(event: CsmsEvent) -> None:
            count_boots(event)
            run.events.append((rig.csms.life, event))

        rig.csms.on_event = record
        for index in range(cycles):
            await cut_life(run, random.Random(f"{seed}:{index}"), random.Random(f"{seed}:{index}:disk"))
        await last_life(run)
        run.seconds = time.monotonic() - started
        return run


async def cut_life(run: Run, rng: random.Random, disk: random.Random) -> None:
    """One life: the station starts (on a full disk if the last one was cut in a spell that outlasts it), the
    driver charges, the disk may fill and have room again (``disk``: its own draws, so the rest of a seed's schedule
    is the one without spells), and the power goes."""
    rig = run.rig
    rig.csms.killed.clear()
    cut = Cut(rig.csms.life + (rig.proc is not None), time.time())
    run.cuts.append(cut)
    full, run.full_at_restart = run.full_at_restart, False
    cut.spell_at = cut.spawned_at if full else None
    if rng.random() < 0.1:  # while it starts: opening the store, recovering, booting
        await rig.spawn(until_accepted=False, disk_full=full)
        await asyncio.sleep(rng.uniform(0.0, 1.0))
        await kill(run, cut)
        run.full_at_restart = full
        return
    await rig.spawn(disk_full=full)
    check_live_integrity(run)
    if full:  # it connected and says why it offers no energy; then the disk has room
        await rig.wait_until(lambda: reported_fault(run, since=cut.spawned_at), "the full disk reported after a start")
        await asyncio.sleep(disk.uniform(0.0, 2.0))
        rig.disk_has_room()
        cut.spell_until = time.time()
    cut.sample_interval = rng.choice(SAMPLE_INTERVALS)
    await set_sample_interval(run, cut.sample_interval)
    if rule := rng.random() < 0.3:
        kinds = EVENT_KINDS if run.v201 else TX_ACTIONS
        rig.csms.arm(rng.choice([*kinds, None]), rng.randint(1, 4), after_answer=rng.random() < 0.5)
    life = rng.uniform(0.3, 6.0)
    tasks = [asyncio.create_task(drive(run, cut, random.Random(rng.random())))]
    if run.jobs:
        tasks.append(asyncio.create_task(ask(run, rng.uniform(0.0, life))))
    # A spell never meets a firmware download or a diagnostics upload: their files are refused too, and a transfer
    # that fails ends in DownloadFailed or UploadFailed after its retries, by design, not the outcome checked here.
    outlasts = False
    if not full and disk.random() < run.spells and not (run.jobs and not run.jobs_done()):
        tasks.append(asyncio.create_task(spell(run, cut, disk.uniform(0.0, life), disk.uniform(0.5, 5.0))))
        outlasts = disk.random() < 0.5  # if the power goes during the spell, the disk is still full at the restart
    try:
        if rule:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(rig.csms.killed.wait(), life)
        else:
            await asyncio.sleep(life)
        await kill(run, cut)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    # Restarted on the full disk only with a transaction open: that one's StopTransaction is the write that meets it.
    # A station idle on a full disk learns it at its first journal write (docs/reliability.md, "Disk").
    run.full_at_restart = outlasts and cut.cut_in_spell and cut.charging is not None


async def set_sample_interval(run: Run, seconds: int) -> None:
    """MeterValueSampleInterval (1.6) or SampledDataCtrlr.TxUpdatedInterval (2.0.1), Accepted."""
    if run.v201:
        data = m201.SetVariableDataType(component=m201.ComponentType(name="SampledDataCtrlr"),
                                        variable=m201.VariableType(name="TxUpdatedInterval"),
                                        attribute_value=str(seconds))  # fmt: skip
        answer: Any = await request(run, m201.SetVariablesRequest(set_variable_data=[data]))
        assert isinstance(answer, m201.SetVariablesResponse), answer
        assert answer.set_variable_result[0].attribute_status == "Accepted", answer
        return
    interval = m.ChangeConfigurationRequest(key="MeterValueSampleInterval", value=str(seconds))
    answer = await request(run, interval)
    assert isinstance(answer, m.ChangeConfigurationResponse) and answer.status == "Accepted", answer


async def spell(run: Run, cut: Cut, after: float, seconds: float) -> None:
    """The disk fills ``after`` seconds into the life and has room again ``seconds`` later, unless the power goes
    first (see ``cut_life`` for the start after that)."""
    await asyncio.sleep(after)
    run.rig.disk_full()
    cut.spell_at = time.time()
    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
        [connector] = (await run.rig.state())["connectors"]
        cut.spell_charging = connector["status"] == "Charging"
    await asyncio.sleep(seconds)
    run.rig.disk_has_room()
    cut.spell_until = time.time()


def reported_fault(run: Run, *, since: float) -> bool:
    """Connector 0 reported Faulted InternalError (the store cannot write) in a StatusNotification of ``since``
    or later."""
    return any(
        s.connector_id == 0 and s.error_code is m.ChargePointErrorCode.INTERNAL_ERROR
        and s.timestamp is not None and s.timestamp.timestamp() >= since - 1
        for s in run.sent(m.StatusNotificationRequest)
    )  # fmt: skip


async def kill(run: Run, cut: Cut) -> None:
    """SIGKILL now, unless a kill rule has fired or is about to (its answer is on the way); check the copy."""
    rig = run.rig
    rig.csms.rules.clear()
    if rig.csms.killed.is_set() or rig.paused:
        await rig.killed_by_rule()
        cut.by_rule = True
    else:
        cut.killed_at = time.time()
        await rig.kill()
    cut.killed_at = cut.killed_at or time.time()
    if rig.snapshots[-1].copy.exists():  # else killed before its very first store was made: nothing to check
        integrity(run, rig.snapshots[-1].copy, f"the copy taken after kill #{len(run.cuts)}")


async def last_life(run: Run) -> None:
    """Started once more and left alone: the update and the upload finish, every journaled message arrives."""
    rig = run.rig
    await rig.spawn()
    check_live_integrity(run)
    if run.jobs:
        await ask(run, 0.0)
        await rig.wait_until(run.jobs_done, "the firmware Installed and the diagnostics Uploaded", FINISH)
    await rig.drained()
    check_live_integrity(run)


async def ask(run: Run, after: float) -> None:
    """The central system's requests, until the station has answered each once (a kill may cut one short)."""
    await asyncio.sleep(after)
    if not run.firmware_asked:
        update = m.UpdateFirmwareRequest(location=f"{run.files.url}/firmware.img", retrieve_date=datetime.now(UTC))
        run.firmware_asked = await request(run, update) is not None
    if run.diagnostics_file is None:
        answer = await request(run, m.GetDiagnosticsRequest(location=f"{run.files.url}/uploads"))
        if isinstance(answer, m.GetDiagnosticsResponse) and isinstance(answer.file_name, str):
            run.diagnostics_file = answer.file_name


async def request(run: Run, message: Any) -> Any:
    with contextlib.suppress(KeyError, ConnectionError):  # KeyError: no session (yet) for the station
        result = await run.rig.csms.call(CHARGE_POINT, message, timeout=2.0)
        if result.ok:
            return result.response
    return None


async def drive(run: Run, cut: Cut, rng: random.Random) -> None:
    """An EV driver on connector 1, over and over, watching the register while they wait."""
    while True:
        await act(run, "connectors/1/plug")
        await act(run, "connectors/1/swipe", {"idTag": TAG})
        await watch(run, cut, rng.uniform(1.0, 4.0))
        await act(run, "connectors/1/swipe", {"idTag": TAG})
        await watch(run, cut, rng.uniform(0.0, 0.5))
        await act(run, "connectors/1/unplug")
        await watch(run, cut, rng.uniform(0.0, 0.8))


async def act(run: Run, path: str, body: dict[str, Any] | None = None) -> None:
    """A control request the kill may cut short; any answer but 200 is kept for ``check``."""
    rig = run.rig
    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
        async with rig.http.post(f"http://127.0.0.1:{rig.control}/api/{path}", json=body or {}) as response:
            if response.status != 200:
                run.refused.append((path, response.status, await response.text()))


async def watch(run: Run, cut: Cut, seconds: float) -> None:
    """Poll the state at least once, and for ``seconds``: the last register seen while Charging."""
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            polled = time.time()
            [connector] = (await run.rig.state())["connectors"]
            cut.charging = None
            if connector["status"] == "Charging":
                cut.charging = (polled, int(connector["meterWh"]), CHARGING_W)
            elif connector["status"] == "SuspendedEVSE" and connector["errorCode"] == "InternalError":
                cut.charging = (polled, int(connector["meterWh"]), float(connector["powerW"]))  # 0: no energy
        if time.monotonic() >= deadline:
            return
        await asyncio.sleep(POLL_S)


def check_live_integrity(run: Run) -> None:
    if (run.rig.data_dir / FILE_NAME).exists():
        integrity(run, run.rig.running_copy(), f"the running station's file in life {run.rig.csms.life}")


def integrity(run: Run, path: Path, what: str) -> None:
    db = sqlite3.connect(path, timeout=5)
    try:
        result = db.execute("PRAGMA integrity_check").fetchall()
    finally:
        db.close()
    assert result == [("ok",)], f"PRAGMA integrity_check of {what}: {result}"
    run.integrity_checks += 1


def check(run: Run) -> None:
    """The central system's record is complete, ordered and consistent, and the jobs ended as they should."""
    assert not [r for r in run.refused if r[1] >= 500], f"the control API failed: {run.refused}"
    if run.v201:
        check_events(run.rig)  # E01.FR.07, E04.FR.01, E04.FR.02: see test_v201_outbox_crash.py
        return
    check_record(run.rig)  # see test_outbox_crash.py
    check_spells(run)
    if not run.jobs:
        return
    firmware = [s.status.value for s in run.sent(m.FirmwareStatusNotificationRequest)]
    assert firmware[-1] == "Installed" and not {"DownloadFailed", "InstallationFailed"} & set(firmware), firmware
    boots = [e.request.firmware_version for _, e in run.events if isinstance(e.request, m.BootNotificationRequest)]
    assert boots[-1] == IMAGE_VERSION, f"F-7: the last boot reports {boots[-1]}: {boots}"
    diagnostics = [s.status.value for s in run.sent(m.DiagnosticsStatusNotificationRequest)]
    assert diagnostics[-1] == "Uploaded" and "UploadFailed" not in diagnostics, diagnostics
    assert run.diagnostics_file is not None
    assert run.files.uploads[run.diagnostics_file][:2] == b"PK", "D-2: the upload is the zip archive"


def check_spells(run: Run) -> None:
    """Issue 16: a disk that filled while the EV charged, for long enough to meet a write, was reported (Faulted
    InternalError on connector 0), and every report of it was cleared by the end (no last status has an error)."""
    for cut in run.cuts:
        lasted = (cut.spell_until or cut.killed_at) - (cut.spell_at or 0.0)
        if cut.spell_charging and lasted >= SPELL_REPORTED_S:
            assert reported_fault(run, since=cut.spell_at or 0.0), f"a full disk not reported in life {cut.life}"
    last: dict[int, m.StatusNotificationRequest] = {}
    for status in run.sent(m.StatusNotificationRequest):
        last[status.connector_id] = status
    assert all(s.error_code is m.ChargePointErrorCode.NO_ERROR for s in last.values()), last


def check_energy(run: Run) -> list[Loss]:
    """X-12: a cut loses at most 5 s of charging; its PowerLoss stop is at the last persisted register and time."""
    losses = run.losses()
    for loss in losses:
        assert loss.meter_stop <= loss.drawn_wh + 1, f"meterStop above the energy drawn at the kill: {loss}"
        assert loss.wh <= LOSS_BOUND_WH, f"a cut lost {loss.wh:.1f} Wh, over {LOSS_BOUND_WH:.1f} Wh: {loss}"
        since = loss.cut.energy_since
        assert since - LOSS_BOUND_S - LOSS_MARGIN_S <= loss.stopped_at <= loss.cut.killed_at, (
            f"the PowerLoss stop is timed {since - loss.stopped_at:.1f} s before the kill (or the disk filling): {loss}"
        )
    return losses
