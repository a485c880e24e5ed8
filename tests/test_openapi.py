"""The OpenAPI documents of the control APIs (openapi.py) hold to the routes the apps serve, both ways: a route
without a description fails the document, every documented operation is one the router serves, the document is
valid OpenAPI 3.1 (``openapi-spec-validator``), and what the server really answers validates against the schema it
documents (``jsonschema``). The guard (web.py) holds on every documented operation, as the document says it does."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from openapi_spec_validator import validate

from chargebox.csms import control as csms_control
from chargebox.csms.server import CentralSystem
from chargebox.openapi import UndocumentedRoute, add_openapi, document, operation, routes
from chargebox.sim.control import make_app
from chargebox.sim.fleet import Fleet, FleetSettings
from chargebox.sim.fleet_control import make_fleet_app, make_processes_app
from chargebox.sim.fleet_processes import FleetProcesses
from chargebox.sim.simulator import Simulator, simulated_station
from chargebox.station.station import StationSettings
from chargebox.web import control_app, serve
from tests.csms.test_control import Csms, csms, station

__all__ = ["csms", "station"]  # the fixtures, imported

TOKEN = "openapi-test-token-0123456789"
SAMPLE = "x"  # what a path parameter is given when a test calls every operation


def apps(tmp_path: Path) -> dict[str, Callable[[], web.Application]]:
    """Every control API, made as its command makes it (the stations need not run: the document and the guard come
    before any handler)."""
    settings = StationSettings(charge_point_id="CP-1", csms_url="ws://127.0.0.1:1", data_dir=tmp_path / "cp")
    return {
        "csms": lambda: csms_control.make_app(CentralSystem(), files=tmp_path),
        "simulate": lambda: make_app(Simulator(simulated_station(settings))),
        "fleet": lambda: make_fleet_app(Fleet(FleetSettings(csms_url="ws://127.0.0.1:1", count=1))),
        "fleet --processes": lambda: make_processes_app(
            FleetProcesses(FleetSettings(csms_url="ws://127.0.0.1:1", count=2), 2, control=True)
        ),
    }


APPS = ["csms", "simulate", "fleet", "fleet --processes"]


def test_fleet_processes_describe_the_routes_of_one_process(tmp_path: Path) -> None:
    """fleet --processes passes a station's requests on to its process: the command's document has the same
    operations as one process's, so one client speaks to both."""
    made = apps(tmp_path)
    one, many = (
        document(made["fleet"](), title="t", version="1")["paths"],
        document(made["fleet --processes"](), title="t", version="1")["paths"],
    )
    assert {path: set(methods) for path, methods in many.items()} == {
        path: set(methods) for path, methods in one.items()
    }


def served_document(app: web.Application) -> dict[str, Any]:
    return document(app, title="t", version="0")


@pytest.mark.parametrize("name", APPS)
async def test_every_route_is_documented_and_every_documented_operation_is_routed(name: str, tmp_path: Path) -> None:
    app = apps(tmp_path)[name]()
    doc = served_document(app)
    validate(doc)  # OpenAPI 3.1, its JSON Schemas included
    documented = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    routed = {(method, path) for method, path, _route in routes(app)}
    assert documented == routed
    for method, path in documented:
        match = await app.router.resolve(make_mocked_request(method, _concrete(path), app=app))
        assert match.http_exception is None, (method, path)


async def test_a_route_without_a_description_fails_the_document() -> None:
    app = control_app()

    @operation("described")
    async def described(_request: web.Request) -> web.Response:
        return web.json_response({})

    async def bare(_request: web.Request) -> web.Response:
        return web.json_response({})

    app.router.add_get("/api/described", described)
    app.router.add_post("/api/bare", bare)
    with pytest.raises(UndocumentedRoute, match="POST /api/bare"):
        document(app, title="t", version="0")


async def test_the_document_is_served_and_generated_from_the_live_router() -> None:
    app = control_app()
    add_openapi(app, title="example")

    @operation("added after add_openapi")
    async def later(_request: web.Request) -> web.Response:
        return web.json_response({})

    app.router.add_get("/api/later", later)
    runner, port = await serve(app, "127.0.0.1", 0, "--control")
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/api/openapi.json") as response:
            served = await response.json()
    finally:
        await runner.cleanup()
    assert set(served["paths"]) == {"/api/openapi.json", "/api/later"}
    assert served["info"]["title"] == "example"


# -- the csms API: its real answers against its own document ------------------------------------------------------


@dataclass
class Checked:
    doc: dict[str, Any]
    csms: Csms

    def check(self, method: str, path: str, status: int, body: Any) -> None:
        """``body`` validates against what the document says ``method path`` answers with ``status``."""
        answer = self.doc["paths"][path][method.lower()]["responses"][str(status)]
        schema = answer["content"]["application/json"]["schema"]
        jsonschema.Draft202012Validator({**schema, "components": self.doc["components"]}).validate(body)

    async def request(self, method: str, path: str, template: str, status: int, **kwargs: Any) -> Any:
        async with self.csms.http.request(method, self.csms.base + path, **kwargs) as response:
            assert response.status == status, await response.text()
            body = await response.json()
        self.check(method, template, status, body)
        return body


@pytest.fixture
async def checked(csms: Csms) -> AsyncIterator[Checked]:
    async with csms.http.get(f"{csms.base}/api/openapi.json") as response:
        doc = await response.json()
    yield Checked(doc, csms)


async def test_what_the_csms_answers_validates_against_its_document(checked: Checked, station: object) -> None:
    await checked.request("GET", "/api/stations", "/api/stations", 200)
    await checked.request("GET", "/api/stations?q=CP", "/api/stations", 200)
    detail = await checked.request("GET", "/api/stations/CP-1", "/api/stations/{id}", 200)
    assert detail["frames"]
    await checked.request("GET", "/api/stations/NOBODY", "/api/stations/{id}", 404)
    await checked.request("GET", "/api/stations/CP-1/certificate", "/api/stations/{id}/certificate", 404)
    await checked.request("GET", "/api/templates", "/api/templates", 200)
    await checked.request("GET", "/api/templates?ocpp=2.0.1", "/api/templates", 200)
    await checked.request("GET", "/api/templates?ocpp=2.1", "/api/templates", 400)
    await checked.request("GET", "/api/files", "/api/files", 200)
    await checked.request("GET", "/api/uploads", "/api/uploads", 200)
    call = "/api/stations/{id}/call"
    answer = await checked.request("POST", "/api/stations/CP-1/call", call, 200, json={"action": "GetConfiguration"})
    assert answer["result"] == "CALLRESULT"  # no payload: the template's
    await checked.request("POST", "/api/stations/CP-1/call", call, 400, json={"action": "Frobnicate"})
    await checked.request("POST", "/api/stations/NOBODY/call", call, 404, json={"action": "ClearCache"})
    uploaded = await checked.request("PUT", "/uploads/d.zip", "/uploads/{name}", 201, data=b"zip")
    assert uploaded == {"name": "d.zip"}


@pytest.mark.parametrize("name", APPS)
async def test_the_guard_holds_on_every_documented_operation_as_documented(name: str, tmp_path: Path) -> None:
    """Served with a token: each operation not declared public is 401 without it, each is 403 under a foreign
    Host unless public, and each that changes anything (but an upload) is 415 without JSON."""
    app = apps(tmp_path)[name]()
    runner, port = await serve(app, "127.0.0.1", 0, "--control", token=TOKEN)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/api/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                doc = await r.json()
            checked = 0
            for path, item in doc["paths"].items():
                for method, entry in item.items():
                    url = base + _concrete(path)
                    documented = set(entry["responses"])
                    public = entry.get("security") == [{}]
                    if not public:
                        async with http.request(method, url, headers={"Content-Type": "application/json"}) as r:
                            assert (r.status, "401") == (401, "401" if "401" in documented else "undocumented")
                        async with http.request(method, url, headers={"Host": "evil.example", **_json()}) as r:
                            assert r.status == 403 and "403" in documented, (method, path)
                    if method != "get" and "415" in documented:
                        auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/plain"}
                        async with http.request(method, url, data="{}", headers=auth) as r:
                            assert r.status == 415, (method, path)
                    checked += 1
    finally:
        await runner.cleanup()
    assert checked == sum(len(item) for item in doc["paths"].values()) >= 7


def _concrete(path: str) -> str:
    return "/".join(SAMPLE if part.startswith("{") else part for part in path.split("/"))


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize("name", APPS)
async def test_operation_ids_are_unique(name: str, tmp_path: Path) -> None:
    doc = served_document(apps(tmp_path)[name]())
    ids = [entry["operationId"] for item in doc["paths"].values() for entry in item.values()]
    assert len(ids) == len(set(ids))
    assert json.dumps(doc)  # plain JSON, as served
