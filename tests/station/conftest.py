from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chargebox.sim.simulator import Simulator
from tests.wire import Wire


@pytest.fixture
def station(wired: Callable[..., Wire]) -> Callable[..., Any]:
    """Build, connect and simulate a station: ``wire, sim = await station(csms_policy, **settings)``."""

    async def build(csms: dict[str, Any] | None = None, **settings: Any) -> tuple[Wire, Simulator]:
        wire = wired(csms, **settings)
        await wire.connect()
        return wire, Simulator(wire.station)

    return build
