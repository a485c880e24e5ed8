"""What the simulator's tests share: the built-in central system on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from chargebox.csms.server import CentralSystem, CsmsPolicy


@pytest.fixture
async def csms() -> AsyncIterator[tuple[CentralSystem, int]]:
    system = CentralSystem(CsmsPolicy(heartbeat_interval=600), max_events=10)
    port = await system.start("127.0.0.1", 0)
    yield system, port
    await system.stop()
