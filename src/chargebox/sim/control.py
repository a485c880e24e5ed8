"""The JSON control API of a simulated station (``simulate --control HOST:PORT``).

    GET  /api/state                                   the station, its connection and connectors
    POST /api/connectors/{id}/plug | unplug           the cable
    POST /api/connectors/{id}/fault {"errorCode": …}  a fault; clear-fault ends it
    POST /api/connectors/{id}/swipe {"idTag": …}      a card at that connector's reader
    POST /api/swipe {"idTag": …}                      a card at the station's one reader
    POST /api/emergency-stop                          every transaction ends (EmergencyStop)
    POST /api/reboot                                  a local reboot (transactions end with Reboot)
    POST /api/connection/disconnect | connect         a network outage, no reboot

Every answer is JSON; a bad request gets 400 (or 404 for an unknown connector) with
``{"error": "..."}`` and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from chargebox.protocol.messages import ChargePointErrorCode

if TYPE_CHECKING:
    from chargebox.sim.simulator import Simulator


def make_app(sim: Simulator) -> web.Application:
    app = web.Application(middlewares=[_errors])
    routes = web.RouteTableDef()

    @routes.get("/api/state")
    async def state(_request: web.Request) -> web.Response:
        return web.json_response(sim.station.snapshot())

    @routes.post("/api/connectors/{id}/{action}")
    async def connector(request: web.Request) -> web.Response:
        connector_id = _connector_id(request, sim)
        action = request.match_info["action"]
        if action == "plug":
            await sim.plug(connector_id)
        elif action == "unplug":
            await sim.unplug(connector_id)
        elif action == "fault":
            body = await _body(request)
            try:
                code = ChargePointErrorCode(body.get("errorCode", "OtherError"))
            except ValueError:
                raise _bad(f"unknown errorCode {body.get('errorCode')!r}") from None
            if code is ChargePointErrorCode.NO_ERROR:
                raise _bad("a fault needs an errorCode other than NoError")
            sim.fault(connector_id, code, _optional_str(body, "info"))
        elif action == "clear-fault":
            sim.clear_fault(connector_id)
        elif action == "swipe":
            await sim.swipe(_id_tag(await _body(request)), connector_id)
        else:
            raise web.HTTPNotFound(text=json.dumps({"error": f"no action {action!r}"}), content_type="application/json")
        return web.json_response(sim.station.snapshot())

    @routes.post("/api/swipe")
    async def swipe(request: web.Request) -> web.Response:
        await sim.swipe(_id_tag(await _body(request)), None)
        return web.json_response(sim.station.snapshot())

    @routes.post("/api/emergency-stop")
    async def emergency_stop(_request: web.Request) -> web.Response:
        await sim.station.emergency_stop()
        return web.json_response(sim.station.snapshot())

    @routes.post("/api/reboot")
    async def reboot(_request: web.Request) -> web.Response:
        await sim.station.local_reboot()
        return web.json_response({"ok": True})

    @routes.post("/api/connection/{action}")
    async def connection(request: web.Request) -> web.Response:
        action = request.match_info["action"]
        if action == "disconnect":
            sim.station.transport.disconnect()
        elif action == "connect":
            sim.station.transport.connect()
        else:
            raise web.HTTPNotFound(text=json.dumps({"error": f"no action {action!r}"}), content_type="application/json")
        return web.json_response({"ok": True})

    app.add_routes(routes)
    return app


@web.middleware
async def _errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type != "application/json":
            exc.text = json.dumps({"error": exc.reason})
            exc.content_type = "application/json"
        raise


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


def _connector_id(request: web.Request, sim: Simulator) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit() or not 1 <= int(raw) <= sim.station.connectors.count:
        raise web.HTTPNotFound(text=json.dumps({"error": f"no connector {raw}"}), content_type="application/json")
    return int(raw)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except json.JSONDecodeError:
        raise _bad("body is not JSON") from None
    if not isinstance(body, dict):
        raise _bad("body must be a JSON object")
    return body


def _id_tag(body: dict[str, Any]) -> str:
    id_tag = body.get("idTag")
    if not isinstance(id_tag, str) or not 1 <= len(id_tag) <= 20:  # G-2: CiString20
        raise _bad("idTag must be a string of 1 to 20 characters")
    return id_tag


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 50:
        raise _bad(f"{name} must be a string of at most 50 characters")
    return value
