"""The JSON control API of a fleet (``fleet --control HOST:PORT``).

    GET  /api/fleet                         the figures (as ``--stats-json`` writes them)
    GET  /api/stations?q=TEXT&limit=N       the stations whose id contains TEXT (at most N, default 100)
    GET  /api/stations/{id}/state           one station, as ``simulate``'s ``GET /api/state``
    GET  /metrics                           the stations and their messages, in Prometheus' text format
    POST /api/stations/{id}/...             every per-station endpoint of ``simulate`` (sim/control.py)

An unknown station is 404; a bad ``limit`` is 400. Requests are held to the same rules as
``simulate``'s (sim/control.py), since they reach the same stations, and guarded as every control API (web.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from chargebox.metrics import add_metrics
from chargebox.openapi import Parameter, add_openapi, operation
from chargebox.sim.control import add_station_routes
from chargebox.sim.dashboard import add_fleet_dashboard
from chargebox.sim.metrics import station_metrics
from chargebox.web import control_app, json_error, serve

if TYPE_CHECKING:
    from chargebox.sim.fleet import Fleet
    from chargebox.sim.simulator import Simulator

MAX_LIMIT: Final = 1000
MAX_QUERY: Final = 64


def make_fleet_app(fleet: Fleet) -> web.Application:
    app = control_app()

    def lookup(request: web.Request) -> Simulator:
        station_id = request.match_info["station"]
        sim = fleet.sims.get(station_id)
        if sim is None:
            raise json_error(web.HTTPNotFound, f"no station {station_id[:64]!r}")
        return sim

    @operation("the figures (as --stats-json writes them)", answers={200: dict[str, Any]})
    async def figures(_request: web.Request) -> web.Response:
        return web.json_response(fleet.figures())

    @operation(
        "the stations whose id holds q",
        answers={200: dict[str, Any]},
        errors=(400,),
        query={"q": Parameter("a part of the id"), "limit": Parameter(f"at most this many, 1 to {MAX_LIMIT}")},
    )
    async def stations(request: web.Request) -> web.Response:
        query = request.query.get("q", "")
        if len(query) > MAX_QUERY:
            raise json_error(web.HTTPBadRequest, f"q must be at most {MAX_QUERY} characters")
        raw = request.query.get("limit", "100")
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
            raise json_error(web.HTTPBadRequest, f"limit must be 1 to {MAX_LIMIT}")
        return web.json_response(fleet.station_rows(query, int(raw)))

    app.router.add_get("/api/fleet", figures)
    app.router.add_get("/api/stations", stations)
    add_station_routes(app, "/stations/{station}", lookup)
    add_metrics(app, station_metrics(fleet.sims.values, fleet.traffic))
    add_fleet_dashboard(app)
    add_openapi(app, title="chargebox fleet control API", description=__doc__ or "")
    return app


async def start_fleet_control(
    fleet: Fleet, host: str, port: int, *, token: str | None = None
) -> tuple[web.AppRunner, int]:
    """Serve the API (guarded as web.py says, ``token`` required off loopback); the runner (for cleanup) and the
    port it listens on (0 picks one)."""
    return await serve(make_fleet_app(fleet), host, port, "--control", token=token)
