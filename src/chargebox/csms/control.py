"""The control API and page of the built-in central system (``chargebox csms --control HOST:PORT``):
a person drives the connected stations without writing code.

    GET  /                              a page: the stations, their last frames, a form to send a CALL
    GET  /api/stations                  {"stations": [{"id", "connected", "boots", "frames": [...]}], "files": [...],
                                         "uploads": [{"name", "bytes", "time"}]}
    GET  /api/templates                 {action: payload} for every CALL a central system sends (templates.py)
    POST /api/stations/{id}/call        {"action": "RemoteStartTransaction", "payload": {...}}
    GET  /files/{name}                  the files of ``--files DIR`` (a firmware image for UpdateFirmware)
    PUT  /uploads/{name}                a station's upload (GetDiagnostics, GetLog): the body is the file;
    POST /uploads/                      or multipart/form-data with the file in field "file"
    GET  /api/uploads/{name}            an uploaded file

A CALL answers what the station answered: ``{"result": "CALLRESULT", "payload": {...}}`` or
``{"result": "CALLERROR", "errorCode", "errorDescription"}`` (both 200: the call was made). The
payload is validated with the message's Struct before anything is sent, as every frame is: an
unknown or charge-point-initiated action, or an invalid payload, is 400; an unknown station 404;
no answer within ``call_timeout`` 504; a link lost or not up 502. The app is guarded as every control API
(web.py: a CALL from another site's page or under a foreign ``Host`` is refused, a token off loopback); only
``/files/`` (read) and ``/uploads/`` (written) are public, since a station downloads and uploads with neither the
token nor, perhaps, this host's own name.

History is bounded: the last ``FRAMES_PER_STATION`` frames of at most ``MAX_STATIONS`` stations
(the oldest disconnected one is forgotten first), since ``chargebox csms`` runs for days. Uploads are kept in
memory, the last ``MAX_UPLOADS`` of at most ``MAX_UPLOAD_BYTES`` each (a larger one is refused with 413, which the
station reports as UploadFailed); reading them back needs the token, as the API does: a diagnostics archive holds
the station's log.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Final

import msgspec
from aiohttp import BodyPartReader, web

from chargebox.csms.server import CentralSystem, Session
from chargebox.csms.templates import templates
from chargebox.errors import RemoteProtocolError
from chargebox.protocol import messages as m
from chargebox.protocol.codec import decode_payload
from chargebox.rpc import SendOutcome
from chargebox.web import control_app, json_body, json_error

log = logging.getLogger("chargebox.csms")

FRAMES_PER_STATION: Final = 50
MAX_STATIONS: Final = 1000
FRAME_TEXT_LIMIT: Final = 2000
DEFAULT_CALL_TIMEOUT: Final = 30.0
MAX_UPLOADS: Final = 10
MAX_UPLOAD_BYTES: Final = 16 * 1024 * 1024
_UPLOAD_NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


@dataclass(frozen=True, slots=True)
class Upload:
    name: str
    data: bytes
    time: float


class Uploads:
    """What stations uploaded, newest last, bounded in count and size."""

    def __init__(self) -> None:
        self.files: OrderedDict[str, Upload] = OrderedDict()

    def add(self, name: str, data: bytes) -> None:
        self.files.pop(name, None)
        self.files[name] = Upload(name, data, time.time())
        while len(self.files) > MAX_UPLOADS:
            self.files.popitem(last=False)

    def listing(self) -> list[dict[str, Any]]:
        return [{"name": u.name, "bytes": len(u.data), "time": u.time} for u in reversed(self.files.values())]


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
    # a station downloads from /files/ and uploads to /uploads/ with no token, by any name of this host
    app = control_app(public=("/files/",), uploads=("/uploads/",))
    history = History(system)
    uploads = Uploads()
    page = resources.files(__package__).joinpath("page/index.html").read_text(encoding="utf-8")

    async def index(_request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-cache"})

    async def stations(_request: web.Request) -> web.Response:
        return web.json_response(
            {"stations": history.stations(), "files": _file_names(files), "uploads": uploads.listing()}
        )

    async def payload_templates(request: web.Request) -> web.Response:
        origin = f"{request.scheme}://{request.host}"
        return web.json_response(templates(origin, files=_file_names(files), now=datetime.now(UTC)))

    async def put_upload(request: web.Request) -> web.Response:
        name = _upload_name(request.match_info["name"])
        uploads.add(name, await _bounded(request.content.read))
        log.info("= upload %s: %d bytes", name, len(uploads.files[name].data))
        return web.json_response({"name": name}, status=201)

    async def post_upload(request: web.Request) -> web.Response:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name == "file":
                name = _upload_name(part.filename or "")
                uploads.add(name, await _bounded(part.read_chunk))
                log.info("= upload %s: %d bytes", name, len(uploads.files[name].data))
                return web.json_response({"name": name}, status=201)
        raise json_error(web.HTTPBadRequest, 'no "file" field in the form')

    async def get_upload(request: web.Request) -> web.Response:
        upload = uploads.files.get(request.match_info["name"])
        if upload is None:
            raise json_error(web.HTTPNotFound, "no such upload")
        return web.Response(
            body=upload.data,
            content_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{upload.name}"'},
        )

    async def call(request: web.Request) -> web.Response:
        charge_point_id = request.match_info["id"]
        body = await json_body(request)
        request_message = _request_message(body)
        if charge_point_id not in system.sessions:
            raise json_error(web.HTTPNotFound, f"no station {charge_point_id!r} is connected")
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
    app.router.add_get("/api/templates", payload_templates)
    app.router.add_post("/api/stations/{id}/call", call)
    app.router.add_put("/uploads/{name}", put_upload)
    app.router.add_post("/uploads/", post_upload)
    app.router.add_get("/api/uploads/{name}", get_upload)
    if files is not None:
        app.router.add_static("/files/", files, show_index=False)
    return app


def _request_message(body: dict[str, Any]) -> m.Message:
    """The CALL to send, validated by its Struct as an incoming frame would be (400 else)."""
    action_name, payload = body.get("action"), body.get("payload", {})
    try:
        action = m.Action(str(action_name))
    except ValueError:
        raise json_error(web.HTTPBadRequest, f"unknown action {action_name!r}") from None
    if action not in m.CENTRAL_SYSTEM_INITIATED:
        raise json_error(web.HTTPBadRequest, f"{action} is sent by a charge point, not to one")
    if not isinstance(payload, dict):
        raise json_error(web.HTTPBadRequest, "payload must be a JSON object")
    try:
        return decode_payload(msgspec.Raw(json.dumps(payload).encode()), m.REQUESTS[action])
    except RemoteProtocolError as exc:
        raise json_error(web.HTTPBadRequest, f"invalid {action} payload: {exc.description}") from None


def _upload_name(name: str) -> str:
    """A station names its file (D-2); only a plain file name is kept (no path, no markup, no control character)."""
    if not _UPLOAD_NAME_RE.fullmatch(name):
        raise json_error(web.HTTPBadRequest, "an upload's name is 1 to 200 of A-Z a-z 0-9 . _ - (no path)")
    return name


async def _bounded(read: Callable[[int], Awaitable[bytes]]) -> bytes:
    """The whole body, read chunk by chunk, or 413 once it passes ``MAX_UPLOAD_BYTES``: memory stays bounded."""
    data = bytearray()
    while chunk := await read(64 * 1024):
        data += chunk
        if len(data) > MAX_UPLOAD_BYTES:
            raise web.HTTPRequestEntityTooLarge(
                max_size=MAX_UPLOAD_BYTES,
                actual_size=len(data),
                text=json.dumps({"error": f"an upload is at most {MAX_UPLOAD_BYTES} bytes"}),
                content_type="application/json",
            )
    return bytes(data)


def _file_names(files: Path | None) -> list[str]:
    if files is None:
        return []
    try:
        return sorted(p.name for p in files.iterdir() if p.is_file())[:100]
    except OSError:
        return []
