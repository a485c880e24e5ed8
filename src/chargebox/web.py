"""Serving an aiohttp app on HOST:PORT, for the control APIs of ``simulate``, ``csms`` (and a fleet)."""

from __future__ import annotations

from aiohttp import web

from chargebox.errors import UserError


async def serve(app: web.Application, host: str, port: int, option: str) -> tuple[web.AppRunner, int]:
    """Listen (port 0: any free one); returns the runner to clean up and the port. A port in use is
    the user's error, named by its ``option``."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise UserError(f"{option} {host}:{port}: cannot listen: {exc.strerror or exc}") from exc
    addresses = runner.addresses
    return runner, int(addresses[0][1]) if addresses else port
