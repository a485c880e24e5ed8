"""The built-in central system keeps a bounded record of what it was sent."""

from __future__ import annotations

import json

import pytest

from chargebox.csms.server import DEFAULT_MAX_EVENTS, CentralSystem, CsmsEvent


async def data_transfers(csms: CentralSystem, count: int) -> list[bytes]:
    """``count`` DataTransfer CALLs from CP-1, told apart by their vendorId; returns the answers."""
    answers: list[bytes] = []

    async def send(data: bytes) -> None:
        answers.append(data)

    rpc = csms.open_session("CP-1", send)
    for n in range(count):
        await rpc.receive(json.dumps([2, f"m{n}", "DataTransfer", {"vendorId": f"v{n}"}]))
    return answers


def drain(csms: CentralSystem) -> list[CsmsEvent]:
    events = []
    while not csms.events.empty():
        events.append(csms.events.get_nowait())
    return events


async def test_events_keep_only_the_last_max_events() -> None:
    csms = CentralSystem(max_events=3)
    answers = await data_transfers(csms, 5)
    assert len(answers) == 5  # every CALL is still answered
    assert [e.request.vendor_id for e in drain(csms)] == ["v2", "v3", "v4"]  # type: ignore[attr-defined]


async def test_events_are_bounded_by_default() -> None:
    csms = CentralSystem()
    await data_transfers(csms, DEFAULT_MAX_EVENTS + 10)
    events = drain(csms)
    assert len(events) == DEFAULT_MAX_EVENTS
    assert events[0].request.vendor_id == "v10"  # type: ignore[attr-defined]


async def test_a_watcher_reading_as_events_come_misses_none() -> None:
    csms = CentralSystem(max_events=1)
    seen: list[str] = []
    csms.on_event = lambda event: seen.append(event.request.vendor_id)  # type: ignore[attr-defined]
    await data_transfers(csms, 4)
    assert seen == ["v0", "v1", "v2", "v3"]


def test_max_events_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        CentralSystem(max_events=0)
