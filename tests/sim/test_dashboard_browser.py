"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright's Python API,
never a downloaded browser build): a person's clicks reach the station and its new state comes back
by server-sent events. Each test writes a screenshot for a person to look at (its path is printed).

``make install-dev`` installs chromium when run as root (CI); elsewhere, without it, these tests skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from chargebox.csms import control as csms_control
from chargebox.csms.server import CentralSystem
from chargebox.sim.control import add_station_routes
from chargebox.sim.dashboard import add_fleet_dashboard
from chargebox.sim.simulator import Simulator, simulated_station
from chargebox.station.station import StationSettings
from chargebox.web import errors_middleware, serve
from tests.sim.test_control import Control, control, until
from tests.sim.test_dashboard import FLEET_STATIONS, serve_fleet

__all__ = ["control"]  # the fixture, imported

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
        rows = page.locator("#stations tr")
        await async_api.expect(rows).to_have_count(len(FLEET_STATIONS))
        await page.fill("#search", "fleet-2")
        await async_api.expect(rows).to_have_count(1)
        await async_api.expect(rows.first).to_contain_text("1: Charging")
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

    app = web.Application(middlewares=[errors_middleware])
    add_station_routes(app, "/stations/{id}", lookup)
    add_fleet_dashboard(app)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        await page.goto(f"http://127.0.0.1:{runner.addresses[0][1]}/stations/CP-1/")
        card = page.locator('[data-connector="2"]')
        await async_api.expect(page.locator("#title")).to_have_text("CP-1")
        await card.get_by_role("button", name="Plug", exact=True).click()
        await async_api.expect(card.locator(".status")).to_have_text("Preparing")
        assert control.sim.hardware.plugged(2)
    finally:
        await runner.cleanup()


async def test_csms_page_sends_a_call_and_shows_the_answer(page: async_api.Page) -> None:
    """``chargebox csms --control``'s page: pick a station and an action, send, read its answer."""
    system = CentralSystem()
    ws_port = await system.start()
    runner, port = await serve(csms_control.make_app(system), "127.0.0.1", 0, "--control")
    settings = StationSettings(charge_point_id="CP-9", csms_url=f"ws://127.0.0.1:{ws_port}", connectors=1)
    sim = Simulator(simulated_station(settings))
    run = asyncio.ensure_future(sim.run())
    try:
        await until(lambda: sim.station.boot.registration is not None)
        await page.goto(f"http://127.0.0.1:{port}/")
        await async_api.expect(page.locator('[data-station="CP-9"]')).to_contain_text("BootNotification")
        await async_api.expect(page.locator("#station")).to_have_value("CP-9")
        await page.select_option("#action", "ChangeConfiguration")
        await page.fill("#payload", '{"key": "MeterValueSampleInterval", "value": "23"}')
        await page.get_by_role("button", name="Send").click()
        await async_api.expect(page.locator("#answer")).to_contain_text('"status": "Accepted"')
        assert sim.station.config.get_int("MeterValueSampleInterval") == 23
        await screenshot(page, "csms-page")
    finally:
        await sim.stop()
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        await runner.cleanup()
        await system.stop()
