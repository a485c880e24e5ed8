"""The routes of a fleet changed while it runs (sim/fleet_live.py, sim/scenarios.py), on the fleet's control API:

    POST   /api/stations {"template": NAME, "count": N}       N new stations of that template (201, their ids)
    POST   /api/stations/{id}/stop | start                     a station out of service, and back
    DELETE /api/stations/{id}                                  a station out of service and out of the fleet
    POST   /api/scenarios/blackout {"restoreOver": T}          every station's power cut, back over T seconds
    POST   /api/scenarios/partition {"share": F, "seconds": D} the links of a share F of them down for D seconds
    POST   /api/scenarios/rolling-reboot {"batch": N}          every station rebooted, N at a time
    POST   /api/scenarios/firmware-campaign                    every 1.6 station installs the firmware at URL,
           {"location": URL, "batch": N}                       N at a time
    GET    /api/fleet/events?q=&state=&offset=&limit=          the figures and one page of the station list,
                                                               by server-sent events (``fleet``, ``stations``)

A refused change (an unknown template or station, a count out of range, a station in the wrong state) is one JSON
error, 400, 404 or 409, and changes nothing. Under ``fleet --processes`` a station's stop, start and removal go to
its process; adding stations and the scenarios are 409 (each process holds its shard of the ids: a new id would have
to be routed to one, which is not done yet), as is the event stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web

from chargebox.openapi import Media, Parameter, operation
from chargebox.sim import scenarios
from chargebox.sim.fleet_live import MAX_ADD, STATES, LiveFleet, Refused, States
from chargebox.web import event_stream, json_body, json_error

MAX_LIMIT: Final = 1000  # stations in one page of the list
MAXQUERY: Final = 64
PUSH_EVERY: Final = 1.0  # seconds between two looks at the list for an event stream
_PATH: Final = {"station": Parameter("the station's id")}
_SCENARIOS: Final = {
    "blackout": "every running station's power is cut at once; each comes back at a seeded time within restoreOver s",
    "partition": "the links of a seeded share (0 to 1) of the running stations drop for seconds; they charge offline",
    "rolling-reboot": "the running stations reboot batch at a time, each batch once the one before booted again",
    "firmware-campaign": "the running 1.6 stations install the firmware at location, batch at a time, as if their "
    "central system had sent UpdateFirmware",
}
_PROCESSES: Final = (
    "fleet --processes: each process holds its own share of the ids, and a new station or a scenario is not routed "
    "to them; run the fleet in one process for this"
)
Forward = Callable[[web.Request], Awaitable[web.StreamResponse]]


def listing(request: web.Request) -> tuple[str, States, int, int]:
    """``q``, ``state``, ``offset`` and ``limit`` of the station list, checked (400 else)."""
    query = request.query.get("q", "")
    if len(query) > MAXQUERY:
        raise json_error(web.HTTPBadRequest, f"q must be at most {MAXQUERY} characters")
    state = request.query.get("state", "all")
    if state not in STATES:
        raise json_error(web.HTTPBadRequest, f"state must be one of {', '.join(STATES)}")
    offset, limit = _whole(request, "offset", "0", 0, 10**9), _whole(request, "limit", "100", 1, MAX_LIMIT)
    return query, state, offset, limit  # type: ignore[return-value]  # checked against STATES above


def _whole(request: web.Request, name: str, default: str, low: int, high: int) -> int:
    raw = request.query.get(name, default)
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise json_error(web.HTTPBadRequest, f"{name} must be {low} to {high}")
    return int(raw)


QUERY: Final = {
    "q": Parameter("a part of the id"),
    "state": Parameter("only the stations in this state", {"enum": list(STATES)}),
    "offset": Parameter("skip this many"),
    "limit": Parameter(f"at most this many, 1 to {MAX_LIMIT}"),
}


def _add_described(app: web.Application, live: LiveFleet | None, forward: Forward | None) -> None:
    """Every route, served by ``live`` (one process) or, under --processes, passed on (``forward``) or refused."""

    def refused(why: str = _PROCESSES) -> web.HTTPException:
        return json_error(web.HTTPConflict, why)

    async def changed(change: Awaitable[Any]) -> Any:
        try:
            return await change
        except Refused as exc:
            kind = {400: web.HTTPBadRequest, 404: web.HTTPNotFound}.get(exc.status, web.HTTPConflict)
            raise json_error(kind, str(exc)) from None

    @operation(
        "add stations of a template by name",
        description=f"body {{template, count}}: count 1 to {MAX_ADD}; the ids answer at once, the stations connect "
        "ramped at the fleet's connect rate.",
        body=dict[str, Any],
        answers={201: dict[str, Any]},
        errors=(400, 409),
    )
    async def add(request: web.Request) -> web.Response:
        if live is None:
            raise refused()
        body = await json_body(request)
        template, count = body.get("template", "default"), body.get("count")
        if not isinstance(template, str) or isinstance(count, bool) or not isinstance(count, int):
            raise json_error(web.HTTPBadRequest, "body must be {template: a name, count: a whole number}")
        ids = await changed(live.add(template, count))
        return web.json_response({"added": ids}, status=201)

    def one(change: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            if live is None:
                assert forward is not None
                return await forward(request)
            station_id = request.match_info["station"]
            await changed(getattr(live, change)([station_id]))
            return web.json_response(live.row(station_id) if station_id in live.kinds else {"removed": station_id})

        return handler

    stop = operation(
        "take a station out of service (its transactions end with reason Other), keeping it in the list",
        answers={200: dict[str, Any]},
        errors=(404, 409),
        path=_PATH,
    )(one("stop"))
    start = operation("start a stopped station again", answers={200: dict[str, Any]}, errors=(404, 409), path=_PATH)(
        one("start")
    )
    remove = operation(
        "take a station out of service and out of the fleet (its id is never given again)",
        answers={200: dict[str, Any]},
        errors=(404, 409),
        path=_PATH,
    )(one("remove"))

    def scenario(name: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        @operation(
            f"scenario {name}",
            description=_SCENARIOS[name] + " (sim/scenarios.py)",
            body=dict[str, Any],
            answers={200: dict[str, Any]},
            errors=(400, 409),
        )
        async def run(request: web.Request) -> web.Response:
            if live is None:
                raise refused()
            body = await json_body(request)
            if name == "blackout":
                started = scenarios.blackout(live, body.get("restoreOver", 0))
            elif name == "partition":
                started = scenarios.partition(live, body.get("share", 1), body.get("seconds"))
            elif name == "rolling-reboot":
                started = scenarios.rolling_reboot(live, body.get("batch", 1))
            else:
                started = scenarios.firmware_campaign(live, body.get("location"), body.get("batch", 1))
            return web.json_response(await changed(started))

        return run

    @operation(
        "the figures and one page of the station list, by server-sent events (fleet, stations)",
        answers={200: Media("text/event-stream", "the events")},
        errors=(400, 409, 503),
        query=QUERY,
    )
    async def events(request: web.Request) -> web.StreamResponse:
        if live is None:
            raise refused("fleet --processes: the station list is not streamed; GET /api/stations pages it")
        query, state, offset, limit = listing(request)
        loop = asyncio.get_running_loop()
        async with event_stream(request) as stream:
            last = None
            while True:
                page = live.rows(query, state, offset, limit)
                events: list[tuple[str, object]] = [("fleet", live.fleet.figures())]
                if page != last:
                    events.append(("stations", page))
                    last = page
                await stream.send(*events)
                timer = loop.call_later(PUSH_EVERY, stream.wake.set)
                try:
                    if not await stream.wait():
                        break
                finally:
                    timer.cancel()
        return stream.response

    app.router.add_post("/api/stations", add)
    app.router.add_post("/api/stations/{station}/stop", stop)
    app.router.add_post("/api/stations/{station}/start", start)
    app.router.add_delete("/api/stations/{station}", remove)
    for name in _SCENARIOS:
        app.router.add_post(f"/api/scenarios/{name}", scenario(name))
    app.router.add_get("/api/fleet/events", events)


def add_live_routes(app: web.Application, live: LiveFleet) -> None:
    """The routes of one fleet process, served by ``live``."""
    _add_described(app, live, None)


def add_processes_live_routes(app: web.Application, forward: Forward) -> None:
    """The same routes under ``fleet --processes``: a station's own passed on to its process, the rest 409."""
    _add_described(app, None, forward)
