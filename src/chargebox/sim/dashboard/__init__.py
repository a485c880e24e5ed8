"""The dashboard pages: one HTML file, one script and one style sheet shipped in the package (no
build step, no CDN), served by the control API of ``simulate`` and of a fleet.

The page is a station's or a fleet's (``data-view`` on its body). A station page finds its API from
its own address: ``/`` is the station of ``simulate`` (prefix ""), ``/stations/{id}/`` a station of a
fleet (prefix ``/api/stations/{id}``, where the fleet mounts ``control.add_station_routes``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Final

from aiohttp import web

from chargebox.openapi import Media, operation
from chargebox.protocol.messages import ChargePointErrorCode

_ASSETS: Final = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
_VIEW_MARK: Final = 'data-view="station"'
_ERROR_CODES_MARK: Final = "<!--error-codes-->"


def add_station_dashboard(app: web.Application) -> None:
    """``GET /``: the page of the one station the app serves."""
    app.router.add_get("/", _page("station"))
    _add_assets(app)


def add_fleet_dashboard(app: web.Application) -> None:
    """``GET /``: the fleet's figures and one page of its station list, searched and filtered on the server and
    followed by server-sent events (``GET /api/fleet/events``; polled from ``/api/fleet`` and ``/api/stations``
    where the fleet does not stream them), with buttons that add, stop, start and remove stations and run a
    blackout (sim/fleet_live_control.py); ``GET /stations/{id}/``: one station's page."""
    app.router.add_get("/", _page("fleet"))
    app.router.add_get("/stations/{id}/", _page("station"))
    _add_assets(app)


def _page(view: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    html = _read("index.html").replace(_VIEW_MARK, f'data-view="{view}"').replace(_ERROR_CODES_MARK, _error_codes())

    @operation(f"the {view}'s dashboard", answers={200: Media("text/html", "the page")}, tag="pages")
    async def page(_request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-cache"})

    return page


def _error_codes() -> str:
    """The Fault button's choices: every ChargePointErrorCode but NoError, from the protocol's own enum."""
    codes = [code.value for code in ChargePointErrorCode if code is not ChargePointErrorCode.NO_ERROR]
    return "".join(f"<option{' selected' if code == 'OtherError' else ''}>{code}</option>" for code in codes)


def _add_assets(app: web.Application) -> None:
    for name, content_type in _ASSETS.items():
        body = _read(name)

        @operation(f"the dashboard's {name}", answers={200: Media(content_type, name)}, tag="pages")
        async def asset(_request: web.Request, body: str = body, content_type: str = content_type) -> web.Response:
            return web.Response(text=body, content_type=content_type)

        app.router.add_get(f"/dashboard/{name}", asset)


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
