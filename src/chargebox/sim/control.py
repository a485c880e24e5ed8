"""The JSON control API of a simulated station (``simulate --control HOST:PORT``), of either OCPP version.

    GET  /api/state                                   the station, its connection and connectors
    GET  /api/events                                  the same, pushed as server-sent events, and
                                                      the frames in and out (the dashboard at ``/``)
    POST /api/connectors/{id}/plug | unplug           the cable; 2.0.1: {"connector": 2} plugs at that connector
                                                      of EVSE {id} (none: connector 1)
    POST /api/connectors/{id}/fault {"errorCode": …}  a fault; clear-fault ends it
    POST /api/connectors/{id}/swipe {"idTag": …}      a card at that connector's reader
    POST /api/connectors/{id}/hardware-fault          a part breaks ("on": true) or is mended:
         {"part": "contactor" | "lock" | "meter", "on": true | false}
    POST /api/swipe {"idTag": …}                      a card at the station's one reader
    POST /api/emergency-stop                          every transaction ends (EmergencyStop)
    POST /api/reboot                                  a local reboot (transactions end with Reboot)
    POST /api/connection/disconnect | connect         a network outage, no reboot
    GET  /metrics                                     the figures, in Prometheus' text format (sim/metrics.py)

A connector of a 2.0.1 station is an EVSE (``Station.snapshot`` counts them alike; the state's ``ocpp`` says which
version the station speaks). A fault's errorCode is 1.6's ChargePointErrorCode in both: a 2.0.1 station reports it as
its NotifyEvent's techCode. A broken part is noticed when the station next uses it: 1.6 says so in a
StatusNotification's errorCode, 2.0.1 in a NotifyEvent of the part's Problem (PowerContactor,
ConnectorPlugRetentionLock, FiscalMetering).

Every action answers the state it left; plug and the swipes also the ``outcome`` (``result``:
started, stopped, released, resumed, waiting or refused, and the ``reason``). Every route can be
mounted under a prefix (``add_station_routes``): a fleet serves each station's under
``/api/stations/{station}/...`` (see fleet_control.py).

Every answer is JSON; a bad request gets 400 (or 404 for an unknown connector) with
``{"error": "..."}`` and changes nothing. Every POST says ``Content-Type: application/json``, even without a
body: the app is guarded as every control API is (web.py: no cross-site request, no foreign ``Host``, a token
off loopback, bounded connections and at most ``Limits.event_streams`` event streams, 503 beyond).
The API drives a simulator on a developer's machine, but its requests come from scripts and browsers, so what
reaches the station is held to what OCPP would let through: a body as ``web.json_body`` reads it (UTF-8 JSON,
bounded in size and depth), connector ids are ASCII digits (``int()`` would also read an Arabic-Indic one as 1),
and an idTag is printable ASCII of at most 20 characters for a 1.6 station (G-1, G-2: CiString20) and 36 for a
2.0.1 one (IdTokenType.idToken, whose ``type`` a swipe may name: ISO14443 by default), so none can forge a log
line or reach the CSMS malformed. The state shows each connector's ``hardwareFaults``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from chargebox.metrics import Traffic, add_metrics
from chargebox.openapi import Media, Parameter, add_openapi, operation
from chargebox.protocol.messages import ChargePointErrorCode
from chargebox.sim.feed import STATE_EVERY, feed_of, state_json
from chargebox.sim.hardware import HardwarePart
from chargebox.sim.metrics import station_metrics
from chargebox.station.v16.authorization import is_ci_string
from chargebox.station.v16.transactions import Outcome
from chargebox.web import control_app, json_body, json_error, limits_of, serve, sse

if TYPE_CHECKING:
    from chargebox.sim.simulator import Simulator


_CONNECTOR_ID_RE: Final = re.compile(r"[0-9]{1,9}")
_INFO_LENGTH: Final = 50  # StatusNotification info is CiString50
SETTLE_SECONDS: Final = 2.0  # a connect or disconnect answers once done, or after this
# what the routes are described with (openapi.py)
_STATE: Final = dict[str, Any]  # GET /api/state's answer, and every action's (with "outcome" for a plug or a card)
_PATH: Final = {"station": Parameter("the station's id (a fleet's)")}
_CONNECTOR_ACTIONS: Final = Parameter(
    "what happens", {"enum": ["plug", "unplug", "fault", "clear-fault", "swipe", "hardware-fault"]}
)


@dataclass(slots=True)
class _Streams:
    """The event streams open on an app. Each is endless by design, so the app's shutdown ends them, cleanly
    (a server that stops would otherwise wait for every open dashboard until its shutdown timeout)."""

    closing: bool = False
    queues: set[asyncio.Queue[dict[str, Any] | None]] = field(default_factory=set)

    def close(self) -> None:
        self.closing = True
        for queue in self.queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)  # wakes the stream, which sees ``closing``


_STREAMS: Final = web.AppKey("chargebox.event_streams", _Streams)


async def start_control(sim: Simulator, host: str, port: int, *, token: str | None = None) -> tuple[web.AppRunner, int]:
    """Serve the control API and the dashboard of ``sim`` (guarded, web.py: ``token`` required off loopback); the
    runner (to clean up) and the port (0: any free one)."""
    return await serve(make_app(sim), host, port, "--control", token=token)


def make_app(sim: Simulator) -> web.Application:
    """The control API of one station at the root, its dashboard at ``/`` and its figures at ``/metrics``."""
    from chargebox.sim.dashboard import add_station_dashboard

    app = control_app()
    feed_of(sim)  # the frame ring fills from the start, before any page is opened
    traffic = Traffic()
    sim.station.rpc.on_message = traffic.message  # counted from the start too
    add_station_routes(app, "", lambda _request: sim)
    add_metrics(app, station_metrics(lambda: (sim,), traffic))
    add_station_dashboard(app)
    add_openapi(app, title="chargebox simulate control API", description=__doc__ or "")
    return app


def add_station_routes(app: web.Application, prefix: str, lookup: Callable[[web.Request], Simulator]) -> None:
    """Every per-station route under ``/api<prefix>`` (``""`` for ``simulate``; a fleet mounts it once as
    ``/stations/{station}``, so ``/api/stations/{station}/state``, with a ``lookup`` that finds the
    station or raises HTTPNotFound). The connector's path parameter is ``{connector}``."""
    if _STREAMS not in app:
        app[_STREAMS] = _Streams()
        app.on_shutdown.append(_end_streams)
    routes = web.RouteTableDef()

    @routes.get(f"/api{prefix}/state")
    @operation("the station, its connection and connectors", answers={200: _STATE}, errors=(404,), path=_PATH)
    async def state(request: web.Request) -> web.Response:
        return web.json_response(state_json(lookup(request)))

    @routes.get(f"/api{prefix}/events")
    @operation(
        "the state and the frames in and out, by server-sent events (state, frames, frame)",
        answers={200: Media("text/event-stream", "the events")},
        errors=(404, 503),
        path=_PATH,
    )
    async def events(request: web.Request) -> web.StreamResponse:
        return await _event_stream(request, lookup(request))

    @routes.post(f"/api{prefix}/connectors/{{connector}}/{{action}}")
    @operation(
        "the cable, a fault, a card or a broken part at one connector",
        description=(
            "plug: {connector}, optional (2.0.1: which connector of the EVSE, default 1); fault: {errorCode, info}; "
            "swipe: {idTag, type} (type: 2.0.1's IdTokenEnumType, default ISO14443); hardware-fault: {part, on}; "
            "the others no body."
        ),
        body=dict[str, Any],
        body_required=False,
        answers={200: _STATE},
        errors=(400, 404),
        path={**_PATH, "connector": Parameter("the connector id (2.0.1: the EVSE id)"), "action": _CONNECTOR_ACTIONS},
    )
    async def connector(request: web.Request) -> web.Response:
        sim = lookup(request)
        connector_id = _connector_id(request, sim)
        action = request.match_info["action"]
        outcome: Outcome | None = None
        if action == "plug":
            outcome = await sim.plug(connector_id, connector=_connector_of(sim, connector_id, await json_body(request)))
        elif action == "unplug":
            await sim.unplug(connector_id)
        elif action == "fault":
            body = await json_body(request)
            try:
                code = ChargePointErrorCode(body.get("errorCode", "OtherError"))
            except ValueError:
                raise json_error(web.HTTPBadRequest, f"unknown errorCode {body.get('errorCode')!r}") from None
            if code is ChargePointErrorCode.NO_ERROR:
                raise json_error(web.HTTPBadRequest, "a fault needs an errorCode other than NoError")
            sim.fault(connector_id, code, _optional_str(body, "info"))
        elif action == "clear-fault":
            sim.clear_fault(connector_id)
        elif action == "swipe":
            id_tag, token_type = _card(sim, await json_body(request))
            outcome = await sim.swipe(id_tag, connector_id, token_type)
        elif action == "hardware-fault":
            part, on = _hardware_fault(await json_body(request))
            sim.hardware_fault(connector_id, part, on)
        else:
            raise json_error(web.HTTPNotFound, f"no action {action!r}")
        return _answer(sim, outcome)

    @routes.post(f"/api{prefix}/swipe")
    @operation("a card at the station's one reader: {idTag, type} (type: 2.0.1 only, default ISO14443)",
               body=dict[str, Any], answers={200: _STATE},
               errors=(400, 404), path=_PATH)  # fmt: skip
    async def swipe(request: web.Request) -> web.Response:
        sim = lookup(request)
        id_tag, token_type = _card(sim, await json_body(request))
        return _answer(sim, await sim.swipe(id_tag, None, token_type))

    @routes.post(f"/api{prefix}/emergency-stop")
    @operation("every transaction ends (EmergencyStop)", answers={200: _STATE}, errors=(404,), path=_PATH)
    async def emergency_stop(request: web.Request) -> web.Response:
        sim = lookup(request)
        await sim.station.emergency_stop()
        return _answer(sim, None)

    @routes.post(f"/api{prefix}/reboot")
    @operation("a local reboot (transactions end with Reboot)", answers={200: _STATE}, errors=(404,), path=_PATH)
    async def reboot(request: web.Request) -> web.Response:
        sim = lookup(request)
        await sim.station.local_reboot()
        await _settled(lambda: not sim.station.transport.connected)
        return _answer(sim, None)

    @routes.post(f"/api{prefix}/connection/{{action}}")
    @operation(
        "a network outage, no reboot, or its end",
        answers={200: _STATE},
        errors=(404,),
        path={**_PATH, "action": Parameter("disconnect or connect", {"enum": ["disconnect", "connect"]})},
    )
    async def connection(request: web.Request) -> web.Response:
        sim = lookup(request)
        action = request.match_info["action"]
        if action == "disconnect":
            sim.station.transport.disconnect()
            await _settled(lambda: not sim.station.transport.connected)
        elif action == "connect":
            sim.station.transport.connect()
            await _settled(lambda: sim.station.transport.connected)
        else:
            raise json_error(web.HTTPNotFound, f"no action {action!r}")
        return _answer(sim, None)

    app.add_routes(routes)


def _answer(sim: Simulator, outcome: Outcome | None) -> web.Response:
    """Every action answers the state it left (a reboot: the link already down, the connectors
    reset), and a cable or a card also what it did: started, stopped, waiting or refused and why."""
    feed_of(sim).changed()
    body = state_json(sim)
    if outcome is not None:
        body["outcome"] = {"result": outcome.result, "connectorId": outcome.connector_id, "reason": outcome.reason}
    return web.json_response(body)


async def _settled(condition: Callable[[], bool]) -> None:
    """Wait (at most ``SETTLE_SECONDS``) for the link to be as asked, so the answer shows the new
    state; a central system that does not answer leaves it as it is, said in the answer."""
    deadline = asyncio.get_running_loop().time() + SETTLE_SECONDS
    while not condition() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)


async def _event_stream(request: web.Request, sim: Simulator) -> web.StreamResponse:
    """Server-sent events: ``state`` (the whole state, when it changed), ``frames`` (the ring, once
    at the start) and ``frame`` (each frame in or out as it goes)."""
    streams = request.app[_STREAMS]
    if len(streams.queues) >= limits_of(request).event_streams:  # each costs a connection and a state per change
        raise json_error(web.HTTPServiceUnavailable, f"{len(streams.queues)} event streams open: no more")
    feed = feed_of(sim)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    queue = feed.subscribe()
    streams.queues.add(queue)
    try:
        last = state_json(sim)
        await response.write(sse("state", last) + sse("frames", list(feed.frames)))
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), STATE_EVERY)
            except TimeoutError:
                item = None
            if streams.closing:
                break  # the server stops: the response ends here, complete
            if item is not None:
                await response.write(sse("frame", item))
            current = state_json(sim)
            if current != last:
                last = current
                await response.write(sse("state", current))
            elif item is None:
                await response.write(b": idle\n\n")  # a comment: a page gone is noticed within a second
    except ConnectionResetError:
        pass  # the page was closed
    finally:
        feed.unsubscribe(queue)
        streams.queues.discard(queue)
    return response


async def _end_streams(app: web.Application) -> None:
    app[_STREAMS].close()


def _connector_id(request: web.Request, sim: Simulator) -> int:
    raw = request.match_info["connector"]
    if not _CONNECTOR_ID_RE.fullmatch(raw) or not 1 <= int(raw) <= sim.station.kernel.connector_count:
        raise json_error(web.HTTPNotFound, f"no {'connector' if sim.station.settings.ocpp == '1.6' else 'EVSE'} {raw}")
    return int(raw)


def _connector_of(sim: Simulator, evse: int, body: dict[str, Any]) -> int:
    """The connector a plug names: 1 when the body names none (a 1.6 connector, an EVSE of one)."""
    connector = body.get("connector", 1)
    layout = sim.station.settings.evses
    count = 1 if layout is None else layout[evse - 1]
    if isinstance(connector, bool) or not isinstance(connector, int) or not 1 <= connector <= count:
        raise json_error(web.HTTPBadRequest, f"connector: {connector!r} is not 1 to {count} (EVSE {evse})")
    return connector


def _card(sim: Simulator, body: dict[str, Any]) -> tuple[str, str | None]:
    """The idTag of a swipe and, on a 2.0.1 station, its type (None: ISO14443), refused as the station would."""
    id_tag, token_type = body.get("idTag"), body.get("type")
    id_tag = id_tag if isinstance(id_tag, str) else ""
    if token_type is not None and not isinstance(token_type, str):
        raise json_error(web.HTTPBadRequest, "type: must be a string")
    if (problem := sim.station.id_token_problem(id_tag)) is not None:
        raise json_error(web.HTTPBadRequest, f"idTag: {problem}")
    if (problem := sim.station.id_token_problem(id_tag, token_type)) is not None:  # the idTag is good: its type
        raise json_error(web.HTTPBadRequest, f"type: {problem}")
    return id_tag, token_type


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not is_ci_string(value, _INFO_LENGTH):
        raise json_error(web.HTTPBadRequest, f"{name} must be at most {_INFO_LENGTH} printable ASCII characters")
    return value


def _hardware_fault(body: dict[str, Any]) -> tuple[HardwarePart, bool]:
    part, on = body.get("part"), body.get("on")
    if not isinstance(part, str) or part not in tuple(HardwarePart):
        raise json_error(web.HTTPBadRequest, f"part must be one of {', '.join(HardwarePart)}")
    if not isinstance(on, bool):
        raise json_error(web.HTTPBadRequest, "on must be true or false")
    return HardwarePart(part), on
