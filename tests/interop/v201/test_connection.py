"""Reconnecting (Part 4 5.3) against the ``ocpp`` library's 2.0.1 central system: Part 6's TC_B_57, on the real
clock, so its back-off is one second. The statuses after an outage shorter or longer than OfflineThreshold (TC_B_51,
TC_B_52) depend on how long it lasted: tests/station/v201/test_evses.py moves a virtual clock instead of waiting.
"""

from __future__ import annotations

import asyncio

from tests.interop.conftest import OcppCsms
from tests.interop.v201.conftest import StationRunner201, csms201, entry, wait_booted
from tests.loopback import until

EPSILON = 0.05


def back_off(wait: int, repeat: int = 2) -> list[dict[str, object]]:
    return [
        entry("OCPPCommCtrlr", "RetryBackOffWaitMinimum", str(wait)),
        entry("OCPPCommCtrlr", "RetryBackOffRandomRange", "0"),
        entry("OCPPCommCtrlr", "RetryBackOffRepeatTimes", str(repeat)),
    ]


async def test_TC_B_57_CS_reconnects_after_WaitMinimum_then_doubles_the_wait(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    station = station_factory(ocpp_config=back_off(1))
    await wait_booted(csms, evses=2)
    closed_at = asyncio.get_running_loop().time()
    await csms.sessions[-1].ws.close()  # step 1
    session = await csms.wait_session(2)
    assert session.opened_at - closed_at >= 1 - EPSILON  # step 2: RetryBackOffWaitMinimum
    assert csms.frames.calls("BootNotification", start=1) == []  # Part 4 5.3: a reconnect, not a boot
    port = csms.port
    await csms.stop()  # step 4, and step 6: the next attempt is not accepted
    closed_at = asyncio.get_running_loop().time()
    attempts = station.transport.attempts
    await until(lambda: station.transport.attempts > attempts)
    again = csms201()
    await again.start(port)
    try:
        session = await again.wait_session(timeout=5)
        assert session.opened_at - closed_at >= 1 + 2 - EPSILON  # step 7: the wait doubled
    finally:
        await again.stop()
