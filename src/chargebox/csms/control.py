"""The control API and page of the built-in central system (``chargebox csms --control HOST:PORT``): a person
drives the connected stations without writing code, and a program does the same through the API, whose every
route is described beside its handler (``@operation``) and served as OpenAPI at ``GET /api/openapi.json``.

The page (``GET /``) lists the stations (csms/stations.py: connected or not, their security profile, each
connector's status, the transaction running there), follows them by server-sent events (``GET /api/events``), and
has a form to send any central-system CALL with a template for each (csms/templates.py). A CALL answers what the
station answered: ``{"result": "CALLRESULT", "payload": {...}}`` or ``{"result": "CALLERROR", "errorCode",
"errorDescription"}`` (both 200: the call was made). The payload is validated with the message's Struct before
anything is sent, as every frame is: an unknown or charge-point-initiated action, or an invalid payload, is 400; an
unknown station 404; no answer within ``call_timeout`` 504; a link lost or not up 502.

The app is guarded as every control API (web.py: a CALL from another site's page or under a foreign ``Host`` is
refused, a token off loopback, at most ``Limits.event_streams`` event streams); only ``/files/`` (read) and
``/uploads/`` (written) are public, since a station downloads and uploads with neither the token nor, perhaps, this
host's own name. ``/files/`` serves the plain files of ``--files DIR`` (not its ``uploads/``); what stations upload
(csms/uploads.py) is read back with the token, as the API is: a diagnostics archive holds the station's log.

The action and payload are those of the OCPP version the station speaks (1.6, or 2.0.1: ``GetVariables``,
``SetNetworkProfile``, ...), validated with that version's Struct; each version has its templates
(``GET /api/templates?ocpp=2.0.1``), and the page offers those of the version the station picked speaks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Final

import msgspec
from aiohttp import BodyPartReader, web

from chargebox.csms.metrics import csms_metrics
from chargebox.csms.server import CentralSystem
from chargebox.csms.stations import Station, StationDetail, StationList, Stations, Subscriber
from chargebox.csms.templates import templates, templates201
from chargebox.csms.uploads import UPLOAD_NAME, Upload, Uploads, UploadTooLarge
from chargebox.errors import RemoteProtocolError
from chargebox.metrics import add_metrics
from chargebox.openapi import JSON, Media, Parameter, add_openapi, operation
from chargebox.protocol.base import Message
from chargebox.protocol.codec import decode_payload
from chargebox.protocol.dialect import OCPP16, SUBPROTOCOLS, Dialect
from chargebox.rpc import SendOutcome
from chargebox.web import EventStream, control_app, event_stream, json_body, json_error

log = logging.getLogger("chargebox.csms")

DEFAULT_CALL_TIMEOUT: Final = 30.0
MAX_FILES_LISTED: Final = 100
MAX_QUERY: Final = 64
CHUNK: Final = 64 * 1024
UPLOADS_DIRECTORY: Final = "uploads"  # under --files DIR
VERSIONS: Final = tuple(name.removeprefix("ocpp") for name in SUBPROTOCOLS)  # 1.6, 2.0.1: GET /api/templates
_STATION: Final = {"id": Parameter("the charge point id")}
_FILE: Final = Media("application/octet-stream", "the file")
_EVENTS: Final = """Server-sent events, each one line of JSON: `stations` (a StationList: at the start, and again
when a station was forgotten), `station` (a Station, each time one changes), `uploads` (an UploadList, at the start
and after each upload), and with `?station=ID`: `frames` ({id, frames}: that station's last frames, at the start)
and `frame` ({id, time, dir, frame}: each frame of it as it goes). A comment every second while nothing happens."""


class CallRequest(msgspec.Struct):
    """A CALL to send to a station."""

    action: str  # a central-system action of the station's OCPP version (1.6's: the security whitepaper's too)
    payload: dict[str, Any] | None = None  # its request; absent: the action's template (GET /api/templates?ocpp=)


class CallAnswer(msgspec.Struct, rename="camel", omit_defaults=True):
    """What the station answered: a CALLRESULT with its payload, or a CALLERROR."""

    result: str  # "CALLRESULT" or "CALLERROR"
    payload: dict[str, Any] | None = None
    error_code: str | None = None
    error_description: str | None = None


class UploadInfo(msgspec.Struct):
    """An upload: its name, size in bytes and when it came (seconds since the epoch)."""

    name: str
    bytes: int
    time: float


class UploadList(msgspec.Struct):
    """What stations uploaded (GetDiagnostics, GetLog), newest first."""

    uploads: list[UploadInfo]


class Uploaded(msgspec.Struct):
    """The upload is kept, under this name."""

    name: str


class FileList(msgspec.Struct):
    """The files of ``--files DIR``, served at ``/files/{name}`` (a firmware image for UpdateFirmware)."""

    files: list[str]


class SignedCertificate(msgspec.Struct, rename="camel"):
    """The last certificate the central system's CA signed for a station (SignCertificate), and the station's
    answer to the CertificateSigned that carried it (Accepted, Rejected, or NoAnswer)."""

    charge_point_id: str
    serial_number: str
    not_after: str
    status: str
    certificate: str  # PEM


def make_app(
    system: CentralSystem, *, files: Path | None = None, call_timeout: float = DEFAULT_CALL_TIMEOUT
) -> web.Application:
    # a station downloads from /files/ and uploads to /uploads/ with no token, by any name of this host
    app = control_app(public=("/files/",), uploads=("/uploads/",))
    book = Stations(system)
    uploads = Uploads(files / UPLOADS_DIRECTORY if files is not None else None)
    uploads.listeners.append(book.uploads_changed)
    page = resources.files(__package__).joinpath("page/index.html").read_text(encoding="utf-8")

    def payload_templates(request: web.Request, version: str) -> dict[str, dict[str, Any]]:
        authority = system.certificates.authority
        origin = f"{request.scheme}://{request.host}"
        root = authority.pem if authority is not None else None
        now, names = datetime.now(UTC), _file_names(files)
        if version == OCPP16.version:
            return templates(origin, files=names, now=now, root=root)
        port, tls = system.listening or (0, False)
        listening = request.url.origin().with_scheme("wss" if tls else "ws").with_port(port)  # the host reached
        csms_url = f"{listening}/"
        return templates201(origin, files=names, now=now, csms_url=csms_url, root=root)

    @operation("the page: stations, their frames, a form to send a CALL", answers={200: Media("text/html", "the page")})
    async def index(_request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-cache"})

    @operation(
        "the stations",
        answers={200: StationList},
        errors=(400,),
        query={"q": Parameter("only those whose id, vendor or model holds this text (any case)")},
    )
    async def stations(request: web.Request) -> web.Response:
        query = request.query.get("q", "")
        if len(query) > MAX_QUERY:
            raise json_error(web.HTTPBadRequest, f"q must be at most {MAX_QUERY} characters")
        return _json(book.find(query))

    @operation("one station, with its last frames", answers={200: StationDetail}, errors=(404,), path=_STATION)
    async def station(request: web.Request) -> web.Response:
        return _json(_known(book.station(request.match_info["id"]), request))

    @operation(
        "the last certificate the central system's CA signed for a station",
        description="404 until the station has answered the CertificateSigned that carried one.",
        answers={200: SignedCertificate},
        errors=(404,),
        path=_STATION,
    )
    async def certificate(request: web.Request) -> web.Response:
        charge_point_id = request.match_info["id"]
        signed = system.certificates.signed.get(charge_point_id)
        if signed is None:
            raise json_error(web.HTTPNotFound, f"no certificate signed for {charge_point_id[:64]!r} yet")
        return _json(SignedCertificate(signed.charge_point_id, signed.serial_number, signed.not_after,
                                       signed.status, signed.certificate))  # fmt: skip

    @operation(
        "send a CALL to a station and answer what it answered",
        body=CallRequest,
        answers={200: CallAnswer},
        errors=(400, 404, 502, 504),
        path=_STATION,
    )
    async def call(request: web.Request) -> web.Response:
        charge_point_id = request.match_info["id"]
        body = await json_body(request)
        session = system.sessions.get(charge_point_id)
        if session is None:
            raise json_error(web.HTTPNotFound, f"no station {charge_point_id!r} is connected")
        request_message = _request_message(
            body, session.dialect, lambda: payload_templates(request, session.dialect.version)
        )
        result = await system.call(charge_point_id, request_message, timeout=call_timeout)
        if result.outcome is SendOutcome.RESPONSE_SUCCESS:
            return _json(CallAnswer("CALLRESULT", payload=msgspec.to_builtins(result.response)))
        if result.outcome is SendOutcome.RESPONSE_ACCEPT_FAILED:
            return _json(CallAnswer("CALLERROR", error_code=result.error_code,
                                    error_description=result.error_description))  # fmt: skip
        if result.error_description == "timed out":
            raise json_error(web.HTTPGatewayTimeout, f"{charge_point_id} did not answer within {call_timeout:g} s")
        raise json_error(web.HTTPBadGateway, f"{charge_point_id}: not sent or no answer ({result.error_description})")

    @operation(
        "the stations as they change, by server-sent events",
        description=_EVENTS,
        answers={200: Media("text/event-stream", "the events")},
        errors=(503,),
        query={"station": Parameter("also that station's frames")},
    )
    async def events(request: web.Request) -> web.StreamResponse:
        shown = request.query.get("station")
        async with event_stream(request) as stream:
            subscriber = book.subscribe(shown, stream.wake)
            try:
                await _follow(stream, subscriber, book, uploads, shown)
            finally:
                book.unsubscribe(subscriber)
        return stream.response

    @operation(
        "a payload for every CALL a central system sends in an OCPP version, valid as it is",
        description="`{action: payload}`, in the order the page lists them; 400 for a version not served.",
        answers={200: dict[str, dict[str, Any]]},
        errors=(400,),
        query={"ocpp": Parameter("the OCPP version (1.6 when absent)", {"enum": list(VERSIONS)})},
    )
    async def get_templates(request: web.Request) -> web.Response:
        version = request.query.get("ocpp", OCPP16.version)
        if version not in VERSIONS:
            raise json_error(web.HTTPBadRequest, f"ocpp must be {' or '.join(VERSIONS)}")
        return web.json_response(payload_templates(request, version))

    @operation("the files of --files DIR", answers={200: FileList})
    async def file_list(_request: web.Request) -> web.Response:
        return _json(FileList(_file_names(files)))

    @operation(
        "a file of --files DIR (public: a station downloads it)",
        answers={200: _FILE},
        errors=(404,),
        path={"name": Parameter("the file's name")},
    )
    async def file(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = files / name if files is not None and UPLOAD_NAME.fullmatch(name) else None
        if path is None or not path.is_file():
            raise json_error(web.HTTPNotFound, "no such file")
        return web.FileResponse(path)

    @operation("what stations uploaded", answers={200: UploadList})
    async def upload_list(_request: web.Request) -> web.Response:
        return _json(_upload_list(uploads))

    @operation(
        "an uploaded file",
        answers={200: _FILE},
        errors=(404,),
        path={"name": Parameter("the upload's name")},
    )
    async def get_upload(request: web.Request) -> web.StreamResponse:
        upload = uploads.files.get(request.match_info["name"])
        if upload is None:
            raise json_error(web.HTTPNotFound, "no such upload")
        disposition = {"Content-Disposition": f'attachment; filename="{upload.name}"'}
        if upload.data is None:
            return web.FileResponse(uploads.path_of(upload), headers=disposition)
        return web.Response(body=upload.data, content_type="application/octet-stream", headers=disposition)

    @operation(
        "a station's upload (GetDiagnostics, GetLog): the body is the file (public)",
        body=_FILE,
        answers={201: Uploaded},
        errors=(400, 413),
        path={"name": Parameter("a plain file name: 1 to 200 of A-Z a-z 0-9 . _ -")},
    )
    async def put_upload(request: web.Request) -> web.Response:
        name = _upload_name(request.match_info["name"])
        return await _keep(uploads, name, _chunks(request.content.read))

    @operation(
        "a station's upload as a form (public)",
        body=Media("multipart/form-data", "the file in the field named file", {"type": "object"}),
        answers={201: Uploaded},
        errors=(400, 413),
    )
    async def post_upload(request: web.Request) -> web.Response:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name == "file":
                return await _keep(uploads, _upload_name(part.filename or ""), _chunks(part.read_chunk))
        raise json_error(web.HTTPBadRequest, 'no "file" field in the form')

    app.router.add_get("/", index)
    app.router.add_get("/api/stations", stations)
    app.router.add_get("/api/stations/{id}", station)
    app.router.add_get("/api/stations/{id}/certificate", certificate)
    app.router.add_post("/api/stations/{id}/call", call)
    app.router.add_get("/api/events", events)
    app.router.add_get("/api/templates", get_templates)
    app.router.add_get("/api/files", file_list)
    app.router.add_get("/files/{name}", file)
    app.router.add_get("/api/uploads", upload_list)
    app.router.add_get("/api/uploads/{name}", get_upload)
    app.router.add_put("/uploads/{name}", put_upload)
    app.router.add_post("/uploads/", post_upload)
    add_metrics(app, csms_metrics(system))
    add_openapi(app, title="chargebox csms control API", description=__doc__ or "")
    return app


async def _follow(
    stream: EventStream, subscriber: Subscriber, book: Stations, uploads: Uploads, shown: str | None
) -> None:
    """Send the page what it shows, then what changes, until the server stops or the page is gone."""
    first: list[tuple[str, object]] = [("stations", _plain(book.find())), ("uploads", _plain(_upload_list(uploads)))]
    detail = book.station(shown) if shown is not None else None
    if detail is not None:
        first.append(("frames", {"id": shown, "frames": _plain(detail.frames)}))
    await stream.send(*first)
    while await stream.wait():
        changed, frames, everything, uploads_changed = subscriber.take()
        events: list[tuple[str, object]] = []
        if everything:
            events.append(("stations", _plain(book.find())))
        else:
            for charge_point_id in sorted(changed):
                view: Station | None = book.station(charge_point_id)
                if view is not None:
                    events.append(("station", _plain(_summary(view))))
        events += [("frame", {"id": shown, **_plain(frame)}) for frame in frames]
        if uploads_changed:
            events.append(("uploads", _plain(_upload_list(uploads))))
        if events:
            await stream.send(*events)


def _summary(detail: Station) -> Station:
    """A station without its frames (a page is sent the frames of the one it shows)."""
    return Station(**{name: getattr(detail, name) for name in Station.__struct_fields__})


def _request_message(
    body: dict[str, Any], dialect: Dialect[Any], proposed: Callable[[], dict[str, dict[str, Any]]]
) -> Message:
    """The CALL to send, in the station's version, validated by its Struct as an incoming frame would be
    (400 else). Without a payload, the action's template in that version."""
    action_name = body.get("action")
    action = dialect.actions_by_name.get(str(action_name))
    if action is None:
        raise json_error(web.HTTPBadRequest, f"unknown action {action_name!r} in OCPP {dialect.version}")
    if action not in dialect.csms_initiated:
        raise json_error(web.HTTPBadRequest, f"{action} is sent by a charge point, not to one")
    payload = body["payload"] if "payload" in body else proposed()[action.value]
    if not isinstance(payload, dict):
        raise json_error(web.HTTPBadRequest, "payload must be a JSON object")
    try:
        return decode_payload(msgspec.Raw(json.dumps(payload).encode()), dialect.requests[action], dialect.errors)
    except RemoteProtocolError as exc:
        raise json_error(web.HTTPBadRequest, f"invalid {action} payload: {exc.description}") from None


def _upload_name(name: str) -> str:
    """A station names its file (D-2); only a plain file name is kept (csms/uploads.py)."""
    if not UPLOAD_NAME.fullmatch(name):
        raise json_error(web.HTTPBadRequest, "an upload's name is 1 to 200 of A-Z a-z 0-9 . _ - (no path)")
    return name


async def _keep(uploads: Uploads, name: str, chunks: AsyncIterator[bytes]) -> web.Response:
    try:
        upload: Upload = await uploads.receive(name, chunks)
    except UploadTooLarge as exc:
        raise web.HTTPRequestEntityTooLarge(
            max_size=exc.limit,
            actual_size=exc.limit + 1,
            text=json.dumps({"error": f"an upload is at most {exc.limit} bytes"}),
            content_type=JSON,
        ) from None
    log.info("= upload %s: %d bytes", upload.name, upload.size)
    return web.json_response(_plain(Uploaded(upload.name)), status=201)


async def _chunks(read: Callable[[int], Awaitable[bytes]]) -> AsyncIterator[bytes]:
    while chunk := await read(CHUNK):
        yield chunk


def _upload_list(uploads: Uploads) -> UploadList:
    return UploadList([UploadInfo(u.name, u.size, u.time) for u in reversed(uploads.files.values())])


def _known(found: StationDetail | None, request: web.Request) -> StationDetail:
    if found is None:
        raise json_error(web.HTTPNotFound, f"no station {request.match_info['id'][:64]!r} was seen")
    return found


def _json(value: msgspec.Struct) -> web.Response:
    return web.json_response(_plain(value))


def _plain(value: object) -> Any:
    return msgspec.to_builtins(value)


def _file_names(files: Path | None) -> list[str]:
    if files is None:
        return []
    try:
        return sorted(p.name for p in files.iterdir() if p.is_file() and UPLOAD_NAME.fullmatch(p.name))[
            :MAX_FILES_LISTED
        ]
    except OSError:
        return []
