"""Serving an aiohttp app on HOST:PORT, for the control APIs of ``simulate``, ``csms`` (and a fleet)."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from chargebox.errors import UserError

SHUTDOWN_TIMEOUT: Final = 2.0  # seconds a request still running when the server stops may take to finish


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
