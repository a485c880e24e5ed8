"""Join a station and the built-in central system in memory, under a virtual clock.

h11's ConnectionPair idea: no sockets, real frames, every frame recorded, so service tests run
hours of protocol time in milliseconds and can look at exactly what crossed the wire.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chargebox.clock import VirtualClock
from chargebox.csms.server import CentralSystem, CsmsPolicy
from chargebox.rpc import Rpc
from chargebox.sim.simulator import simulated_station
from chargebox.station.station import Station, StationSettings
from chargebox.store import Store


class Wire:
    """A station and a central system, linked while ``connected``; ``frames`` holds (dir, frame)."""

    def __init__(self, station: Station, csms: CentralSystem, clock: VirtualClock) -> None:
        self.station = station
        self.csms = csms
        self.clock = clock
        self.frames: list[tuple[str, list[Any]]] = []
        self._csms_rpc: Rpc | None = None
        self._pumps: list[asyncio.Task[None]] = []
        self._held: list[bytes] = []
        self._hold_action: str | None = None

    async def connect(self) -> None:
        to_csms: asyncio.Queue[bytes] = asyncio.Queue()
        to_station: asyncio.Queue[bytes] = asyncio.Queue()

        async def station_send(data: bytes) -> None:
            self.frames.append((">", json.loads(data)))
            to_csms.put_nowait(data)

        async def csms_send(data: bytes) -> None:
            self.frames.append(("<", json.loads(data)))
            if self._held or self._answers(self._hold_action, json.loads(data)):
                self._held.append(data)
            else:
                to_station.put_nowait(data)

        self._csms_rpc = self.csms.open_session(self.station.id, csms_send, self.station.rpc.dialect)
        self.station.rpc.attach(station_send)
        self._pumps = [
            asyncio.ensure_future(_pump(to_csms, self._csms_rpc)),
            asyncio.ensure_future(_pump(to_station, self.station.rpc)),
        ]
        await self.station._on_open()
        await self.clock.advance(0)

    async def disconnect(self) -> None:
        for pump in self._pumps:
            pump.cancel()
        self.station.rpc.detach()
        self.station._on_close()
        if self._csms_rpc is not None:
            self.csms.close_session(self.station.id, self._csms_rpc)
        await self.clock.advance(0)

    def hold_answer_to(self, action: str) -> None:
        """Keep the central system's answer to the station's next ``action`` CALL, and every frame
        after it, from the station until ``release``."""
        self._hold_action = action

    def holding(self) -> bool:
        return bool(self._held)

    async def release(self) -> None:
        """Hand the held frames to the station back to back, as one TCP read would: nothing else
        of the station runs between two of them (the next frame one millisecond after an answer)."""
        held, self._held, self._hold_action = self._held, [], None
        for data in held:
            await self.station.rpc.receive(data)

    def _answers(self, action: str | None, frame: list[Any]) -> bool:
        if action is None or frame[0] != 3:
            return False
        return any(d == ">" and f[0] == 2 and f[1] == frame[1] and f[2] == action for d, f in self.frames)

    async def inject(self, frame: str) -> list[Any]:
        """Send a raw frame from the central system's side; returns the station's answer, if any."""
        before = len(self.frames)
        self.frames.append(("<", _loads(frame)))
        await self.station.rpc.receive(frame)
        await self.clock.advance(0)
        answers = [f for d, f in self.frames[before + 1 :] if d == ">" and f and f[0] in (3, 4)]
        return answers[0] if answers else []

    async def until(self, done: Callable[[], bool], timeout: float = 10.0) -> None:
        """Let the loop run, and real time pass for the store's writer thread, until ``done()``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not done():
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("the station did not get there")
            await self.clock.advance(0)
            await asyncio.sleep(0.005)

    def calls(self, action: str) -> list[dict[str, Any]]:
        """Payloads of the CALLs the station sent with this action, in order."""
        return [f[3] for d, f in self.frames if d == ">" and f[0] == 2 and f[2] == action]

    def sent_actions(self) -> list[str]:
        return [f[2] for d, f in self.frames if d == ">" and f[0] == 2]

    async def stop(self) -> None:
        for pump in self._pumps:
            pump.cancel()
        self.station.rpc.reset()


async def _pump(queue: asyncio.Queue[bytes], rpc: Rpc) -> None:
    while True:
        await rpc.receive(await queue.get())


def _loads(frame: str) -> Any:
    try:
        return json.loads(frame)
    except ValueError:
        return frame


def make_station(clock: VirtualClock, store: Store | None = None, **settings: Any) -> Station:
    settings.setdefault("charge_point_id", "CP-1")
    settings.setdefault("csms_url", "ws://127.0.0.1:1")
    return simulated_station(StationSettings(**settings), clock=clock, store=store or Store.open(None))


async def power_cut_and_restart(wire: Wire, data_dir: Path) -> Wire:
    """The power goes (nothing more is written), then the station starts again on the same data dir,
    ends what the cut interrupted (X-12) and reconnects to the same central system."""
    await wire.stop()
    wire.station.reset_all()
    wire.station.store.close()
    again = make_station(wire.clock, store=Store.open(data_dir))
    await again.transactions.recover()
    rewire = Wire(again, wire.csms, wire.clock)
    await rewire.connect()
    return rewire


def make_csms(clock: VirtualClock, **policy: Any) -> CentralSystem:
    return CentralSystem(CsmsPolicy(**policy), clock=clock)


def statuses(wire: Wire, connector_id: int) -> list[str]:
    """The statuses the station reported for one connector, in order."""
    return [p["status"] for p in wire.calls("StatusNotification") if p["connectorId"] == connector_id]
