"""The control API and page of the built-in central system (``chargebox csms --control HOST:PORT``):
a person drives the connected stations without writing code.

    GET  /                              a page: the stations, their last frames, a form to send a CALL
    GET  /api/stations                  {"stations": [{"id", "connected", "ocpp", "boots", "frames": [...]}]}
    POST /api/stations/{id}/call        {"action": "RemoteStartTransaction", "payload": {...}}
    GET  /files/{name}                  the files of ``--files DIR`` (a firmware image for UpdateFirmware)

A CALL answers what the station answered: ``{"result": "CALLRESULT", "payload": {...}}`` or
``{"result": "CALLERROR", "errorCode", "errorDescription"}`` (both 200: the call was made). The
action and payload are those of the OCPP version the station speaks (1.6, or 2.0.1: ``GetVariables``,
``SetNetworkProfile``, ...) and the payload is validated with the message's Struct of that version before
anything is sent, as every frame is: an unknown or station-initiated action, or an invalid payload, is 400;
an unknown station 404;
no answer within ``call_timeout`` 504; a link lost or not up 502. The app is guarded as every control API
(web.py: a CALL from another site's page or under a foreign ``Host`` is refused, a token off loopback); only
``/files/`` is public, since a station downloads from it with neither the token nor, perhaps, this host's own name.

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
from chargebox.protocol.base import Message
from chargebox.protocol.codec import decode_payload
from chargebox.protocol.dialect import Dialect
from chargebox.rpc import SendOutcome
from chargebox.web import control_app, json_body, json_error

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
                "ocpp": sessions[cp].dialect.version if cp in sessions else None,
                "boots": sessions[cp].boots if cp in sessions else None,
                "frames": list(self.frames.get(cp, ())),
            }
            for cp in ids
        ]


def make_app(
    system: CentralSystem, *, files: Path | None = None, call_timeout: float = DEFAULT_CALL_TIMEOUT
) -> web.Application:
    app = control_app(public=("/files/",))  # a station downloads them with no token, by any name of this host
    history = History(system)
    page = resources.files(__package__).joinpath("page/index.html").read_text(encoding="utf-8")

    async def index(_request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-cache"})

    async def stations(_request: web.Request) -> web.Response:
        return web.json_response({"stations": history.stations(), "files": _file_names(files)})

    async def call(request: web.Request) -> web.Response:
        charge_point_id = request.match_info["id"]
        body = await json_body(request)
        session = system.sessions.get(charge_point_id)
        if session is None:
            raise json_error(web.HTTPNotFound, f"no station {charge_point_id!r} is connected")
        request_message = _request_message(body, session.dialect)
        result = await system.call(charge_point_id, request_message, timeout=call_timeout)
        if result.outcome is SendOutcome.RESPONSE_SUCCESS:
            return web.json_response({"result": "CALLRESULT", "payload": msgspec.to_builtins(result.response)})
        if result.outcome is SendOutcome.RESPONSE_ACCEPT_FAILED:
            return web.json_response(
                {"result": "CALLERROR", "errorCode": result.error_code, "errorDescription": result.error_description}
            )
        if result.error_description == "timed out":
            raise json_error(web.HTTPGatewayTimeout, f"{charge_point_id} did not answer within {call_timeout:g} s")
        raise json_error(web.HTTPBadGateway, f"{charge_point_id}: not sent or no answer ({result.error_description})")

    app.router.add_get("/", index)
    app.router.add_get("/api/stations", stations)
    app.router.add_post("/api/stations/{id}/call", call)
    if files is not None:
        app.router.add_static("/files/", files, show_index=False)
    return app


def _request_message(body: dict[str, Any], dialect: Dialect[Any]) -> Message:
    """The CALL to send, in the station's version, validated by its Struct as an incoming frame would be
    (400 else)."""
    action_name, payload = body.get("action"), body.get("payload", {})
    action = dialect.actions_by_name.get(str(action_name))
    if action is None:
        raise json_error(web.HTTPBadRequest, f"unknown action {action_name!r} in OCPP {dialect.version}")
    if action not in dialect.csms_initiated:
        raise json_error(web.HTTPBadRequest, f"{action} is sent by a charge point, not to one")
    if not isinstance(payload, dict):
        raise json_error(web.HTTPBadRequest, "payload must be a JSON object")
    try:
        return decode_payload(msgspec.Raw(json.dumps(payload).encode()), dialect.requests[action], dialect.errors)
    except RemoteProtocolError as exc:
        raise json_error(web.HTTPBadRequest, f"invalid {action} payload: {exc.description}") from None


def _file_names(files: Path | None) -> list[str]:
    if files is None:
        return []
    try:
        return sorted(p.name for p in files.iterdir() if p.is_file())[:100]
    except OSError:
        return []
