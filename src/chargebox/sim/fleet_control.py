"""The JSON control API of a fleet (``fleet --control HOST:PORT``).

    GET  /api/fleet                         the figures (as ``--stats-json`` writes them)
    GET  /api/stations?q=TEXT&state=S&offset=K&limit=N
                                            one page of the stations whose id contains TEXT, in state S (all,
                                            running, connected, disconnected, starting, stopped, dark), from the
                                            K-th, at most N (default 100): each one's connectors' status, error
                                            and transaction
    GET  /api/stations/{id}/state           one station, as ``simulate``'s ``GET /api/state``
    GET  /metrics                           the stations and their messages, in Prometheus' text format
    POST /api/stations/{id}/...             every per-station endpoint of ``simulate`` (sim/control.py)

Stations are added, stopped, started and removed, and scenarios run, while the fleet runs: fleet_live_control.py.

An unknown station is 404; a bad ``limit`` is 400. Requests are held to the same rules as
``simulate``'s (sim/control.py), since they reach the same stations, and guarded as every control API (web.py).

Under ``--processes`` the command serves the same API: ``/api/fleet`` is the processes' combined figures, the
station list is theirs merged in index order, and a station's requests (its event stream included) go to the
process that runs it, which serves its own fleet's API on loopback with a token only the command knows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import fields
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from chargebox.metrics import Summed, add_fetched_metrics, add_metrics
from chargebox.openapi import add_openapi, operation, operation_of, routes
from chargebox.sim.control import add_station_routes
from chargebox.sim.dashboard import add_fleet_dashboard
from chargebox.sim.fleet import Fleet
from chargebox.sim.fleet_live import LiveFleet
from chargebox.sim.fleet_live_control import MAX_LIMIT, QUERY, add_live_routes, add_processes_live_routes, listing
from chargebox.sim.metrics import station_metrics
from chargebox.web import control_app, json_error, serve

if TYPE_CHECKING:
    from chargebox.sim.fleet_processes import FleetProcesses, Worker
    from chargebox.sim.simulator import Simulator

PROCESS_WAIT: Final = 10.0  # seconds a request waits for a process still starting its control API
_PROXY: Final = web.AppKey("chargebox.fleet_proxy", aiohttp.ClientSession)


def make_fleet_app(fleet: Fleet, live: LiveFleet | None = None) -> web.Application:
    """``live``: the fleet's stations as fleet --plan changes them too (else the API's own)."""
    app = control_app()
    live = live or LiveFleet(fleet)

    def lookup(request: web.Request) -> Simulator:
        station_id = request.match_info["station"]
        sim = fleet.sims.get(station_id)
        if sim is None:
            raise json_error(web.HTTPNotFound, f"no station {station_id[:64]!r}")
        return sim

    @operation("the figures (as --stats-json writes them)", answers={200: dict[str, Any]})
    async def figures(_request: web.Request) -> web.Response:
        return web.json_response(fleet.figures())

    @operation("one page of the stations whose id holds q", answers={200: dict[str, Any]}, errors=(400,), query=QUERY)
    async def stations(request: web.Request) -> web.Response:
        return web.json_response(live.rows(*listing(request)))

    app.router.add_get("/api/fleet", figures)
    app.router.add_get("/api/stations", stations)
    add_station_routes(app, "/stations/{station}", lookup)
    add_live_routes(app, live)
    add_metrics(app, station_metrics(fleet.sims.values, fleet.traffic))
    add_fleet_dashboard(app)
    add_openapi(app, title="chargebox fleet control API", description=__doc__ or "")
    return app


def make_processes_app(fleet: FleetProcesses) -> web.Application:
    """The API of ``fleet --processes``: the same routes, answered from every process."""
    app = control_app()
    app.cleanup_ctx.append(_proxy_session)
    prefix = fleet.settings.id_prefix

    @operation("the figures of every process, combined (as --stats-json writes them)", answers={200: dict[str, Any]})
    async def figures(_request: web.Request) -> web.Response:
        return web.json_response(fleet.figures())

    @operation(
        "one page of the stations whose id holds q, from every process",
        description=f"offset + limit at most {MAX_LIMIT} (each process is asked for as many).",
        answers={200: dict[str, Any]},
        errors=(400, 502),
        query=QUERY,
    )
    async def stations(request: web.Request) -> web.Response:
        query, state, offset, limit = listing(request)
        if offset + limit > MAX_LIMIT:
            raise json_error(web.HTTPBadRequest, f"fleet --processes: offset + limit must be at most {MAX_LIMIT}")
        path = f"/api/stations?{urlencode({'q': query, 'state': state, 'limit': offset + limit})}"
        answers = await asyncio.gather(*(_ask(request, fleet, worker, "GET", path) for worker in fleet.workers))
        listed = [station for answer in answers for station in answer["stations"]]
        listed.sort(key=lambda station: int(station["id"][len(prefix) :]))  # the order one process lists them in
        total = sum(answer["total"] for answer in answers)
        return web.json_response({"total": total, "offset": offset, "stations": listed[offset : offset + limit]})

    async def station(request: web.Request) -> web.StreamResponse:
        station_id = request.match_info["station"]
        number = station_id[len(prefix) :]
        if not (station_id.startswith(prefix) and number.isascii() and number.isdigit()) or not (
            1 <= int(number) <= fleet.settings.count
        ):
            raise json_error(web.HTTPNotFound, f"no station {station_id[:64]!r}")
        return await _forward(request, fleet, fleet.worker_of(int(number)))

    async def summed(request: web.Request) -> Summed:
        """Every process's figures added up (each counts its own stations and messages)."""
        texts = await asyncio.gather(*(_ask_text(request, fleet, worker, "/metrics") for worker in fleet.workers))
        return Summed(texts)

    app.router.add_get("/api/fleet", figures)
    app.router.add_get("/api/stations", stations)
    add_fetched_metrics(app, summed)
    for method, path, route in routes(_one_process_station_api()):  # each passed on to the station's process
        app.router.add_route(method, path, _described_as(route, station))
    add_processes_live_routes(app, station)
    add_fleet_dashboard(app)
    add_openapi(app, title="chargebox fleet control API", description=__doc__ or "")
    return app


def _one_process_station_api() -> web.Application:
    """The per-station routes one process serves (never served itself): what the command passes on."""
    app = web.Application()
    add_station_routes(app, "/stations/{station}", _unserved)
    return app


def _unserved(_request: web.Request) -> Simulator:
    raise AssertionError("the per-station routes of the command are passed on, never looked up here")


def _described_as(
    route: web.AbstractRoute, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """``handler`` described as ``route``'s handler is, so that the command's document is one process's."""
    described = operation_of(route)
    if described is None:
        raise AssertionError(f"{route.method} {route.resource.canonical if route.resource else '?'} has no @operation")

    async def passed_on(request: web.Request) -> web.StreamResponse:
        return await handler(request)

    return operation(**{item.name: getattr(described, item.name) for item in fields(described)})(passed_on)


async def start_fleet_control(
    fleet: Fleet | FleetProcesses, host: str, port: int, *, token: str | None = None, live: LiveFleet | None = None
) -> tuple[web.AppRunner, int]:
    """Serve the API (guarded as web.py says, ``token`` required off loopback); the runner (for cleanup) and the
    port it listens on (0 picks one). ``live``: a fleet's stations as ``--plan`` changes them too."""
    app = make_fleet_app(fleet, live) if isinstance(fleet, Fleet) else make_processes_app(fleet)
    return await serve(app, host, port, "--control", token=token)


async def _proxy_session(app: web.Application) -> Any:
    """One client for every request the command passes on to its processes, closed with the app."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=5)) as session:
        app[_PROXY] = session
        yield


async def _forward(request: web.Request, fleet: FleetProcesses, worker: Worker) -> web.StreamResponse:
    """The request as the process's own API answers it; an event stream is passed on as it flows."""
    headers = await _upstream_headers(fleet, worker, request.headers.get("Content-Type"))
    body = await request.read() if request.can_read_body else None  # bounded by the guard (web.MAX_BODY_SIZE)
    url = f"http://127.0.0.1:{worker.control_port}{request.rel_url}"
    try:
        async with request.app[_PROXY].request(request.method, url, headers=headers, data=body) as upstream:
            if upstream.content_type != "text/event-stream":
                body = await upstream.read()
                return web.Response(status=upstream.status, body=body, content_type=upstream.content_type)
            response = web.StreamResponse(
                status=upstream.status, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
            )
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            return response
    except aiohttp.ClientError as exc:
        raise _unavailable(worker) from exc


async def _ask(request: web.Request, fleet: FleetProcesses, worker: Worker, method: str, path: str) -> Any:
    """One process's JSON answer to a request of the command's own."""
    headers = await _upstream_headers(fleet, worker, None)
    try:
        async with request.app[_PROXY].request(
            method, f"http://127.0.0.1:{worker.control_port}{path}", headers=headers
        ) as upstream:
            upstream.raise_for_status()
            return await upstream.json()
    except aiohttp.ClientError as exc:
        raise _unavailable(worker) from exc


async def _ask_text(request: web.Request, fleet: FleetProcesses, worker: Worker, path: str) -> str:
    """One process's text answer to a GET of the command's own."""
    headers = await _upstream_headers(fleet, worker, None)
    try:
        async with request.app[_PROXY].get(
            f"http://127.0.0.1:{worker.control_port}{path}", headers=headers
        ) as upstream:
            upstream.raise_for_status()
            return await upstream.text()
    except aiohttp.ClientError as exc:
        raise _unavailable(worker) from exc


async def _upstream_headers(fleet: FleetProcesses, worker: Worker, content_type: str | None) -> dict[str, str]:
    """The token of the processes' APIs, once this one serves its own (502 if it never does)."""
    try:
        await asyncio.wait_for(worker.control_ready.wait(), PROCESS_WAIT)
    except TimeoutError:
        raise _unavailable(worker) from None
    if worker.control_port is None:
        raise _unavailable(worker)
    headers = {"Authorization": f"Bearer {fleet.control_token}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


def _unavailable(worker: Worker) -> web.HTTPException:
    return json_error(web.HTTPBadGateway, f"fleet process {worker.number} does not answer")
