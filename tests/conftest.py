from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chargebox.clock import VirtualClock
from tests.loopback import StationLives
from tests.wire import Wire, make_csms, make_station


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
async def wired(clock: VirtualClock) -> AsyncIterator[Callable[..., Wire]]:
    """Build a station and the built-in central system joined in memory: ``wired(connectors=2)``."""
    wires: list[Wire] = []

    def build(csms_policy: dict[str, Any] | None = None, **settings: Any) -> Wire:
        wire = Wire(make_station(clock, **settings), make_csms(clock, **(csms_policy or {})), clock)
        wires.append(wire)
        return wire

    yield build
    for wire in wires:
        await wire.stop()


@pytest.fixture
def lives(tmp_path: Path) -> Iterator[StationLives]:
    """``chargebox simulate`` processes on one data dir, killed with ``await lives.kill(process)``; any still
    running are killed after the test."""
    station = StationLives(tmp_path)
    yield station
    station.close()
