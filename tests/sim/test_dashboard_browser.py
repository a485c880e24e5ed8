"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright's Python API,
never a downloaded browser build): a person's clicks reach the station and its new state comes back
by server-sent events. Each test writes a screenshot for a person to look at (its path is printed).

``make install-dev`` installs chromium when run as root (CI); elsewhere, without it, these tests skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from chargebox.csms import control as csms_control
from chargebox.csms.server import CentralSystem
from chargebox.protocol import messages as m
from chargebox.protocol.messages import Action
from chargebox.sim.control import add_station_routes, make_app
from chargebox.sim.dashboard import add_fleet_dashboard
from chargebox.sim.fleet import Fleet, FleetSettings
from chargebox.sim.fleet_control import start_fleet_control
from chargebox.sim.fleet_live import LiveFleet
from chargebox.sim.simulator import Simulator, simulated_station
from chargebox.station.station import StationSettings
from chargebox.web import control_app, serve
from tests.sim.test_control import Control, control, until
from tests.sim.test_control_v201 import control201
from tests.sim.test_dashboard import FLEET_STATIONS, serve_fleet

__all__ = ["control", "control201"]  # the fixtures, imported

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TIMEOUT_MS = 10_000

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (make install-dev as root)")

async_api = pytest.importorskip("playwright.async_api")


@pytest.fixture
async def page() -> AsyncIterator[object]:
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            yield page
        finally:
            await browser.close()


async def screenshot(page: async_api.Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}-{os.getpid()}.png"
    await page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


async def test_dashboard_plug_and_swipe_show_charging(control: Control, page: async_api.Page) -> None:
    await page.goto(control.base + "/")
    card = page.locator('[data-connector="1"]')
    await async_api.expect(card.locator(".status")).to_have_text("Available")
    await async_api.expect(page.locator("#link")).to_have_text("connected")
    await async_api.expect(page.locator("#ocpp")).to_have_text("1.6")
    await async_api.expect(page.locator("#firmware")).to_have_text("Idle")
    await async_api.expect(card.locator("h2")).to_contain_text("Connector 1")
    await card.get_by_role("button", name="Plug", exact=True).click()
    await async_api.expect(card.locator(".status")).to_have_text("Preparing")
    await page.fill("#id-tag", "BROWSER-1")
    await card.get_by_role("button", name="Swipe", exact=True).click()
    await async_api.expect(card.locator(".status")).to_have_text("Charging")
    await async_api.expect(page.locator("#outcome")).to_contain_text("started")
    transaction_id = control.sim.station.connectors[1].transaction_id
    await async_api.expect(card.locator(".transaction")).to_have_text(str(transaction_id))
    await async_api.expect(page.locator("#frames")).to_contain_text('"StartTransaction"')
    assert control.sim.station.transactions.sessions[1].id_tag == "BROWSER-1"
    path = await screenshot(page, "dashboard-charging")
    assert path.stat().st_size > 0


async def test_the_dashboard_of_a_2_0_1_station_shows_its_version_and_drives_its_evses(
    control201: Control, page: async_api.Page
) -> None:
    """The page of ``simulate --ocpp 2.0.1 --control``: EVSEs, their transaction, a fault; nothing of 1.6 alone."""
    await page.goto(control201.base + "/")
    await async_api.expect(page.locator("#ocpp")).to_have_text("2.0.1")
    card = page.locator('[data-connector="1"]')
    await async_api.expect(card.locator("h2")).to_contain_text("EVSE 1")
    await async_api.expect(card.locator(".status")).to_have_text("Available")
    for hidden in ("#firmware", "#diagnostics"):  # 1.6's rows: the state of a 2.0.1 station has none
        await async_api.expect(page.locator(hidden)).to_be_hidden()
    await async_api.expect(card.locator(".limit")).to_be_hidden()
    await card.get_by_role("button", name="Plug", exact=True).click()
    await async_api.expect(card.locator(".status")).to_have_text("Occupied")
    await page.fill("#id-tag", "BROWSER-201")
    await card.get_by_role("button", name="Swipe", exact=True).click()
    await async_api.expect(page.locator("#outcome")).to_contain_text("swipe on EVSE 1: started")
    (transaction_id,) = [c["transactionId"] for c in (await control201.state())["connectors"] if c["transactionId"]]
    shown = re.compile(re.escape(transaction_id) + r" \(seqNo \d+\)")  # and its latest event's seqNo
    await async_api.expect(card.locator(".transaction")).to_have_text(shown)
    await async_api.expect(page.locator("#frames")).to_contain_text('"TransactionEvent"')
    other = page.locator('[data-connector="2"]')
    await other.get_by_role("button", name="Fault", exact=True).click()
    await async_api.expect(other.locator(".status")).to_have_text("Faulted")
    await async_api.expect(other.locator(".error-code")).to_have_text("OtherError")
    await async_api.expect(page.locator("#frames")).to_contain_text('"NotifyEvent"')
    await screenshot(page, "dashboard-201")


async def test_dashboard_shows_what_the_station_does_on_its_own(control: Control, page: async_api.Page) -> None:
    """A state change the page did not cause (here, the control API from a script) reaches it by push."""
    await page.goto(control.base + "/")
    status = page.locator('[data-connector="2"] .status')
    await async_api.expect(status).to_have_text("Available")
    await control.post("connectors/2/fault", json={"errorCode": "GroundFailure"})
    await async_api.expect(status).to_have_text("Faulted")
    await page.locator('[data-connector="2"]').get_by_role("button", name="Clear fault", exact=True).click()
    await async_api.expect(status).to_have_text("Available")


async def test_fleet_page_shows_the_figures_and_searches_the_stations(page: async_api.Page) -> None:
    runner, base = await serve_fleet()
    try:
        await page.goto(base + "/")
        await async_api.expect(page.locator('[data-figure="messagesSent"]')).to_contain_text("1234")
        await async_api.expect(page.locator('[data-figure="rttP99Ms"]')).to_contain_text("9.25")
        # the chart draws every figure received: two refreshes (2 s apart) are two points of each line
        await async_api.expect(page.locator("#chart-rate")).to_have_attribute("points", re.compile(r"^\S+ \S+"))
        await async_api.expect(page.locator("#chart-open-max")).to_contain_text("now 0")
        rows = page.locator("#stations tr")
        await async_api.expect(rows).to_have_count(len(FLEET_STATIONS))
        await page.fill("#search", "fleet-2")
        await async_api.expect(rows).to_have_count(1)
        await async_api.expect(rows.first).to_contain_text("1: Charging")
        await async_api.expect(rows.first.locator("td").nth(1)).to_have_text("2.0.1")
        link = rows.first.get_by_role("link", name="FLEET-2")
        assert await link.get_attribute("href") == "/stations/FLEET-2/"
        await screenshot(page, "dashboard-fleet")
    finally:
        await runner.cleanup()


async def test_a_fleet_station_page_drives_its_station_under_the_prefix(control: Control, page: async_api.Page) -> None:
    """``/stations/{id}/`` of a fleet uses ``/api/stations/{id}`` (mounted as the fleet mounts it)."""

    def lookup(request: web.Request) -> Simulator:
        if request.match_info["id"] != control.sim.station.id:
            raise web.HTTPNotFound()
        return control.sim

    app = control_app()
    add_station_routes(app, "/stations/{id}", lookup)
    add_fleet_dashboard(app)
    runner, port = await serve(app, "127.0.0.1", 0, "--control")
    try:
        await page.goto(f"http://127.0.0.1:{port}/stations/CP-1/")
        card = page.locator('[data-connector="2"]')
        await async_api.expect(page.locator("#title")).to_have_text("CP-1")
        await card.get_by_role("button", name="Plug", exact=True).click()
        await async_api.expect(card.locator(".status")).to_have_text("Preparing")
        assert control.sim.hardware.plugged(2)
    finally:
        await runner.cleanup()


@dataclass
class CsmsPage:
    """``chargebox csms --control``'s page, served, with one simulated station connected."""

    base: str
    sim: Simulator


@pytest.fixture
async def csms_page() -> AsyncIterator[CsmsPage]:
    system = CentralSystem()
    ws_port = await system.start()
    runner, port = await serve(csms_control.make_app(system), "127.0.0.1", 0, "--control")
    settings = StationSettings(charge_point_id="CP-9", csms_url=f"ws://127.0.0.1:{ws_port}", connectors=1)
    sim = Simulator(simulated_station(settings))
    run = asyncio.ensure_future(sim.run())
    try:
        await until(lambda: sim.station.boot.registration is not None)
        yield CsmsPage(f"http://127.0.0.1:{port}", sim)
    finally:
        await sim.stop()
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        await runner.cleanup()
        await system.stop()


async def test_csms_page_sends_a_call_and_shows_the_answer(csms_page: CsmsPage, page: async_api.Page) -> None:
    """``chargebox csms --control``'s page: pick a station and an action, send, read its answer."""
    await page.goto(csms_page.base + "/")
    await async_api.expect(page.locator('[data-station="CP-9"]')).to_contain_text("BootNotification")
    await async_api.expect(page.locator("#station")).to_have_value("CP-9")
    await page.select_option("#action", "ChangeConfiguration")
    await async_api.expect(page.locator("#payload")).to_have_value(re.compile(r'"key"'))  # its template came
    await page.fill("#payload", '{"key": "MeterValueSampleInterval", "value": "23"}')
    await page.get_by_role("button", name="Send").click()
    await async_api.expect(page.locator("#answer")).to_contain_text('"status": "Accepted"')
    assert csms_page.sim.station.config.get_int("MeterValueSampleInterval") == 23
    await screenshot(page, "csms-page")


# -- the guard of the control API (web.py), in the browser it protects against ---------------------------------

TOKEN = "dashboard-token-0123456789"


async def test_with_a_token_the_dashboard_opens_once_by_its_address_and_then_works_by_cookie(
    control: Control, page: async_api.Page
) -> None:
    runner, port = await serve(make_app(control.sim), "127.0.0.1", 0, "--control", token=TOKEN)
    base = f"http://127.0.0.1:{port}"
    try:
        response = await page.goto(base + "/")
        assert response is not None and response.status == 401
        await page.goto(f"{base}/?token={TOKEN}")
        assert page.url == base + "/"  # the token left the address bar (and the history)
        card = page.locator('[data-connector="1"]')
        await async_api.expect(page.locator("#link")).to_have_text("connected")  # the event stream, by cookie
        await card.get_by_role("button", name="Plug", exact=True).click()  # a POST, by cookie
        await async_api.expect(card.locator(".status")).to_have_text("Preparing")
        assert control.sim.hardware.plugged(1)
    finally:
        await runner.cleanup()


ATTACKER_PAGE = """<!doctype html><title>cute cats</title>
<iframe name="sink"></iframe>
<form id="form" method="POST" action="{api}/connectors/1/plug" enctype="text/plain" target="sink">
<input name='{{"idTag": "ATTACKER1", "x": "' value='"}}'></form>
<script>
const api = "{api}", card = JSON.stringify({{idTag: "ATTACKER1"}});
const post = (path, init) => fetch(api + path, Object.assign({{method: "POST", mode: "no-cors"}}, init));
document.querySelector("iframe").onload = () => {{ window.formSent = true; }};
document.getElementById("form").submit();
Promise.allSettled([
  post("/connectors/1/swipe", {{headers: {{"Content-Type": "text/plain"}}, body: card}}),
  post("/swipe", {{body: card}}),
  post("/emergency-stop", {{}}),
  post("/reboot", {{}}),
  post("/connectors/2/plug", {{mode: "cors", headers: {{"Content-Type": "application/json"}}, body: "{{}}"}}),
]).then(() => {{ window.fetchesSent = true; }});
</script>"""


async def test_csrf_a_page_of_another_site_in_the_same_browser_swipes_plugs_and_reboots_nothing(
    control: Control, page: async_api.Page, caplog: pytest.LogCaptureFixture
) -> None:
    """The attack of issue 16: another site's page makes the operator's browser POST to the station."""
    caplog.set_level(logging.INFO, "chargebox.web")
    html = ATTACKER_PAGE.format(api=control.base + "/api")

    async def cats(_request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    attacker = web.Application()
    attacker.router.add_get("/", cats)
    runner = web.AppRunner(attacker)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    boots = control.csms.sessions["CP-1"].boots
    try:
        await page.goto(f"http://localhost:{runner.addresses[0][1]}/")  # another site than 127.0.0.1
        await page.wait_for_function("window.fetchesSent && window.formSent")
    finally:
        await runner.cleanup()
    refused = {tuple(r.getMessage().split()[3:5]) for r in caplog.records if "refused" in r.getMessage()}
    # each reached the station and was turned away; the JSON one only asked first (its preflight, refused: so the
    # browser never sent it)
    assert refused == {
        ("POST", "/api/connectors/1/plug"), ("POST", "/api/connectors/1/swipe"), ("POST", "/api/swipe"),
        ("POST", "/api/emergency-stop"), ("POST", "/api/reboot"), ("OPTIONS", "/api/connectors/2/plug"),
    }  # fmt: skip
    status, _ = await control.post("swipe", json={"idTag": "FRIEND-1"})  # sent after them, so answered after
    assert status == 200
    assert [e.request.id_tag for e in control.events(Action.AUTHORIZE)] == ["FRIEND-1"]  # type: ignore[attr-defined]
    assert not control.sim.hardware.plugged(1) and not control.sim.hardware.plugged(2)
    assert control.csms.sessions["CP-1"].boots == boots and control.sim.station.transport.connected


async def test_dns_rebinding_a_name_resolved_to_the_station_gets_nothing(control: Control) -> None:
    """``rebind.example`` resolves to 127.0.0.1 (as an attacker's DNS makes it do): the page and its same-origin
    requests reach the station under that name, and are refused."""
    port = control.base.rsplit(":", 1)[1]
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=[*LAUNCH_ARGS, "--host-resolver-rules=MAP rebind.example 127.0.0.1"],
        )  # fmt: skip
        try:
            page = await browser.new_page()
            response = await page.goto(f"http://rebind.example:{port}/")
            assert response is not None and response.status == 403
            status = await page.evaluate(
                """async () => (await fetch("/api/connectors/1/plug", {method: "POST",
                   headers: {"Content-Type": "application/json"}, body: "{}"})).status"""
            )
            assert status == 403
            read = await page.evaluate("async () => (await fetch('/api/state')).status")
            assert read == 403
        finally:
            await browser.close()
    assert not control.sim.hardware.plugged(1)


# -- what the cards and the fleet's list show (issue 18) ----------------------------------------------------------


async def test_dashboard_shows_a_charging_limit_as_its_value_and_unit(control: Control, page: async_api.Page) -> None:
    """``limit`` is ``{"value", "unit"}``: the card shows "6 A", not "[object Object]"; "none" with no profile."""
    await page.goto(control.base + "/")
    limit = page.locator('[data-connector="1"] .limit')
    await async_api.expect(limit).to_have_text("none")
    profile = m.ChargingProfile(
        charging_profile_id=7, stack_level=0, charging_profile_purpose=m.ChargingProfilePurposeType.TX_DEFAULT_PROFILE,
        charging_profile_kind=m.ChargingProfileKindType.ABSOLUTE,
        charging_schedule=m.ChargingSchedule(
            charging_rate_unit=m.ChargingRateUnitType.A, start_schedule=datetime.now(UTC) - timedelta(minutes=1),
            charging_schedule_period=[m.ChargingSchedulePeriod(start_period=0, limit=6.0)],
        ),
    )  # fmt: skip
    answer = await control.csms.call("CP-1", m.SetChargingProfileRequest(connector_id=1, cs_charging_profiles=profile))
    assert answer.response == m.SetChargingProfileResponse(status=m.ChargingProfileStatus.ACCEPTED)
    await async_api.expect(limit).to_have_text("6 A")
    await screenshot(page, "dashboard-limit")


async def test_dashboard_fault_button_sends_the_error_code_chosen(control: Control, page: async_api.Page) -> None:
    await page.goto(control.base + "/")
    card = page.locator('[data-connector="2"]')
    await async_api.expect(card.locator(".status")).to_have_text("Available")
    codes = await card.locator(".fault-code option").all_text_contents()
    assert "NoError" not in codes and {"GroundFailure", "HighTemperature", "OtherError"} <= set(codes)
    assert await card.locator(".fault-code").input_value() == "OtherError"
    await card.locator(".fault-code").select_option("HighTemperature")
    await card.get_by_role("button", name="Fault", exact=True).click()
    await async_api.expect(card.locator(".status")).to_have_text("Faulted")
    await async_api.expect(card.locator(".error-code")).to_have_text("HighTemperature")
    assert control.sim.station.connectors[2].error_code is m.ChargePointErrorCode.HIGH_TEMPERATURE


async def test_fleet_page_station_list_follows_the_stations(page: async_api.Page) -> None:
    """The list refreshes as the figures do: a plug made elsewhere shows without a reload."""
    system = CentralSystem()
    ws_port = await system.start()
    fleet = Fleet(FleetSettings(csms_url=f"ws://127.0.0.1:{ws_port}", count=2, connect_rate=100))
    run = asyncio.ensure_future(fleet.run())
    runner, port = await start_fleet_control(fleet, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{port}"
    try:
        await until(lambda: fleet.figures()["booted"] == 2)
        await page.goto(base + "/")
        row = page.locator("#stations tr", has_text="CP1")
        await async_api.expect(row).to_contain_text("1: Available")
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{base}/api/stations/CP1/connectors/1/plug", json={}) as response,
        ):
            assert response.status == 200
        await async_api.expect(row).to_contain_text("1: Preparing")
    finally:
        await runner.cleanup()
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        await fleet.stop()
        await system.stop()


async def test_csms_page_offers_every_action_and_its_diagnostics_upload_lands_on_the_page(
    csms_page: CsmsPage, page: async_api.Page
) -> None:
    await page.goto(csms_page.base + "/")
    await async_api.expect(page.locator("#station")).to_have_value("CP-9")
    offered = await page.locator("#action option").all_text_contents()
    assert set(offered) == {action.value for action in m.CENTRAL_SYSTEM_INITIATED}
    await page.select_option("#action", "GetDiagnostics")
    await async_api.expect(page.locator("#payload")).to_have_value(f'{{\n  "location": "{csms_page.base}/uploads/"\n}}')
    await page.get_by_role("button", name="Send").click()
    await async_api.expect(page.locator("#answer")).to_contain_text('"fileName"')
    await async_api.expect(page.locator("#uploads a")).to_contain_text("diagnostics-CP-9-")
    await screenshot(page, "csms-page-uploads")


# -- the fleet, live (issue 21) -------------------------------------------------------------------------------------


async def test_fleet_page_adds_stations_pages_the_list_and_runs_a_blackout(page: async_api.Page) -> None:
    """A few hundred stations: the list is paged and followed by server-sent events; stations added from the page
    appear in it, and a blackout shows them dark and then back, with the figures moving."""
    system = CentralSystem()
    ws_port = await system.start()
    fleet = Fleet(FleetSettings(csms_url=f"ws://127.0.0.1:{ws_port}", count=250, connect_rate=1000))
    run = asyncio.ensure_future(fleet.run())
    live = LiveFleet(fleet)
    runner, port = await start_fleet_control(fleet, "127.0.0.1", 0, live=live)
    slow = {"timeout": 40_000}  # hundreds of stations booting on a shared machine
    try:
        await until(lambda: fleet.figures()["booted"] == 250, timeout=60)
        await page.goto(f"http://127.0.0.1:{port}/")
        await async_api.expect(page.locator("#total")).to_have_text("1-100 of 250")
        await async_api.expect(page.locator("#stations tr")).to_have_count(100)
        await page.fill("#add-count", "20")
        await page.click("#add")
        await async_api.expect(page.locator("#fleet-outcome")).to_have_text("added 20: CP251…CP270")
        await async_api.expect(page.locator("#total")).to_have_text("1-100 of 270")
        await page.click("#next")
        await page.click("#next")
        await async_api.expect(page.locator("#total")).to_have_text("201-270 of 270")
        row = page.locator('#stations tr[data-station="CP270"]')
        await async_api.expect(row).to_contain_text("connected", **slow)
        await async_api.expect(row).to_contain_text("1: Available")
        await async_api.expect(page.locator('[data-figure="booted"]')).to_have_text("Booted 270", **slow)
        await screenshot(page, "fleet-live-added")
        sent = fleet.figures()["messagesSent"]
        await page.fill("#blackout-over", "3")
        await page.click("#blackout")
        await async_api.expect(page.locator("#fleet-outcome")).to_have_text("blackout: 270 stations")
        await page.select_option("#state", "dark")
        await async_api.expect(page.locator("#total")).not_to_have_text(re.compile(" of 0$"))
        await async_api.expect(page.locator("#stations tr").first).to_contain_text("dark")
        await screenshot(page, "fleet-live-blackout")
        await async_api.expect(page.locator("#total")).to_have_text("0-0 of 0", **slow)
        await async_api.expect(page.locator('[data-figure="booted"]')).to_have_text("Booted 270", **slow)
        assert fleet.figures()["messagesSent"] > sent + 270  # every station booted again
        await page.select_option("#state", "all")
        await async_api.expect(page.locator("#stations tr")).to_have_count(100)
        await screenshot(page, "fleet-live-back")
    finally:
        await runner.cleanup()
        live.tasks.cancel()
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        await fleet.stop()
        await system.stop()
