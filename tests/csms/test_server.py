"""The built-in central system keeps a bounded record of what it was sent, and serves only ids within the id rule."""

from __future__ import annotations

import asyncio
import base64
import hmac
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from chargebox.csms.server import DEFAULT_MAX_EVENTS, CentralSystem, CsmsEvent, CsmsPolicy
from chargebox.transport import SUBPROTOCOL


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


# -- the charge point id in the path (protocol/identity.py) ----------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/CP%0A2026-01-01%20INFO%20forged%20line",  # a newline: a forged log line
        "/CP%0D1", "/CP%001", "/CP%1B%5B31m",  # carriage return, NUL, a terminal escape
        "/%C3%84CP", "/%FF",  # not ASCII, not UTF-8
        "/CP%3A1",  # a colon: not a Basic-auth user name (T-6)
        "/" + "x" * 49, "/", "/ocpp/",  # too long, empty
        "/CP-1?x=1", "/ocpp/CP-1?tenant=1",  # a query (T-2: nothing else is appended)
    ],
)  # fmt: skip
async def test_T_2_G_1_a_charge_point_id_outside_the_id_rule_is_refused_and_logged_escaped(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    csms = CentralSystem()
    port = await csms.start()
    try:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"ws://127.0.0.1:{port}{path}", subprotocols=[Subprotocol(SUBPROTOCOL)]):
                pass
        assert refused.value.response.status_code == 400
        assert csms.sessions == {}
    finally:
        await csms.stop()
    (record,) = [r for r in caplog.records if r.name == "chargebox.csms" and "refused" in r.getMessage()]
    message = record.getMessage()
    assert message.isprintable() and "\x1b" not in message  # escaped: one line, no terminal control


@pytest.mark.parametrize(
    ("path", "charge_point_id"),
    [("/RDAM%20123", "RDAM 123"), ("/" + "x" * 48, "x" * 48), ("/CP-1%2F2", "CP-1/2"),
     ("/ocpp/CP-1", "CP-1"), ("/steve/websocket/CentralSystemService/CP-1", "CP-1"),  # under an endpoint's path
     ("/%3Cb%3Ecp%3C%2Fb%3E", "<b>cp</b>")],  # printable ASCII: the pages show it as text, never as markup
)  # fmt: skip
async def test_T_2_a_percent_encoded_id_within_the_rule_connects(path: str, charge_point_id: str) -> None:
    csms = CentralSystem()
    port = await csms.start()
    opened: list[str] = []
    csms.session_listeners.append(lambda session: opened.append(session.charge_point_id))
    try:
        async with connect(f"ws://127.0.0.1:{port}{path}", subprotocols=[Subprotocol(SUBPROTOCOL)]) as ws:
            await ws.send('[2, "1", "Heartbeat", {}]')
            assert '"currentTime"' in str(await asyncio.wait_for(ws.recv(), 5))
        assert opened == [charge_point_id]
    finally:
        await csms.stop()


# -- T-6: Basic auth --------------------------------------------------------------------------------------------

KEY = "0123456789abcdef-key"


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        ("Basic " + base64.b64encode(f"CP-1:{KEY}".encode()).decode(), None),
        ("Basic " + base64.b64encode(f"CP-1:{KEY[:-1]}X".encode()).decode(), 401),  # one character off
        ("Basic " + base64.b64encode(f"CP-2:{KEY}".encode()).decode(), 401),  # another id's user name
        ("Basic é", 401),  # not ASCII: refused, not a crash
        ("", 401),
    ],
)
async def test_T_6_basic_credentials_are_compared_in_constant_time(
    authorization: str, status: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The password check goes through ``hmac.compare_digest`` (no timing hint of how much of it matched)."""
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr("chargebox.csms.server.hmac.compare_digest", spy)
    csms = CentralSystem(CsmsPolicy(password=KEY))
    port = await csms.start()
    headers = {"Authorization": authorization} if authorization else {}
    try:
        if status is None:
            async with connect(
                f"ws://127.0.0.1:{port}/CP-1", subprotocols=[Subprotocol(SUBPROTOCOL)], additional_headers=headers
            ):
                pass
        else:
            with pytest.raises(InvalidStatus) as refused:
                async with connect(
                    f"ws://127.0.0.1:{port}/CP-1", subprotocols=[Subprotocol(SUBPROTOCOL)], additional_headers=headers
                ):
                    pass
            assert refused.value.response.status_code == status
    finally:
        await csms.stop()
    assert len(compared) == 1
