"""Values from the wire: what a central system sends is checked against what the store and the code can hold
before it is used (docs/reliability.md, "Values from the wire").

Each test reproduces one case of issue 16 against a real central system on a loopback WebSocket (the ``ocpp``
library's), or, where time must pass, the built-in one under a virtual clock.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call
from ocpp.v16.enums import RegistrationStatus

from chargebox.clock import VirtualClock
from chargebox.sim.simulator import simulated_station
from chargebox.station.kernel.lane import UNDELIVERABLE
from chargebox.station.station import Station, StationSettings
from chargebox.transfer import Progress, Transfer, TransferSettings
from tests.firmware.conftest import FirmwareCsmsChargePoint
from tests.interop.conftest import WAIT, OcppCsms, StationRunner, stop_station
from tests.interop.transactions_csms import TransactionsCsms, boot
from tests.loopback import free_port, running, until

BEYOND_INT64 = 2**63  # valid under the schema (integers are unbounded there), beyond SQLite's INTEGER


@pytest.fixture
async def csms() -> AsyncIterator[TransactionsCsms]:
    async with running(TransactionsCsms()) as server:
        yield server


@pytest.fixture
async def stations() -> AsyncIterator[StationRunner]:
    """Stations on the real clock, each aimed at the central system its test names (``csms_url``), stopped after."""
    runner = StationRunner("ws://127.0.0.1:1")
    yield runner
    await runner.close()


async def test_Q_4_a_transaction_id_beyond_64_bits_is_a_failed_attempt_then_a_dead_letter(
    csms: TransactionsCsms, stations: StationRunner
) -> None:
    """StartTransaction.conf with transactionId 2^63: each such answer is one failed attempt (Q-4), the message
    goes to the dead letters after TransactionMessageAttempts, and what comes behind it is delivered with
    transactionId -1 (X-4). It used to overflow the store: StartTransaction sent again and again, the lane blocked."""
    csms.next_transaction_id = BEYOND_INT64
    config = {"TransactionMessageAttempts": "2", "TransactionMessageRetryInterval": "1"}
    station, sim = await boot(csms, stations, csms_url=csms.url, ocpp_config=config)
    booted = len(csms.frames.frames)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await csms.wait_call("StartTransaction", start=booted)
    await sim.swipe("TAG-1", 1)  # the StopTransaction waits behind the StartTransaction

    def dead() -> list[
        str
    ]:  # this central system knows no whitepaper: its NotImplemented sets StartupOfTheDevice aside
        return [d.action for d in station.store.dead_letters.all() if d.action != "SecurityEventNotification"]

    await until(lambda: dead() == ["StartTransaction"])
    await until(lambda: station.lane.pending() == 0)
    starts = csms.frames.calls("StartTransaction", start=booted)
    assert len(starts) == 2  # TransactionMessageAttempts, not a resend storm
    assert starts[1].at - starts[0].at >= 1.0  # TransactionMessageRetryInterval x 1
    assert dead() == ["StartTransaction"]
    stops = csms.frames.calls("StopTransaction", start=booted)
    assert [f.payload["transactionId"] for f in stops] == [UNDELIVERABLE]
    assert station.connectors[1].transaction_id is None


# -- the job engine's attempts (F-4, D-2): a station on the virtual clock, the central system on loopback ---------


class RecordedTransfer(Transfer):
    """The real transfer, each attempt's virtual start time recorded."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self.clock = clock
        self.started: list[float] = []

    async def download(self, url: str, dest: Path, *, progress: Progress | None = None) -> int:
        self.started.append(self.clock.monotonic())
        return await super().download(url, dest, progress=progress)

    async def upload(self, source: Path, directory_url: str, file_name: str) -> None:
        self.started.append(self.clock.monotonic())
        await super().upload(source, directory_url, file_name)


@dataclass
class VirtualStation:
    station: Station
    clock: VirtualClock
    csms: OcppCsms
    transfer: RecordedTransfer

    async def status(self, action: str, status: str, *, step: float) -> None:
        """Move the virtual clock ``step`` seconds at a time, letting real I/O happen in between, until the central
        system received ``action`` with ``status``; TimeoutError after WAIT seconds of real time."""

        def received() -> bool:
            return any(f.payload.get("status") == status for f in self.csms.frames.calls(action))

        async def run() -> None:
            while not received():
                await self.clock.advance(step)
                await asyncio.sleep(0.005)

        await asyncio.wait_for(run(), WAIT)


@pytest.fixture
async def virtual_station() -> AsyncIterator[VirtualStation]:
    """A station on the virtual clock (HeartbeatInterval 0 from its boot, no ping: only its jobs wait on that clock),
    joined to the ``ocpp`` library's central system by a loopback WebSocket."""
    csms = OcppCsms(boot_answers=[(RegistrationStatus.accepted, 0)], charge_point_class=FirmwareCsmsChargePoint)
    await csms.start()
    clock = VirtualClock()
    settings = StationSettings(charge_point_id="CP-1", csms_url=csms.url, connectors=2,
                               ocpp_config={"WebSocketPingInterval": "0"})  # fmt: skip
    station = simulated_station(settings, clock=clock)
    transfer = RecordedTransfer(clock)
    station.firmware.transfer = station.diagnostics.transfer = transfer
    task = asyncio.ensure_future(station.run())
    await csms.wait_booted(connectors=2)
    yield VirtualStation(station, clock, csms, transfer)
    await stop_station(station, task)
    await csms.stop()


def refused(scheme: str) -> str:
    """A location on a loopback port nothing listens on: every attempt is refused at once."""
    return f"{scheme}://127.0.0.1:{free_port()}/fw.img"


@pytest.mark.parametrize("retries", [2**31 - 1, 2**63 - 1])
async def test_F_4_retries_are_capped_and_attempts_spaced_whatever_the_request_asks(
    virtual_station: VirtualStation, retries: int
) -> None:
    """UpdateFirmware with retries 2^31 - 1 and retryInterval 0 to a refused port made ~970 attempts a second, each
    journalled with an fsync, for ~25 days. Now: max_retries more attempts, min_retry_interval apart."""
    rig, bounds = virtual_station, TransferSettings()
    now = rig.station.clock.now().isoformat()
    await rig.csms.call(call.UpdateFirmware(location=refused("http"), retrieve_date=now, retries=retries,
                                            retry_interval=0))  # fmt: skip
    await rig.status("FirmwareStatusNotification", "DownloadFailed", step=1)
    job = rig.station.store.firmware.load()
    assert (job.retries, job.retry_interval, job.attempts) == (bounds.max_retries, bounds.min_retry_interval, 11)
    assert len(rig.transfer.started) == bounds.max_retries + 1
    gaps = [b - a for a, b in itertools.pairwise(rig.transfer.started)]
    assert min(gaps) >= bounds.min_retry_interval


@pytest.mark.parametrize(
    ("action", "interval"), [("UpdateFirmware", 2**62), ("GetDiagnostics", 10**12), ("GetDiagnostics", 2**63 - 1)]
)
async def test_F_4_D_2_a_retry_interval_past_any_date_waits_a_day_and_the_job_ends(
    virtual_station: VirtualStation, action: str, interval: int
) -> None:
    """retryInterval 2^62 (UpdateFirmware) or 10^12 (GetDiagnostics): the date of the next attempt overflowed,
    the job's task died, and the status stayed Downloading or Uploading for ever. Now the pause is clamped to
    max_retry_interval, and the job ends with its failure status after the last attempt."""
    rig, bounds = virtual_station, TransferSettings()
    if action == "UpdateFirmware":
        now = rig.station.clock.now().isoformat()
        await rig.csms.call(call.UpdateFirmware(location=refused("http"), retrieve_date=now, retries=1,
                                                retry_interval=interval))  # fmt: skip
        await rig.status("FirmwareStatusNotification", "DownloadFailed", step=3_600)
        kept = rig.station.store.firmware.load().retry_interval
    else:
        await rig.csms.call(call.GetDiagnostics(location=refused("ftp"), retries=1, retry_interval=interval))
        await rig.status("DiagnosticsStatusNotification", "UploadFailed", step=3_600)
        kept = rig.station.store.diagnostics.load().retry_interval
    assert kept == bounds.max_retry_interval
    first, second = rig.transfer.started
    assert second - first >= bounds.max_retry_interval


# -- integers in the central system's CALLs ------------------------------------------------------------------

PROFILES = "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger"
PLAIN: dict[str, Any] = {"ocpp_config": {"SupportedFeatureProfiles": PROFILES}}
SECURITY = {**PLAIN, "signed_firmware_only": True}  # SignedUpdateFirmware in place of UpdateFirmware (SF-10)
PROFILE = {
    "chargingProfileId": 7,
    "stackLevel": 1,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "chargingRateUnit": "A",
        "startSchedule": "2026-01-01T00:00:00Z",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
    },
}
NOWHERE = "ftp://127.0.0.1:9/"  # refused at once: nothing leaves the machine
FAR = "2099-01-01T00:00:00Z"
# (settings, action, payload with N where the integer goes): every integer of a CALL that reaches the store, a
# timedelta or a range.
INTEGER_CALLS = [
    (PLAIN, "SetChargingProfile", {"connectorId": 0, "csChargingProfiles": {**PROFILE, "chargingProfileId": "N"}}),
    (PLAIN, "SetChargingProfile", {"connectorId": "N", "csChargingProfiles": PROFILE}),
    (PLAIN, "ClearChargingProfile", {"id": "N"}),
    (PLAIN, "ClearChargingProfile", {"stackLevel": "N"}),
    (PLAIN, "GetCompositeSchedule", {"connectorId": 0, "duration": "N"}),
    (PLAIN, "SendLocalList", {"listVersion": "N", "updateType": "Full"}),
    (PLAIN, "ReserveNow", {"connectorId": 1, "expiryDate": FAR, "idTag": "TAG1", "reservationId": "N"}),
    (PLAIN, "CancelReservation", {"reservationId": "N"}),
    (PLAIN, "RemoteStopTransaction", {"transactionId": "N"}),
    (PLAIN, "ChangeAvailability", {"connectorId": "N", "type": "Inoperative"}),
    (PLAIN, "UnlockConnector", {"connectorId": "N"}),
    (PLAIN, "TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": "N"}),
    (PLAIN, "UpdateFirmware", {"location": NOWHERE, "retrieveDate": FAR, "retries": "N"}),
    (PLAIN, "UpdateFirmware", {"location": NOWHERE, "retrieveDate": FAR, "retryInterval": "N"}),
    (PLAIN, "GetDiagnostics", {"location": NOWHERE, "retries": "N", "retryInterval": "N", "startTime": FAR}),
    (SECURITY, "GetLog", {"logType": "SecurityLog", "requestId": "N", "log": {"remoteLocation": NOWHERE}}),
    (SECURITY, "GetLog", {"logType": "DiagnosticsLog", "requestId": 1, "retries": "N",
                          "log": {"remoteLocation": NOWHERE}}),
    (SECURITY, "SignedUpdateFirmware", {"requestId": "N", "firmware": {"location": NOWHERE, "retrieveDateTime": FAR,
                                                                       "signingCertificate": "c", "signature": "s"}}),
]  # fmt: skip


def fields_of_n(value: object, path: str = "") -> list[str]:
    """Where the integer goes, for the test ids."""
    if value == "N":
        return [path]
    if isinstance(value, dict):
        return [field for key, item in value.items() for field in fields_of_n(item, f"{path}.{key}".strip("."))]
    return []


INTEGER_IDS = [f"{action}.{'+'.join(fields_of_n(payload))}" for _, action, payload in INTEGER_CALLS]


def with_integer(value: object, number: int) -> object:
    if value == "N":
        return number
    if isinstance(value, dict):
        return {key: with_integer(item, number) for key, item in value.items()}
    return value


def rows(station: Station) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the store but the lane's: the station's own messages (a security event the central system
    answers NotImplemented) change those meanwhile."""
    tables = [row[0] for row in station.store.query("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {
        str(t): sorted(station.store.query(f'SELECT * FROM "{t}"'), key=repr)
        for t in tables
        if t not in ("outbox", "dead_letters", "sqlite_sequence")
    }


@pytest.mark.parametrize(("config", "action", "payload"), INTEGER_CALLS, ids=INTEGER_IDS)
async def test_1_4_an_integer_beyond_64_bits_is_property_constraint_violation_and_changes_nothing(
    csms: TransactionsCsms, stations: StationRunner, config: dict[str, Any], action: str, payload: dict[str, Any]
) -> None:
    """chargingProfileId, listVersion, retries, reservationId, requestId ... of 2^63 are valid under the schema but
    beyond what the store holds: they used to reach SQLite and come back as InternalError with a traceback."""
    station = stations(csms_url=csms.url, **config)
    await csms.wait_booted(connectors=2)
    station.store.log_job.load(), station.store.signed_firmware.load()  # tables that make their row when read
    before = rows(station)
    for number in (2**63, -(2**63) - 1):
        frame = json.dumps([2, f"big-{number}", action, with_integer(payload, number)])
        answer = await csms.raw(frame, f"big-{number}")
        assert answer[:3] == [4, f"big-{number}", "PropertyConstraintViolation"], answer
    assert rows(station) == before


@pytest.mark.parametrize(("config", "action", "payload"), INTEGER_CALLS, ids=INTEGER_IDS)
async def test_1_4_the_largest_integers_the_store_holds_are_answered_never_internal_error(
    csms: TransactionsCsms,
    stations: StationRunner,
    config: dict[str, Any],
    action: str,
    payload: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """2^63 - 1 and -2^63 fit the store: each is handled (Accepted, Rejected, capped, or the CALLERROR the value
    calls for), never an InternalError, nothing logged with a traceback."""
    station = stations(csms_url=csms.url, **config)
    await csms.wait_booted(connectors=2)
    for number in (2**63 - 1, -(2**63)):
        frame = json.dumps([2, f"max-{number}", action, with_integer(payload, number)])
        answer = await csms.raw(frame, f"max-{number}")
        assert answer[0] == 3 or answer[2] == "PropertyConstraintViolation", answer
    assert not [r for r in caplog.records if r.exc_info is not None and r.name.startswith("chargebox")]
    assert station.rpc.connected


@pytest.mark.parametrize(
    "key", ["HeartbeatInterval", "MeterValueSampleInterval", "ClockAlignedDataInterval", "ConnectionTimeOut",
            "TransactionMessageRetryInterval", "WebSocketPingInterval"],
)  # fmt: skip
async def test_K_6_an_integer_configuration_value_past_ten_digits_is_rejected(
    csms: TransactionsCsms, stations: StationRunner, key: str
) -> None:
    """A value of 2^63 or 10^30 seconds would overflow the date arithmetic of the timers it sets: Rejected, the
    key unchanged; ten digits (317 years) is the most a key takes."""
    station = stations(csms_url=csms.url)
    await csms.wait_booted(connectors=2)
    before = station.config.get(key)
    for value in (str(2**63), "1" + "0" * 30, "99999999999"):
        answer = await csms.raw(json.dumps([2, "c", "ChangeConfiguration", {"key": key, "value": value}]), "c")
        assert answer[2] == {"status": "Rejected"}, (value, answer)
    assert station.config.get(key) == before
    answer = await csms.raw(json.dumps([2, "d", "ChangeConfiguration", {"key": key, "value": "9999999999"}]),
                                  "d")  # fmt: skip
    assert answer[2]["status"] in ("Accepted", "RebootRequired"), answer
    assert station.rpc.connected
