"""What the JSON control APIs (``simulate``, ``fleet`` and ``csms --control``) share: serving an aiohttp app on
HOST:PORT, and holding their requests to what OCPP would let through.

Every answer is JSON; a bad request gets 400 with ``{"error": "..."}`` and changes nothing; a bug is logged with
its traceback and answered 500 without it. A body is UTF-8 JSON (RFC 8259), at most ``MAX_BODY_SIZE`` bytes,
nesting no deeper than a frame may (``codec.MAX_DEPTH``): the requests come from scripts and browsers, and what
they carry reaches a station or a central system.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web

from chargebox.errors import UserError
from chargebox.protocol.codec import MAX_DEPTH, nests_deeper

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT: Final = 2.0  # seconds a request still running when the server stops may take to finish
MAX_BODY_SIZE: Final = 16 * 1024  # every request body is a small JSON object


async def serve(app: web.Application, host: str, port: int, option: str) -> tuple[web.AppRunner, int]:
    """Listen (port 0: any free one); returns the runner to clean up and the port. A port in use is
    the user's error, named by its ``option``."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise UserError(f"{option} {host}:{port}: cannot listen: {exc.strerror or exc}") from exc
    addresses = runner.addresses
    return runner, int(addresses[0][1]) if addresses else port


def api_app() -> web.Application:
    """An app whose every answer is JSON, errors included, and whose bodies are bounded."""
    return web.Application(middlewares=[errors_middleware], client_max_size=MAX_BODY_SIZE)


@web.middleware
async def errors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type != "application/json":
            exc.text = json.dumps({"error": exc.reason})
            exc.content_type = "application/json"
        raise
    except Exception:  # a bug: logged with its traceback, answered without it
        log.exception("control API: %s %s failed", request.method, request.raw_path)  # raw: no decoded newline
        return web.json_response({"error": "internal error, see the log"}, status=500)


def bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


async def json_body(request: web.Request) -> dict[str, Any]:
    """A request's body as one JSON object, held to what a frame may be (UTF-8, bounded depth); 400 else."""
    if not request.can_read_body:
        return {}
    if request.charset is not None and request.charset.lower() not in ("utf-8", "utf8"):
        raise bad_request("body must be JSON in UTF-8")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise bad_request(f"body over {MAX_BODY_SIZE} bytes") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("body must be JSON in UTF-8") from None
    if nests_deeper(text, MAX_DEPTH):
        raise bad_request(f"body nests deeper than {MAX_DEPTH} levels")
    try:
        body = json.loads(text)
    except ValueError:
        raise bad_request("body is not JSON") from None
    if not isinstance(body, dict):
        raise bad_request("body must be a JSON object")
    return body
