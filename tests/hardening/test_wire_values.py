"""Values from the wire: what a central system sends is checked against what the store and the code can hold
before it is used (docs/reliability.md, "Values from the wire").

Each test reproduces one case of issue 16 against a real central system on a loopback WebSocket (the ``ocpp``
library's), or, where time must pass, the built-in one under a virtual clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from chargebox.station.lane import UNDELIVERABLE
from tests.interop.conftest import StationRunner, until
from tests.interop.transactions_csms import TransactionsCsms, boot, serving

BEYOND_INT64 = 2**63  # valid under the schema (integers are unbounded there), beyond SQLite's INTEGER


@pytest.fixture
async def csms() -> AsyncIterator[TransactionsCsms]:
    async with serving() as server:
        yield server


@pytest.fixture
async def station_factory(csms: TransactionsCsms) -> AsyncIterator[StationRunner]:
    runner = StationRunner(csms.url)
    yield runner
    await runner.close()


async def test_Q_4_a_transaction_id_beyond_64_bits_is_a_failed_attempt_then_a_dead_letter(
    csms: TransactionsCsms, station_factory: StationRunner
) -> None:
    """StartTransaction.conf with transactionId 2^63: each such answer is one failed attempt (Q-4), the message
    goes to the dead letters after TransactionMessageAttempts, and what comes behind it is delivered with
    transactionId -1 (X-4). It used to overflow the store: StartTransaction sent again and again, the lane blocked."""
    csms.next_transaction_id = BEYOND_INT64
    config = {"TransactionMessageAttempts": "2", "TransactionMessageRetryInterval": "1"}
    station, sim = await boot(csms, station_factory, ocpp_config=config)
    booted = len(csms.frames.frames)
    await sim.plug(1)
    await sim.swipe("TAG-1", 1)
    await csms.wait_call("StartTransaction", start=booted)
    await sim.swipe("TAG-1", 1)  # the StopTransaction waits behind the StartTransaction
    await until(lambda: station.store.dead_letters.count() == 1)
    await until(lambda: station.lane.pending() == 0)
    starts = csms.frames.calls("StartTransaction", start=booted)
    assert len(starts) == 2  # TransactionMessageAttempts, not a resend storm
    assert starts[1].at - starts[0].at >= 1.0  # TransactionMessageRetryInterval x 1
    (dead,) = station.store.dead_letters.all()
    assert dead.action == "StartTransaction"
    stops = csms.frames.calls("StopTransaction", start=booted)
    assert [f.payload["transactionId"] for f in stops] == [UNDELIVERABLE]
    assert station.connectors[1].transaction_id is None
