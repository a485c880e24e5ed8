"""The OCPP 2.0.1 part of ``chargebox demo``: the tour of the 1.6 station, for a 2.0.1 station of the same central
system.

The boot and each EVSE's StatusNotification, a cable in and out, a fault and its end (Faulted, and a NotifyEvent),
the central system reading and shortening HeartbeatInterval through the device model (GetVariables, SetVariables)
and the next Heartbeat, a signed firmware update (the central system installs its ManufacturerRootCertificate, then
UpdateFirmware of an image it signed, served over HTTP by the demo: L01's statuses, the reboot, Installed), and a
charging session of TransactionEvents. 2.0.1 has no charging limit yet (smart charging, K, is not built): the tour
says so where the 1.6 one sets one.
"""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import msgspec
from rich.console import Console

from chargebox.csms.ca import CertificateAuthority
from chargebox.csms.server import CentralSystem, CsmsEvent
from chargebox.firmware_image import default_payload, make_image
from chargebox.protocol import messages as m16
from chargebox.protocol.v201 import messages as m
from chargebox.signing import sign_file
from chargebox.sim.demo_firmware import NEW_VERSION, serve
from chargebox.sim.installer import SimulatedInstaller
from chargebox.sim.simulator import Simulator

IMAGE_SIZE: Final = 1 << 20
CARD: Final = "DEMO-CARD"
Expect = Callable[[CentralSystem, str, Callable[[CsmsEvent], bool]], Awaitable[None]]


async def tour_v201(csms: CentralSystem, sim: Simulator, console: Console, expect: Expect) -> None:
    """The 2.0.1 station's tour, once its simulator runs; TimeoutError if a step does not happen."""
    station = sim.station
    await expect(csms, "2.0.1 boot", lambda e: isinstance(e.request, m.BootNotificationRequest))
    for evse in (1, 2):
        await expect(csms, f"status of EVSE {evse}", _status(evse, "Available"))
    console.print("[dim]— a driver plugs a cable into EVSE 1[/]")
    await sim.plug(1)
    await expect(csms, "Occupied", _status(1, "Occupied"))
    console.print("[dim]— EVSE 2 reports a ground failure, then recovers[/]")
    sim.fault(2, m16.ChargePointErrorCode.GROUND_FAILURE)
    await expect(csms, "Faulted", _status(2, "Faulted"))
    sim.clear_fault(2)
    await expect(csms, "Available", _status(2, "Available"))
    console.print("[dim]— the driver unplugs[/]")
    await sim.unplug(1)
    await expect(csms, "Available", _status(1, "Available"))
    console.print("[dim]— the central system reads and shortens the heartbeat interval (the device model)[/]")
    heartbeat = m.ComponentType(name="OCPPCommCtrlr"), m.VariableType(name="HeartbeatInterval")
    got = await csms.call(station.id, m.GetVariablesRequest(
        get_variable_data=[m.GetVariableDataType(component=heartbeat[0], variable=heartbeat[1])]))  # fmt: skip
    if isinstance(got.response, m.GetVariablesResponse):
        value = got.response.get_variable_result[0].attribute_value
        console.print(f"  CSMS ← CP  GetVariables: OCPPCommCtrlr.HeartbeatInterval={value}")
    await _set(csms, station.id, console, heartbeat, "1")
    await expect(csms, "Heartbeat", lambda e: isinstance(e.request, m.HeartbeatRequest))
    await _set(csms, station.id, console, heartbeat, "60")
    await _firmware(csms, sim, console, expect)
    await _charging_session(csms, sim, console, expect)


async def _set(
    csms: CentralSystem, station_id: str, console: Console, where: tuple[m.ComponentType, m.VariableType], value: str
) -> None:
    data = m.SetVariableDataType(component=where[0], variable=where[1], attribute_value=value)
    answer = await csms.call(station_id, m.SetVariablesRequest(set_variable_data=[data]))
    if isinstance(answer.response, m.SetVariablesResponse):
        status = answer.response.set_variable_result[0].attribute_status
        console.print(f"  CSMS ← CP  SetVariables {where[0].name}.{where[1].name}={value}: {status}")


async def _firmware(csms: CentralSystem, sim: Simulator, console: Console, expect: Expect) -> None:
    """M05 then L01: the manufacturer's root installed by the central system, an image it signed, the statuses."""
    now = datetime.now(UTC)
    maker = CertificateAuthority.create("chargebox demo manufacturer", now=now)
    signing = maker.issue_firmware_signing("chargebox demo firmware signing", now=now)
    assert signing.key is not None
    image = make_image(NEW_VERSION, default_payload(NEW_VERSION, IMAGE_SIZE))
    with tempfile.TemporaryDirectory(prefix="chargebox-demo-") as scratch:
        path = Path(scratch) / "firmware.img"
        path.write_bytes(image)
        signature = sign_file(path, signing.key.encode())
    if isinstance(sim.station.ports.installer, SimulatedInstaller):
        sim.station.ports.installer.duration = 0.5
    console.print("[dim]— the central system installs its firmware signing root (ManufacturerRootCertificate)[/]")
    root = m.InstallCertificateRequest(certificate_type=m.InstallCertificateUseEnumType.MANUFACTURER_ROOT_CERTIFICATE,
                                       certificate=maker.pem)  # fmt: skip
    installed = await csms.call(sim.station.id, root)
    if isinstance(installed.response, m.InstallCertificateResponse):
        console.print(f"  CSMS ← CP  InstallCertificate: {installed.response.status}")
    runner, url = await serve(image)
    try:
        console.print(f"[dim]— the central system asks for signed firmware {NEW_VERSION} from {url}[/]")
        firmware = m.FirmwareType(location=url, retrieve_date_time=now, signing_certificate=signing.certificate,
                                  signature=signature)  # fmt: skip
        await csms.call(sim.station.id, m.UpdateFirmwareRequest(request_id=1, firmware=firmware))
        for status in ("Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting"):
            await expect(csms, status, _firmware_status(status))
        await expect(csms, f"BootNotification with firmware {NEW_VERSION}", _booted_with(NEW_VERSION))
        await expect(csms, "Installed", _firmware_status("Installed"))
    finally:
        await runner.cleanup()


async def _charging_session(csms: CentralSystem, sim: Simulator, console: Console, expect: Expect) -> None:
    """Plug, card, an Updated event with the meter every second, the same card to stop: TransactionEvents."""
    console.print("[dim]— the central system asks for the meter every second during a transaction[/]")
    interval = m.ComponentType(name="SampledDataCtrlr"), m.VariableType(name="TxUpdatedInterval")
    await _set(csms, sim.station.id, console, interval, "1")
    console.print(f"[dim]— a driver plugs in and presents card {CARD}[/]")
    await sim.plug(1)
    await sim.swipe(CARD, None)
    await expect(csms, "TransactionEvent Started", _event("Started"))
    for _ in range(2):
        await expect(csms, "TransactionEvent Updated", _event("Updated", "MeterValuePeriodic"))
    console.print("[dim]— the central system would set a charging limit here: smart charging (K) is not built for "
                  "2.0.1 yet[/]")  # fmt: skip
    console.print("[dim]— the driver presents the same card again to stop[/]")
    await sim.swipe(CARD, None)
    await expect(csms, "TransactionEvent Ended", _event("Ended"))
    await sim.unplug(1)
    await expect(csms, "Available", _status(1, "Available"))


def _status(evse: int, status: str) -> Callable[[CsmsEvent], bool]:
    def match(event: CsmsEvent) -> bool:
        request = event.request
        return (
            isinstance(request, m.StatusNotificationRequest)
            and request.evse_id == evse
            and request.connector_status == status
        )

    return match


def _event(kind: str, trigger: str | None = None) -> Callable[[CsmsEvent], bool]:
    def match(event: CsmsEvent) -> bool:
        request = event.request
        return (
            isinstance(request, m.TransactionEventRequest)
            and request.event_type == kind
            and trigger in (None, request.trigger_reason)
        )

    return match


def _firmware_status(status: str) -> Callable[[CsmsEvent], bool]:
    def match(event: CsmsEvent) -> bool:
        return isinstance(event.request, m.FirmwareStatusNotificationRequest) and event.request.status == status

    return match


def _booted_with(version: str) -> Callable[[CsmsEvent], bool]:
    def match(event: CsmsEvent) -> bool:
        request = event.request
        return isinstance(request, m.BootNotificationRequest) and request.charging_station.firmware_version == version

    return match


def describe(request: object) -> str:
    """What a 2.0.1 request says, for the tour's line."""
    if isinstance(request, m.StatusNotificationRequest):
        return f"EVSE {request.evse_id} connector {request.connector_id} [bold]{request.connector_status}[/]"
    if isinstance(request, m.BootNotificationRequest):
        station = request.charging_station
        version = "" if station.firmware_version is msgspec.UNSET else f", firmware {station.firmware_version}"
        return f"{station.vendor_name} {station.model}{version} ({request.reason})"
    if isinstance(request, m.FirmwareStatusNotificationRequest):
        return f"[bold]{request.status}[/]"
    if isinstance(request, m.TransactionEventRequest):
        detail = f"[bold]{request.event_type}[/] seqNo {request.seq_no}, {request.trigger_reason}"
        if request.meter_value is not msgspec.UNSET:
            detail += f", {request.meter_value[-1].sampled_value[0].value:g} Wh"
        if request.transaction_info.stopped_reason is not msgspec.UNSET:
            detail += f", {request.transaction_info.stopped_reason}"
        return detail
    if isinstance(request, m.AuthorizeRequest):
        return f"card {request.id_token.id_token}"
    if isinstance(request, m.NotifyEventRequest):
        data = request.event_data[0]
        return f"{data.component.name}.{data.variable.name} {data.actual_value} ({data.trigger})"
    return ""
