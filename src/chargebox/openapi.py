"""OpenAPI documents of the control APIs, made from their routes: ``GET /api/openapi.json``.

Each route is described once, beside its handler, by ``@operation(...)``: a summary, the types of its request and
response bodies, its query parameters and the errors it answers. ``document(app)`` walks the app's router and
writes OpenAPI 3.1 from those descriptions, the JSON Schemas of the bodies coming from their ``msgspec`` types
(``msgspec.json.schema_components``), the same types the handlers build their answers from. So a client generated
from the document (``openapi-generator``, ``openapi-python-client``) speaks the API the server serves:

- a route without a description cannot be documented: ``document`` raises ``UndocumentedRoute``, so the app's
  ``/api/openapi.json`` fails in every test that reads it;
- a description without a route is not in the document, since only the router's routes are read (and the tests
  request each documented path and method to see it served).

What the guard of every control API adds (web.py) is described once here, for every route: 403 for a foreign
``Host`` or another site's request, 401 without the token (off loopback; none for the paths an app declares public),
415 for a request that changes anything without ``Content-Type: application/json`` (but an upload).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Final, TypeVar

import msgspec
from aiohttp import web

from chargebox.web import open_paths

JSON: Final = "application/json"
_ATTRIBUTE: Final = "__chargebox_operation__"
_SAFE: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_GUARD_ERRORS: Final = {
    401: "without the token: this API is served off loopback (Authorization: Bearer TOKEN, or the cookie "
    "/?token=TOKEN sets)",
    403: "a Host that does not name this server, or a request another site's page made",
    415: "a request that changes anything, not Content-Type: application/json",
}
_ERROR_TEXTS: Final = {
    400: "the request is malformed; nothing was changed",
    404: "no such resource",
    409: "the resource is not in a state to do that",
    413: "the body is too large",
    502: "the station's link failed",
    503: "too many at once",
    504: "the station did not answer in time",
}

Handler = TypeVar("Handler", bound=Callable[[web.Request], Awaitable[web.StreamResponse]])


class Error(msgspec.Struct, frozen=True):
    """Every error of every control API."""

    error: str


@dataclass(frozen=True, slots=True)
class Media:
    """A body that is not described by a type: a page, a file, an event stream."""

    media_type: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True, slots=True)
class Parameter:
    """A query or path parameter; ``schema`` is JSON Schema (``{"enum": [...]}``)."""

    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False


@dataclass(frozen=True, slots=True)
class Operation:
    summary: str
    description: str = ""
    body: object = None  # a msgspec-describable type, a Media, or None
    body_required: bool = True
    answers: Mapping[int, object] = field(default_factory=dict)  # status -> type, Media, or None (no body)
    errors: Sequence[int] = ()  # statuses answered with ``Error``
    query: Mapping[str, Parameter] = field(default_factory=dict)
    path: Mapping[str, Parameter] = field(default_factory=dict)
    tag: str | None = None


class UndocumentedRoute(LookupError):
    """A route has no ``@operation``: the document would not say what the server serves."""


def operation(
    summary: str,
    *,
    description: str = "",
    body: object = None,
    body_required: bool = True,
    answers: Mapping[int, object] | None = None,
    errors: Sequence[int] = (),
    query: Mapping[str, Parameter] | None = None,
    path: Mapping[str, Parameter] | None = None,
    tag: str | None = None,
) -> Callable[[Handler], Handler]:
    """Describe the route this handler serves (``answers`` defaults to ``{200: None}``)."""
    described = Operation(
        summary, description, body, body_required, answers or {200: None}, tuple(errors), query or {}, path or {}, tag
    )

    def attach(handler: Handler) -> Handler:
        setattr(handler, _ATTRIBUTE, described)
        return handler

    return attach


def operation_of(route: web.AbstractRoute) -> Operation | None:
    found = getattr(route.handler, _ATTRIBUTE, None)
    return found if isinstance(found, Operation) else None


def routes(app: web.Application) -> list[tuple[str, str, web.AbstractRoute]]:
    """Every (method, path template, route) the app serves; HEAD goes with its GET."""
    found = []
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        found.append((route.method, route.resource.canonical, route))
    return found


def document(app: web.Application, *, title: str, version: str, description: str = "") -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app``. Raises UndocumentedRoute for a route without ``@operation``."""
    public, uploads = open_paths(app)
    described: list[tuple[str, str, Operation]] = []
    for method, path, route in routes(app):
        found = operation_of(route)
        if found is None:
            raise UndocumentedRoute(f"{method} {path} has no @operation")
        described.append((method, path, found))
    types = _types(op for _m, _p, op in described)
    schemas, components = msgspec.json.schema_components(types, ref_template="#/components/schemas/{name}")
    schema_of = dict(zip(types, schemas, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for method, path, op in described:
        upload = method in ("PUT", "POST") and bool(uploads) and path.startswith(uploads)
        open_path = upload or (method == "GET" and path.startswith(public))
        entry: dict[str, Any] = {"summary": op.summary, "operationId": _operation_id(method, path)}
        if op.description:
            entry["description"] = op.description
        if op.tag:
            entry["tags"] = [op.tag]
        parameters = [_parameter(name, "path", p, required=True) for name, p in _path_parameters(path, op).items()]
        parameters += [_parameter(name, "query", p, required=p.required) for name, p in op.query.items()]
        if parameters:
            entry["parameters"] = parameters
        if op.body is not None:
            entry["requestBody"] = {"required": op.body_required, "content": _content(op.body, schema_of)}
        responses: dict[str, Any] = {}
        for status, kind in op.answers.items():
            responses[str(status)] = {"description": _description(status, kind)}
            if kind is not None:
                responses[str(status)]["content"] = _content(kind, schema_of)
        errors = {status: _ERROR_TEXTS.get(status, "refused") for status in op.errors}
        errors[403] = _GUARD_ERRORS[403]
        if not open_path:
            errors[401] = _GUARD_ERRORS[401]
        if method not in _SAFE and not upload:
            errors[415] = _GUARD_ERRORS[415]
        for status, text in sorted(errors.items()):
            responses[str(status)] = {"description": text, "content": _content(Error, schema_of)}
        entry["responses"] = responses
        if open_path:
            entry["security"] = [{}]
        paths.setdefault(path, {})[method.lower()] = entry
    info = {"title": title, "version": version}
    if description:
        info["description"] = description
    return {
        "openapi": "3.1.0",
        "info": info,
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "needed only when the API is served off loopback (--control-token-file)",
                }
            },
        },
        "security": [{}, {"token": []}],
    }


def add_openapi(app: web.Application, *, title: str, description: str = "") -> None:
    """Serve ``document(app)`` at ``GET /api/openapi.json`` (made at each request: routes added later count), its
    version chargebox's own."""
    version = metadata.version("chargebox")

    @operation("this document", answers={200: Media(JSON, "OpenAPI 3.1", {"type": "object"})}, tag="meta")
    async def openapi(_request: web.Request) -> web.Response:
        return web.json_response(document(app, title=title, version=version, description=description))

    app.router.add_get("/api/openapi.json", openapi)


def _types(operations: Any) -> list[Any]:
    found: list[Any] = [Error]
    for op in operations:
        for kind in (op.body, *op.answers.values()):
            if kind is not None and not isinstance(kind, Media) and kind not in found:
                found.append(kind)
    return found


def _content(kind: object, schema_of: Mapping[Any, Any]) -> dict[str, Any]:
    if isinstance(kind, Media):
        return {kind.media_type: {"schema": dict(kind.schema)}}
    return {JSON: {"schema": schema_of[kind]}}


def _description(status: int, kind: object) -> str:
    if isinstance(kind, Media):
        return kind.description
    doc = getattr(kind, "__doc__", None) if isinstance(kind, type) and issubclass(kind, msgspec.Struct) else None
    return (doc or "").strip().splitlines()[0] if doc else ("done" if kind is None else "the answer")


def _path_parameters(path: str, op: Operation) -> dict[str, Parameter]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
    return {name: op.path.get(name, Parameter(name)) for name in names}


def _parameter(name: str, where: str, parameter: Parameter, *, required: bool) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": required,
        "description": parameter.description,
        "schema": dict(parameter.schema),
    }


def _operation_id(method: str, path: str) -> str:
    words = "-".join(part.strip("{}") for part in path.split("/") if part and part != "api").replace(".", "-")
    return method.lower() + "".join(word[:1].upper() + word[1:] for word in words.split("-"))
