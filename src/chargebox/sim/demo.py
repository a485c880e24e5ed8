"""``chargebox demo``: the built-in central system and two simulated stations in one process, one speaking OCPP 1.6
and one 2.0.1.

A short tour, in real time, of each station in turn: the boot, the StatusNotifications of every connector, a cable
going in and out, a fault and its end, the central system reading and changing the heartbeat interval, and the
heartbeat following the change, a firmware update, a charging session (``demo_v201.py`` says what differs for
2.0.1). It exits 0 when both tours are over, 1 if a step did not happen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import msgspec
from rich.console import Console

from chargebox.csms.server import CentralSystem, CsmsEvent, CsmsPolicy
from chargebox.protocol import messages as m
from chargebox.sim.demo_firmware import firmware_tour
from chargebox.sim.demo_v201 import describe, tour_v201
from chargebox.sim.simulator import Simulator, simulated_station
from chargebox.station.kernel.settings import Identity
from chargebox.station.station import StationSettings
from chargebox.transport import ReconnectPolicy

STEP_TIMEOUT = 10.0
V201_ID = "DEMO-201"
# A 2.0.1 station reconnects by its device model (Part 4 5.3), not by ``reconnect``: after the firmware's reboot
# within a second, not up to 5 s of random spread later.
V201_QUICK_RECONNECT = [
    {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": name}, "value": value}
    for name, value in (("RetryBackOffWaitMinimum", "1"), ("RetryBackOffRandomRange", "0"))
]


async def run_demo(console: Console | None = None) -> int:
    console = console or Console()
    csms = CentralSystem(CsmsPolicy(heartbeat_interval=3))
    port = await csms.start("127.0.0.1", 0)
    csms.on_event = lambda event: console.print(_describe(event))
    sim = _simulator("DEMO-001", port, "1.6")
    v201 = _simulator(V201_ID, port, "2.0.1")
    station = sim.station
    console.rule(f"[bold]chargebox demo[/]: central system on ws://127.0.0.1:{port}")
    runners = [asyncio.ensure_future(sim.run())]
    try:
        await _expect(csms, "boot", lambda e: e.action is m.Action.BOOT_NOTIFICATION)
        for connector_id in range(3):
            await _expect(csms, f"status of connector {connector_id}", _status(connector_id, "Available"))
        console.print("[dim]— a driver plugs a cable into connector 1[/]")
        await sim.plug(1)
        await _expect(csms, "Preparing", _status(1, "Preparing"))
        console.print("[dim]— connector 2 reports a ground failure, then recovers[/]")
        sim.fault(2, m.ChargePointErrorCode.GROUND_FAILURE)
        await _expect(csms, "Faulted", _status(2, "Faulted"))
        sim.clear_fault(2)
        await _expect(csms, "Available", _status(2, "Available"))
        console.print("[dim]— the driver changes their mind and unplugs[/]")
        await sim.unplug(1)
        await _expect(csms, "Available", _status(1, "Available"))
        console.print("[dim]— the central system reads and shortens the heartbeat interval[/]")
        got = await csms.call(station.id, m.GetConfigurationRequest(key=["HeartbeatInterval"]))
        console.print(f"  CSMS ← CP  GetConfiguration: {_keys(got.response)}")
        changed = await csms.call(station.id, m.ChangeConfigurationRequest(key="HeartbeatInterval", value="1"))
        console.print(f"  CSMS ← CP  ChangeConfiguration: {changed.response.status if changed.response else changed}")
        await _expect(csms, "Heartbeat", lambda e: e.action is m.Action.HEARTBEAT)
        await firmware_tour(csms, station, console, _expect)
        await _charging_session(csms, sim, console)
        console.rule(f"[bold]{V201_ID} joins, speaking OCPP 2.0.1[/]")
        runners.append(asyncio.ensure_future(v201.run()))
        await tour_v201(csms, v201, console, _expect)
        console.rule("[bold green]demo finished[/]")
        return 0
    except TimeoutError as exc:
        console.print(f"[bold red]demo failed:[/] {exc}")
        return 1
    finally:
        for runner in runners:
            runner.cancel()
        await sim.stop()
        await v201.stop()
        await csms.stop()


def _simulator(charge_point_id: str, port: int, ocpp: str) -> Simulator:
    return Simulator(
        simulated_station(
            StationSettings(
                charge_point_id=charge_point_id,
                csms_url=f"ws://127.0.0.1:{port}",
                identity=Identity(vendor="chargebox", model="Demo", firmware_version="0.1.0"),
                connectors=2,
                reconnect=ReconnectPolicy(initial=0.2, maximum=1.0),
                ocpp=ocpp,
                ocpp_config=V201_QUICK_RECONNECT if ocpp == "2.0.1" else {},
            )
        )
    )


async def _charging_session(csms: CentralSystem, sim: Simulator, console: Console) -> None:
    """A driver plugs in, badges, charges for a few seconds with a meter sample every second, badges out."""
    station = sim.station
    console.print("[dim]— the central system asks for a meter sample every second[/]")
    await csms.call(station.id, m.ChangeConfigurationRequest(key="HeartbeatInterval", value="60"))
    await csms.call(station.id, m.ChangeConfigurationRequest(key="MeterValueSampleInterval", value="1"))
    console.print("[dim]— a driver plugs in and presents card DEMO-CARD[/]")
    await sim.plug(1)
    await sim.swipe("DEMO-CARD", None)
    await _expect(csms, "StartTransaction", lambda e: e.action is m.Action.START_TRANSACTION)
    for _ in range(2):
        await _expect(csms, "MeterValues", lambda e: e.action is m.Action.METER_VALUES)
    await _charging_limit(csms, sim, console)
    console.print("[dim]— the driver presents the same card again to stop[/]")
    await sim.swipe("DEMO-CARD", None)
    await _expect(csms, "StopTransaction", lambda e: e.action is m.Action.STOP_TRANSACTION)
    await sim.unplug(1)
    await _expect(csms, "Available", _status(1, "Available"))


async def _charging_limit(csms: CentralSystem, sim: Simulator, console: Console) -> None:
    """Smart charging: the central system caps every connector at 6 A; the live power drops to it."""
    before = sim.hardware.connectors[1].power()
    console.print(f"[dim]— the central system sets a 6 A charging limit (power now {before:.0f} W)[/]")
    limit = m.ChargingProfile(
        charging_profile_id=1,
        stack_level=0,
        charging_profile_purpose=m.ChargingProfilePurposeType.TX_DEFAULT_PROFILE,
        charging_profile_kind=m.ChargingProfileKindType.RELATIVE,
        charging_schedule=m.ChargingSchedule(
            charging_rate_unit=m.ChargingRateUnitType.A,
            charging_schedule_period=[m.ChargingSchedulePeriod(start_period=0, limit=6.0)],
        ),
    )
    answer = await csms.call(sim.station.id, m.SetChargingProfileRequest(connector_id=0, cs_charging_profiles=limit))
    console.print(f"  CSMS ← CP  SetChargingProfile: {answer.response.status if answer.response else answer}")
    await _expect(csms, "MeterValues", lambda e: e.action is m.Action.METER_VALUES)
    after = sim.hardware.connectors[1].power()
    console.print(f"  live power on connector 1: {before:.0f} W → [bold]{after:.0f} W[/]")
    if after >= before:
        raise TimeoutError("the charging limit did not lower the power")
    await csms.call(sim.station.id, m.ClearChargingProfileRequest(id=1))


async def _expect(csms: CentralSystem, what: str, match: Callable[[CsmsEvent], bool]) -> None:
    async def wait() -> None:
        while not match(await csms.events.get()):
            pass

    try:
        await asyncio.wait_for(wait(), STEP_TIMEOUT)
    except TimeoutError:
        raise TimeoutError(f"no {what} within {STEP_TIMEOUT:.0f}s") from None


def _status(connector_id: int, status: str) -> Callable[[CsmsEvent], bool]:
    def match(event: CsmsEvent) -> bool:
        request = event.request
        return (
            isinstance(request, m.StatusNotificationRequest)
            and request.connector_id == connector_id
            and request.status == status
        )

    return match


def _describe(event: CsmsEvent) -> str:
    request = event.request
    if event.charge_point_id == V201_ID:
        return f"  CP 2.0.1 → CSMS  [magenta]{event.action}[/] {describe(request)}"
    if isinstance(request, m.StatusNotificationRequest):
        detail = f"connector {request.connector_id} [bold]{request.status}[/] ({request.error_code})"
    elif isinstance(request, m.BootNotificationRequest):
        detail = f"{request.charge_point_vendor} {request.charge_point_model}"
        if request.firmware_version is not msgspec.UNSET:
            detail += f", firmware {request.firmware_version}"
    elif isinstance(request, m.FirmwareStatusNotificationRequest):
        detail = f"[bold]{request.status}[/]"
    elif isinstance(request, m.StartTransactionRequest):
        detail = f"connector {request.connector_id}, card {request.id_tag}, meter {request.meter_start} Wh"
    elif isinstance(request, m.StopTransactionRequest):
        detail = f"transaction {request.transaction_id}, meter {request.meter_stop} Wh, {request.reason}"
    elif isinstance(request, m.MeterValuesRequest):
        energy = [v.value for v in request.meter_value[0].sampled_value]
        detail = f"transaction {request.transaction_id}: {energy[0]} Wh"
    elif isinstance(request, m.AuthorizeRequest):
        detail = f"card {request.id_tag}"
    else:
        detail = ""
    return f"  CP → CSMS  [cyan]{event.action}[/] {detail}"


def _keys(response: object) -> str:
    if not isinstance(response, m.GetConfigurationResponse) or response.configuration_key is msgspec.UNSET:
        return "?"
    return ", ".join(f"{k.key}={k.value}" for k in response.configuration_key)
