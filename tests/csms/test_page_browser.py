"""The central system's page in a real headless Chromium (Debian's, through Playwright, as
tests/sim/test_dashboard_browser.py does) with a hundred simulated stations connected: the list, search, connector
statuses and transactions pushed by server-sent events, a CALL sent from the form, and the form in view at desktop
and phone width; with a 1.6 and a 2.0.1 station, the form offers each one its version's actions and templates.
Screenshots go to tests/artifacts/ (their paths are printed)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chargebox.csms import control as csms_control
from chargebox.csms.server import CentralSystem, CsmsPolicy
from chargebox.sim.fleet import Fleet, FleetSettings
from chargebox.sim.simulator import Simulator, simulated_station
from chargebox.station.station import StationSettings
from chargebox.transport import ReconnectPolicy
from chargebox.web import serve
from tests.loopback import run_until_stopped, until
from tests.sim.test_dashboard_browser import ARTIFACTS, CHROMIUM, LAUNCH_ARGS, TIMEOUT_MS

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (make install-dev as root)")

async_api = pytest.importorskip("playwright.async_api")

STATIONS = 100


@dataclass
class Served:
    base: str
    fleet: Fleet
    system: CentralSystem


@pytest.fixture
async def hundred() -> AsyncIterator[Served]:
    system = CentralSystem(CsmsPolicy(heartbeat_interval=600))
    ws_port = await system.start()
    runner, port = await serve(csms_control.make_app(system), "127.0.0.1", 0, "--control")
    fleet = Fleet(FleetSettings(csms_url=f"ws://127.0.0.1:{ws_port}", count=STATIONS, id_prefix="FLEET-",
                                connectors=2, connect_rate=1000))  # fmt: skip
    run = asyncio.ensure_future(fleet.run())
    try:
        await until(lambda: fleet.figures()["booted"] == STATIONS, timeout=60)
        yield Served(f"http://127.0.0.1:{port}", fleet, system)
    finally:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        await fleet.stop()
        await runner.cleanup()
        await system.stop()


async def _browser_page(playwright: object, width: int, height: int) -> object:
    browser = await playwright.chromium.launch(  # type: ignore[attr-defined]
        executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True
    )
    page = await browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(TIMEOUT_MS)
    return page


async def screenshot(page: async_api.Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}-{os.getpid()}.png"
    await page.screenshot(path=str(path))
    print(f"screenshot: {path}")
    return path


async def in_view(page: async_api.Page, selector: str) -> bool:
    box = await page.locator(selector).bounding_box()
    viewport = page.viewport_size
    return box is not None and viewport is not None and box["y"] >= 0 and box["y"] + 30 <= viewport["height"]


async def test_a_hundred_stations_searched_followed_and_driven_from_the_form(hundred: Served) -> None:
    expect = async_api.expect
    async with async_api.async_playwright() as playwright:
        page = await _browser_page(playwright, 1280, 900)
        await page.goto(hundred.base + "/")
        await expect(page.locator("#live")).to_have_text("live")
        await expect(page.locator("#count")).to_contain_text(f"{STATIONS} stations · {STATIONS} connected")
        await expect(page.locator(".station")).to_have_count(STATIONS)
        await expect(page.locator(".station").first).to_have_attribute("data-station", "FLEET-1")  # natural order

        # search: by id, then by what a connector shows
        await page.fill("#search", "fleet-42")
        await expect(page.locator(".station:visible")).to_have_count(1)
        row = page.locator('[data-station="FLEET-42"]')
        await row.click()
        await expect(page.locator("#station")).to_have_value("FLEET-42")
        await expect(row.locator(".frames")).to_contain_text('"BootNotification"')  # its frames, by the stream

        # a change the page did not make arrives by server-sent events
        await hundred.fleet.sims["FLEET-42"].plug(1)
        connector = row.locator('[data-connector="1"]')
        await expect(connector).to_have_text("1: Preparing")

        # a CALL from the form: the answer, then the transaction on the row
        await page.select_option("#action", "RemoteStartTransaction")
        await page.fill("#payload", '{"connectorId": 1, "idTag": "PAGE-1"}')
        await page.get_by_role("button", name="Send").click()
        await expect(page.locator("#answer")).to_contain_text('"status": "Accepted"')
        await expect(connector).to_contain_text("1: Charging")
        await expect(connector).to_contain_text("PAGE-1")
        assert hundred.fleet.sims["FLEET-42"].station.transactions.sessions[1].id_tag == "PAGE-1"
        await page.fill("#search", "charging")
        await expect(page.locator(".station:visible")).to_have_count(1)
        await expect(page.locator("#count")).to_contain_text("1 charging")

        # a station that goes away shows so, the others untouched
        await page.fill("#search", "")
        hundred.fleet.sims["FLEET-99"].station.transport.disconnect()
        await expect(page.locator('[data-station="FLEET-99"] .badge').first).to_have_text("disconnected")
        await expect(page.locator("#count")).to_contain_text(f"{STATIONS - 1} connected")

        # the form stays in view while the list scrolls
        await page.mouse.move(900, 500)
        await page.mouse.wheel(0, 20_000)
        await expect(page.locator('[data-station="FLEET-99"]')).to_be_in_viewport()
        assert await in_view(page, "#call button")
        path = await screenshot(page, "csms-page-hundred")
        assert path.stat().st_size > 0


async def test_at_phone_width_the_form_stays_in_view_and_the_list_is_one_column(hundred: Served) -> None:
    expect = async_api.expect
    async with async_api.async_playwright() as playwright:
        page = await _browser_page(playwright, 390, 844)
        await page.goto(hundred.base + "/")
        await expect(page.locator(".station")).to_have_count(STATIONS)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # nothing wider than the phone
        await page.mouse.move(200, 700)
        await page.mouse.wheel(0, 20_000)
        await expect(page.locator('[data-station="FLEET-100"]')).to_be_in_viewport()
        assert await in_view(page, "#call button")
        await page.locator('[data-station="FLEET-100"]').click()
        await expect(page.locator("#station")).to_have_value("FLEET-100")
        await screenshot(page, "csms-page-phone")


@pytest.fixture
async def two_versions(tmp_path: Path) -> AsyncIterator[str]:
    """The page's address, with a 1.6 station (CP-16) and a 2.0.1 one (CP-201) booted on its central system."""
    system = CentralSystem(CsmsPolicy(heartbeat_interval=600))
    ws_port = await system.start()
    runner, port = await serve(csms_control.make_app(system), "127.0.0.1", 0, "--control")
    sims = [
        Simulator(simulated_station(StationSettings(
            charge_point_id=cp, csms_url=f"ws://127.0.0.1:{ws_port}", ocpp=ocpp, connectors=1, data_dir=tmp_path / cp,
            reconnect=ReconnectPolicy(initial=0.05, maximum=0.2, jitter=0.1),
        )))
        for cp, ocpp in (("CP-16", "1.6"), ("CP-201", "2.0.1"))
    ]  # fmt: skip
    try:
        async with run_until_stopped(sims[0]), run_until_stopped(sims[1]):
            await until(lambda: len(system.sessions) == 2 and sims[1].station.registration == "Accepted")
            yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        await system.stop()


async def test_a_2_0_1_station_is_offered_2_0_1_actions_and_a_1_6_station_1_6_ones(two_versions: str) -> None:
    expect = async_api.expect
    async with async_api.async_playwright() as playwright:
        page = await _browser_page(playwright, 1280, 900)
        await page.goto(two_versions + "/")
        await expect(page.locator(".station")).to_have_count(2)
        await expect(page.locator('[data-station="CP-201"] .badge.version')).to_have_text("OCPP 2.0.1")

        row = page.locator('[data-station="CP-201"]')
        await row.click()
        await expect(page.locator("#station")).to_have_value("CP-201")
        await expect(page.locator('#action option[value="GetVariables"]')).to_have_count(1)
        await expect(page.locator('#action option[value="RemoteStartTransaction"]')).to_have_count(0)
        await expect(page.locator("#action option")).to_have_count(40)  # every CSMS-initiated 2.0.1 action
        await page.select_option("#action", "GetVariables")
        await expect(page.locator("#payload")).to_have_value(re.compile('"name": "HeartbeatInterval"'))
        await page.get_by_role("button", name="Send").click()  # the template as it is
        await expect(page.locator("#answer")).to_contain_text('"attributeStatus": "Accepted"')
        await expect(page.locator("#answer")).to_contain_text('"attributeValue": "600"')  # set by its boot
        await expect(row.locator(".frames")).to_contain_text('"GetVariables"')  # on the wire, to CP-201
        await screenshot(page, "csms-page-2-0-1")

        await page.locator('[data-station="CP-16"]').click()
        await expect(page.locator("#station")).to_have_value("CP-16")
        await expect(page.locator('#action option[value="RemoteStartTransaction"]')).to_have_count(1)
        await expect(page.locator('#action option[value="GetVariables"]')).to_have_count(0)
        await expect(page.locator("#payload")).to_have_value(re.compile('"idTag": "REMOTE-1"'))
