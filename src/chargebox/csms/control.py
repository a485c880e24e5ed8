"""The control API and page of the built-in central system (``chargebox csms --control HOST:PORT``):
a person drives the connected stations without writing code.

    GET  /                              a page: the stations, their last frames, a form to send a CALL
    GET  /api/stations                  {"stations": [{"id", "connected", "boots", "frames": [...]}]}
    POST /api/stations/{id}/call        {"action": "RemoteStartTransaction", "payload": {...}}
    GET  /files/{name}                  the files of ``--files DIR`` (a firmware image for UpdateFirmware)

A CALL answers what the station answered: ``{"result": "CALLRESULT", "payload": {...}}`` or
``{"result": "CALLERROR", "errorCode", "errorDescription"}`` (both 200: the call was made). The
payload is validated with the message's Struct before anything is sent, as every frame is: an
unknown or charge-point-initiated action, or an invalid payload, is 400; an unknown station 404;
no answer within ``call_timeout`` 504; a link lost or not up 502.

History is bounded: the last ``FRAMES_PER_STATION`` frames of at most ``MAX_STATIONS`` stations
(the oldest disconnected one is forgotten first), since ``chargebox csms`` runs for days.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict, deque
from importlib import resources
from pathlib import Path
from typing import Any, Final

import msgspec
from aiohttp import web

from chargebox.csms.server import CentralSystem, Session
from chargebox.errors import RemoteProtocolError
from chargebox.protocol import messages as m
from chargebox.protocol.codec import decode_payload
from chargebox.rpc import SendOutcome
from chargebox.web import api_app, json_body

FRAMES_PER_STATION: Final = 50
MAX_STATIONS: Final = 1000
FRAME_TEXT_LIMIT: Final = 2000
DEFAULT_CALL_TIMEOUT: Final = 30.0


class History:
    """The last frames of each station the central system has served, bounded both ways."""

    def __init__(self, system: CentralSystem) -> None:
        self.system = system
        self.frames: OrderedDict[str, deque[dict[str, Any]]] = OrderedDict()
        system.session_listeners.append(self._on_session)

    def _on_session(self, session: Session) -> None:
        charge_point_id = session.charge_point_id
        ring = self.frames.pop(charge_point_id, None) or deque(maxlen=FRAMES_PER_STATION)
        self.frames[charge_point_id] = ring  # the newest session last
        while len(self.frames) > MAX_STATIONS:
            gone = next((cp for cp in self.frames if cp not in self.system.sessions), next(iter(self.frames)))
            del self.frames[gone]

        def on_frame(direction: str, text: str) -> None:
            # "<" is what the central system received: the station's frame in, seen from the station
            ring.append(
                {"time": time.time(), "dir": "in" if direction == "<" else "out", "frame": text[:FRAME_TEXT_LIMIT]}
            )

        session.rpc.frame_listeners.append(on_frame)

    def stations(self) -> list[dict[str, Any]]:
        sessions = self.system.sessions
        ids = list(sessions) + [cp for cp in self.frames if cp not in sessions]
        return [
            {
                "id": cp,
                "connected": cp in sessions,
                "boots": sessions[cp].boots if cp in sessions else None,
                "frames": list(self.frames.get(cp, ())),
            }
            for cp in ids
        ]


def make_app(
    system: CentralSystem, *, files: Path | None = None, call_timeout: float = DEFAULT_CALL_TIMEOUT
) -> web.Application:
    app = api_app()
    history = History(system)
    page = resources.files(__package__).joinpath("page/index.html").read_text(encoding="utf-8")

    async def index(_request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-cache"})

    async def stations(_request: web.Request) -> web.Response:
        return web.json_response({"stations": history.stations(), "files": _file_names(files)})

    async def call(request: web.Request) -> web.Response:
        charge_point_id = request.match_info["id"]
        body = await json_body(request)
        request_message = _request_message(body)
        if charge_point_id not in system.sessions:
            raise _error(web.HTTPNotFound, f"no station {charge_point_id!r} is connected")
        result = await system.call(charge_point_id, request_message, timeout=call_timeout)
        if result.outcome is SendOutcome.RESPONSE_SUCCESS:
            return web.json_response({"result": "CALLRESULT", "payload": msgspec.to_builtins(result.response)})
        if result.outcome is SendOutcome.RESPONSE_ACCEPT_FAILED:
            return web.json_response(
                {"result": "CALLERROR", "errorCode": result.error_code, "errorDescription": result.error_description}
            )
        if result.error_description == "timed out":
            raise _error(web.HTTPGatewayTimeout, f"{charge_point_id} did not answer within {call_timeout:g} s")
        raise _error(web.HTTPBadGateway, f"{charge_point_id}: not sent or no answer ({result.error_description})")

    app.router.add_get("/", index)
    app.router.add_get("/api/stations", stations)
    app.router.add_post("/api/stations/{id}/call", call)
    if files is not None:
        app.router.add_static("/files/", files, show_index=False)
    return app


def _request_message(body: dict[str, Any]) -> m.Message:
    """The CALL to send, validated by its Struct as an incoming frame would be (400 else)."""
    action_name, payload = body.get("action"), body.get("payload", {})
    try:
        action = m.Action(str(action_name))
    except ValueError:
        raise _error(web.HTTPBadRequest, f"unknown action {action_name!r}") from None
    if action not in m.CENTRAL_SYSTEM_INITIATED:
        raise _error(web.HTTPBadRequest, f"{action} is sent by a charge point, not to one")
    if not isinstance(payload, dict):
        raise _error(web.HTTPBadRequest, "payload must be a JSON object")
    try:
        return decode_payload(msgspec.Raw(json.dumps(payload).encode()), m.REQUESTS[action])
    except RemoteProtocolError as exc:
        raise _error(web.HTTPBadRequest, f"invalid {action} payload: {exc.description}") from None


def _file_names(files: Path | None) -> list[str]:
    if files is None:
        return []
    try:
        return sorted(p.name for p in files.iterdir() if p.is_file())[:100]
    except OSError:
        return []


def _error(kind: type[web.HTTPException], message: str) -> web.HTTPException:
    return kind(text=json.dumps({"error": message}), content_type="application/json")
