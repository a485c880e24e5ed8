"""The tools of ``chargebox mcp``: each one request (or two) to a control API, named and described for an agent.

A tool's input schema is written out here, bounded as the control API bounds what it takes (an idTag is OCPP's
CiString20, a connector 1 to 128), and arguments are checked against it before any request: an agent that sends
something else reads which argument and why. The routes the tools request are those the control APIs describe in
their OpenAPI documents (``GET /api/openapi.json``); tests/agent/test_mcp.py calls each against the real APIs.

The targets: ``--station`` (a ``simulate --control``), ``--fleet`` (a ``fleet --control``: its stations are
reached with the ``station`` argument, at ``/api/stations/{id}/...``, the same routes as a lone station's), and
``--csms`` (a ``csms --control``). ``start_fleet`` makes a fleet of the server's own the ``--fleet`` target.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote

from jsonschema import Draft202012Validator

from chargebox.agent.control import ControlClient, ToolFailure
from chargebox.agent.fleet_child import FleetChild, FleetOrder, start_fleet
from chargebox.protocol.messages import ChargePointErrorCode

MAX_AGENT_FLEET: Final = 1000  # stations a start_fleet may ask for: a demonstration, not a load test
MAX_QUERY: Final = 64  # as the control APIs bound q


@dataclass(slots=True)
class Targets:
    """The control APIs the tools drive (base URLs without a trailing slash), and the HTTP client to them."""

    client: ControlClient
    token: str | None
    station: str | None = None
    fleet: str | None = None
    csms: str | None = None
    child: FleetChild | None = field(default=None, repr=False)

    def base(self, which: str) -> str:
        url: str | None = getattr(self, which)
        if url is None:
            hint = " (or start one: start_fleet)" if which == "fleet" else ""
            raise ToolFailure(f"no {which} to drive: chargebox mcp was started without --{which} URL{hint}")
        return url

    def station_api(self, arguments: Mapping[str, Any]) -> str:
        """The station routes' base: the fleet's station named by ``station``, else the ``--station`` simulator."""
        station = arguments.get("station")
        if station is None:
            if self.station is None:
                raise ToolFailure(
                    "no station to drive: name a station of the fleet (the station argument), or start chargebox mcp "
                    "with --station URL"
                )
            return f"{self.station}/api"
        return f"{self.base('fleet')}/api/stations/{quote(station, safe='')}"

    async def close(self) -> None:
        """Stop a fleet ``start_fleet`` started, and the HTTP session."""
        if self.child is not None:
            await self.child.stop()
            self.child = None
        await self.client.close()


Run = Callable[[Targets, Mapping[str, Any]], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    schema: Mapping[str, Any]
    run: Run
    read_only: bool = False


# -- the arguments ---------------------------------------------------------------------------------------------

_STATION: Final = {
    "type": "string",
    "minLength": 1,
    "maxLength": 48,
    "description": "a station of the fleet, by its id (e.g. CP7); omit it to drive the --station simulator",
}
_CONNECTOR: Final = {"type": "integer", "minimum": 1, "maximum": 128, "description": "the connector id, from 1"}
_ID_TAG: Final = {
    "type": "string",
    "minLength": 1,
    "maxLength": 20,
    "pattern": "^[ -~]+$",
    "description": "the card's idTag: 1 to 20 printable ASCII characters (OCPP CiString20)",
}
_FAULTS: Final = [code.value for code in ChargePointErrorCode if code is not ChargePointErrorCode.NO_ERROR]
_PAYLOAD: Final = 'the request, e.g. {"idTag": "A1", "connectorId": 1} for RemoteStartTransaction'
_QUERY: Final = {"type": "string", "maxLength": MAX_QUERY, "description": "only those whose id holds this text"}


def _schema(properties: Mapping[str, Any], *required: str) -> dict[str, Any]:
    return {"type": "object", "properties": dict(properties), "required": list(required), "additionalProperties": False}


# -- what the tools do -----------------------------------------------------------------------------------------


async def _station_state(targets: Targets, arguments: Mapping[str, Any]) -> object:
    return (await targets.client.get(f"{targets.station_api(arguments)}/state")).body


def _connector_action(action: str, *fields: str) -> Run:
    async def run(targets: Targets, arguments: Mapping[str, Any]) -> object:
        url = f"{targets.station_api(arguments)}/connectors/{arguments['connector']}/{action}"
        return (await targets.client.post(url, {name: arguments[name] for name in fields if name in arguments})).body

    return run


async def _swipe(targets: Targets, arguments: Mapping[str, Any]) -> object:
    base = targets.station_api(arguments)
    connector = arguments.get("connector")
    url = f"{base}/connectors/{connector}/swipe" if connector is not None else f"{base}/swipe"
    return (await targets.client.post(url, {"idTag": arguments["idTag"]})).body


async def _csms_stations(targets: Targets, arguments: Mapping[str, Any]) -> object:
    query = {"q": arguments["q"]} if "q" in arguments else None
    return (await targets.client.get(f"{targets.base('csms')}/api/stations", query=query)).body


async def _csms_station(targets: Targets, arguments: Mapping[str, Any]) -> object:
    charge_point = quote(arguments["chargePointId"], safe="")
    return (await targets.client.get(f"{targets.base('csms')}/api/stations/{charge_point}")).body


async def _send_call(targets: Targets, arguments: Mapping[str, Any]) -> object:
    charge_point = quote(arguments["chargePointId"], safe="")
    body = {"action": arguments["action"], **({"payload": arguments["payload"]} if "payload" in arguments else {})}
    return (await targets.client.post(f"{targets.base('csms')}/api/stations/{charge_point}/call", body)).body


async def _fleet_figures(targets: Targets, _arguments: Mapping[str, Any]) -> object:
    return (await targets.client.get(f"{targets.base('fleet')}/api/fleet")).body


async def _fleet_stations(targets: Targets, arguments: Mapping[str, Any]) -> object:
    query = {name: str(arguments[name]) for name in ("q", "limit") if name in arguments}
    return (await targets.client.get(f"{targets.base('fleet')}/api/stations", query=query or None)).body


async def _metrics(targets: Targets, arguments: Mapping[str, Any]) -> object:
    url = f"{targets.base(arguments['of'])}/metrics"
    answer = await targets.client.get(url, ok=(404,))
    if answer.status == 404:
        return f"not served: {url} answers 404 (this {arguments['of']} has no /metrics)"
    return answer.body


async def _start_fleet(targets: Targets, arguments: Mapping[str, Any]) -> object:
    if targets.fleet is not None:
        raise ToolFailure(f"already driving the fleet at {targets.fleet}: stop_fleet first (a started one only)")
    order = FleetOrder(
        csms_url=arguments["csmsUrl"],
        count=arguments["count"],
        auto=arguments.get("auto", False),
        id_prefix=arguments.get("idPrefix", "CP"),
        connectors=arguments.get("connectors"),
    )
    child = await start_fleet(order, targets.token)
    targets.child, targets.fleet = child, child.url.rstrip("/")
    return {"fleet": targets.fleet, "pid": child.process.pid, "stations": f"{order.id_prefix}1..{order.id_prefix}"
            f"{order.count}"}  # fmt: skip


async def _stop_fleet(targets: Targets, _arguments: Mapping[str, Any]) -> object:
    child = targets.child
    if child is None:
        raise ToolFailure("no fleet was started here (start_fleet); a --fleet given at start is not stopped")
    targets.child, targets.fleet = None, None
    return {"stopped": child.url, "exitStatus": await child.stop()}


TOOLS: Final = (
    Tool(
        "get_station_state",
        "Read a simulated station: connected to its central system or not, registration, firmware and diagnostics "
        "status, and each connector's status, error code, cable, transaction id, meter (Wh), power (W) and faults.",
        _schema({"station": _STATION}),
        _station_state,
        read_only=True,
    ),
    Tool(
        "plug_in",
        "Plug an EV's cable into a connector. With a card swiped (before, or within ConnectionTimeOut after) a "
        "transaction starts. Answers the station's state and the outcome (started, waiting and for what, refused).",
        _schema({"connector": _CONNECTOR, "station": _STATION}, "connector"),
        _connector_action("plug"),
    ),
    Tool(
        "unplug",
        "Pull the cable out of a connector: a transaction running there ends (StopTransactionOnEVSideDisconnect).",
        _schema({"connector": _CONNECTOR, "station": _STATION}, "connector"),
        _connector_action("unplug"),
    ),
    Tool(
        "swipe_card",
        "Present an RFID card (idTag) at a connector's reader, or at the station's one reader without connector: "
        "the station authorizes it with the central system and starts a transaction (or stops the one that card "
        "started). Answers the state and the outcome (started, stopped, waiting, refused and why).",
        _schema({"idTag": _ID_TAG, "connector": _CONNECTOR, "station": _STATION}, "idTag"),
        _swipe,
    ),
    Tool(
        "set_fault",
        "Make a connector report a fault (StatusNotification Faulted with this errorCode) until clear_fault.",
        _schema(
            {
                "connector": _CONNECTOR,
                "errorCode": {"enum": _FAULTS, "description": "the OCPP 1.6 ChargePointErrorCode"},
                "info": {"type": "string", "maxLength": 50, "description": "free text for the central system"},
                "station": _STATION,
            },
            "connector",
            "errorCode",
        ),
        _connector_action("fault", "errorCode", "info"),
    ),
    Tool(
        "clear_fault",
        "End a connector's fault: it reports its status again (Available, or Preparing with a cable in).",
        _schema({"connector": _CONNECTOR, "station": _STATION}, "connector"),
        _connector_action("clear-fault"),
    ),
    Tool(
        "list_csms_stations",
        "List the stations the central system (--csms) knows: connected or not, OCPP version, security profile, "
        "vendor and model, and each connector's status and running transaction (id, idTag, meter).",
        _schema({"q": _QUERY}),
        _csms_stations,
        read_only=True,
    ),
    Tool(
        "get_csms_station",
        "Read one station as the central system sees it, with the last 50 OCPP frames in and out.",
        _schema({"chargePointId": {"type": "string", "minLength": 1, "maxLength": 48}}, "chargePointId"),
        _csms_station,
        read_only=True,
    ),
    Tool(
        "send_csms_call",
        "Have the central system (--csms) send an OCPP CALL to a connected station and answer what the station "
        'answered: {"result": "CALLRESULT", "payload": ...} or {"result": "CALLERROR", "errorCode", '
        '"errorDescription"}. The action is one a central system sends, in the station\'s OCPP version '
        "(RemoteStartTransaction, ChangeConfiguration, GetConfiguration, TriggerMessage, Reset, UnlockConnector, "
        "...); the payload its request, camelCase as on the wire (omit it for the action's template, OCPP 1.6).",
        _schema(
            {
                "chargePointId": {"type": "string", "minLength": 1, "maxLength": 48},
                "action": {"type": "string", "pattern": "^[A-Za-z0-9]{1,64}$"},
                "payload": {"type": "object", "description": _PAYLOAD},
            },
            "chargePointId",
            "action",
        ),
        _send_call,
    ),
    Tool(
        "get_fleet_figures",
        "Read a fleet's figures: stations, connected, booted, messages sent and per second, round-trip p50/p99 "
        "(ms), errors, reconnects, sessions started and ended.",
        _schema({}),
        _fleet_figures,
        read_only=True,
    ),
    Tool(
        "list_fleet_stations",
        "List a fleet's stations (id, connected, registration, connectors); each id is the station argument of the "
        "station tools.",
        _schema({"q": _QUERY, "limit": {"type": "integer", "minimum": 1, "maximum": 1000}}),
        _fleet_stations,
        read_only=True,
    ),
    Tool(
        "read_metrics",
        "Read the Prometheus metrics of the station, the fleet or the central system (GET /metrics), or learn that "
        "it serves none.",
        _schema({"of": {"enum": ["station", "fleet", "csms"]}}, "of"),
        _metrics,
        read_only=True,
    ),
    Tool(
        "start_fleet",
        f"Start a fleet of simulated stations (ids idPrefix1..idPrefixN, at most {MAX_AGENT_FLEET}) connecting to "
        "a central system's OCPP endpoint (csmsUrl, ws://...; the central system's charge point URL, not its "
        "control API). With auto, EVs arrive, charge and leave by themselves. The fleet tools and the station tools "
        "(with station) then drive it; it runs until stop_fleet or until this server ends.",
        _schema(
            {
                "csmsUrl": {"type": "string", "pattern": "^wss?://", "maxLength": 512},
                "count": {"type": "integer", "minimum": 1, "maximum": MAX_AGENT_FLEET},
                "auto": {"type": "boolean", "default": False},
                "idPrefix": {"type": "string", "minLength": 1, "maxLength": 40, "pattern": "^[!-9;-~]+$"},
                "connectors": _CONNECTOR | {"description": "per station (default 1)"},
            },
            "csmsUrl",
            "count",
        ),
        _start_fleet,
    ),
    Tool(
        "stop_fleet",
        "Stop the fleet start_fleet started (its stations end their transactions cleanly).",
        _schema({}),
        _stop_fleet,
    ),
)
_BY_NAME: Final = {tool.name: tool for tool in TOOLS}
_VALIDATORS: Final = {tool.name: Draft202012Validator(tool.schema) for tool in TOOLS}


async def call(targets: Targets, name: str, arguments: Mapping[str, Any] | None) -> object:
    """Run the tool ``name``: its answer (JSON-shaped, or text). Raises ToolFailure for an unknown tool, arguments
    its schema refuses, or a request that failed."""
    tool = _BY_NAME.get(name)
    if tool is None:
        raise ToolFailure(f"no tool {name[:64]!r}")
    arguments = arguments or {}
    errors = sorted(_VALIDATORS[name].iter_errors(arguments), key=lambda error: list(error.path))
    if errors:
        where = "/".join(str(part) for part in errors[0].path) or "arguments"
        raise ToolFailure(f"{name}: {where}: {errors[0].message[:200]}")
    return await tool.run(targets, arguments)


def text_of(answer: object) -> str:
    return answer if isinstance(answer, str) else json.dumps(answer)
