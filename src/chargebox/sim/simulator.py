"""A simulated charger: a ``Station`` and the hardware around it, driven by tests or the control API.

The simulated hardware reports what a real one would: the cable going in and out, faults, a card
at a reader. Later issues add the meter, contactor and lock behind ``hal.py``.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from chargebox.errors import UserError
from chargebox.protocol.messages import ChargePointErrorCode, ChargePointStatus
from chargebox.sim.control import make_app
from chargebox.station.station import Station


class Simulator:
    def __init__(self, station: Station) -> None:
        self.station = station
        self.log = station.log
        self._runner: web.AppRunner | None = None

    # -- hardware events ----------------------------------------------------------------------

    def plug(self, connector_id: int) -> None:
        self.station.connectors.plugged(connector_id)

    def unplug(self, connector_id: int) -> None:
        self.station.connectors.unplugged(connector_id)

    def fault(self, connector_id: int, error_code: ChargePointErrorCode, info: str | None = None) -> None:
        self.station.connectors.fault(connector_id, error_code, info)

    def clear_fault(self, connector_id: int) -> None:
        self.station.connectors.clear_fault(connector_id)

    def swipe(self, id_tag: str, connector_id: int | None) -> None:
        """A card at a reader. With the station's one reader, the connector waiting for a card
        (plugged, Preparing) is meant, else the first Available one."""
        connectors = self.station.connectors
        if connector_id is None:
            candidates = [c for c in connectors.connectors[1:] if c.plugged and c.status is ChargePointStatus.PREPARING]
            candidates = candidates or [c for c in connectors.connectors[1:] if c.status is ChargePointStatus.AVAILABLE]
            if not candidates:
                self.log.info("= card %s presented, but no connector can use it", id_tag)
                return
            connector_id = candidates[0].id
        self.log.info("= card %s at connector %d", id_tag, connector_id)
        connectors.identified(connector_id)

    # -- running --------------------------------------------------------------------------------

    async def start_control(self, host: str, port: int) -> int:
        self._runner = web.AppRunner(make_app(self), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise UserError(f"cannot listen on {host}:{port} for the control API: {exc.strerror or exc}") from exc
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else port

    async def run(self, *, plugged: Iterable[int] = ()) -> None:
        for connector_id in plugged:
            self.plug(connector_id)
        try:
            await self.station.run()
        finally:
            if self._runner is not None:
                await self._runner.cleanup()

    async def stop(self) -> None:
        await self.station.stop()
