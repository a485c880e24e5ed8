"""The asyncio Rpc: calls keep their order, and a bad payload fails its own caller only."""

from __future__ import annotations

import asyncio
import logging

import pytest

from chargebox.clock import VirtualClock
from chargebox.errors import LocalProtocolError, RemoteProtocolError
from chargebox.protocol import messages as m
from chargebox.protocol.errors import CallErrorCode
from chargebox.rpc import Rpc, SendOutcome


def wired_rpc(clock: VirtualClock) -> tuple[Rpc, list[bytes]]:
    rpc = Rpc(clock=clock, logger=logging.getLogger("test"))
    sent: list[bytes] = []

    async def send(data: bytes) -> None:
        sent.append(data)

    rpc.attach(send)
    return rpc, sent


async def test_T_20_S_7_submitted_calls_go_out_one_at_a_time_in_order() -> None:
    clock = VirtualClock()
    rpc, sent = wired_rpc(clock)
    first = rpc.submit(m.HeartbeatRequest())
    second = rpc.submit(m.DataTransferRequest(vendor_id="a"))
    await clock.advance(0)
    assert len(sent) == 1 and b"Heartbeat" in sent[0]
    message_id = sent[0].split(b'"')[1].decode()
    await rpc.receive(f'[3,"{message_id}",{{"currentTime":"2026-01-01T00:00:00Z"}}]')
    await clock.advance(0)
    assert (await first).outcome is SendOutcome.RESPONSE_SUCCESS
    assert len(sent) == 2 and b"DataTransfer" in sent[1]
    second.cancel()


async def test_an_invalid_queued_payload_fails_its_caller_and_not_the_queue() -> None:
    clock = VirtualClock()
    rpc, sent = wired_rpc(clock)
    busy = rpc.submit(m.HeartbeatRequest())
    bad = rpc.submit(m.DataTransferRequest(vendor_id="x" * 256))  # CiString255
    good = rpc.submit(m.DataTransferRequest(vendor_id="ok"))
    await clock.advance(0)
    await clock.advance(30)  # the Heartbeat times out (T-22)
    assert (await busy).outcome is SendOutcome.RESPONSE_FAILED
    with pytest.raises(LocalProtocolError):
        await bad
    assert b'"vendorId":"ok"' in sent[-1]
    good.cancel()
    await asyncio.sleep(0)


async def test_SC_4_an_awaited_handler_that_refuses_is_answered_with_its_code_not_InternalError() -> None:
    """A handler may decide only after awaiting something (a lock, the store): a refusal it raises then is the
    same CALLERROR as one raised at once."""
    clock = VirtualClock()
    rpc, sent = wired_rpc(clock)

    async def refuse(request: m.UnlockConnectorRequest) -> m.UnlockConnectorResponse:
        await asyncio.sleep(0)
        raise RemoteProtocolError(CallErrorCode.NOT_SUPPORTED, "a fixed cable")

    rpc.handlers[m.Action.UNLOCK_CONNECTOR] = refuse
    await rpc.receive('[2,"u1","UnlockConnector",{"connectorId":1}]')
    for _ in range(3):
        await asyncio.sleep(0)
    assert sent == [b'[4,"u1","NotSupported","a fixed cable",{}]']
