"""SIGKILL loses no 2.0.1 TransactionEvent: a real ``chargebox simulate --ocpp 2.0.1`` process starts a transaction
(TxStartPoint EVConnected, ``--plugged 1``), is killed with SIGKILL while it runs, and its next start on the same data
dir ends it with stoppedReason PowerLoss, seqNo after the last one journaled, before anything newer. The only
duplicate a kill may cause is the event that was in flight, identical."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from chargebox.csms.server import CentralSystem
from chargebox.protocol.v201 import messages as m
from tests.test_cli_v201 import csms, next_call, spawn

__all__ = ["csms"]  # the fixture


async def test_E01_a_transaction_cut_by_SIGKILL_is_ended_with_PowerLoss_at_the_next_start(
    csms: tuple[CentralSystem, int], tmp_path: Path
) -> None:
    system, port = csms
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps([{"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"},
                                 "value": "EVConnected"}]))  # fmt: skip
    data = tmp_path / "data"
    proc = await spawn(port, data, "--ocpp-config", str(seed), "--plugged", "1")
    try:
        started = await next_call(system, "TransactionEvent")
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    assert isinstance(started, m.TransactionEventRequest)
    assert (started.event_type, started.trigger_reason, started.seq_no) == ("Started", "CablePluggedIn", 0)
    again = await spawn(port, data)
    try:
        await next_call(system, "BootNotification")
        ended = await next_call(system, "TransactionEvent")
        if ended.event_type == "Started":  # the kill came before the delete: the message in flight, identical, again
            assert ended == started
            ended = await next_call(system, "TransactionEvent")
    finally:
        again.send_signal(signal.SIGKILL)
        await again.wait()
    assert isinstance(ended, m.TransactionEventRequest)
    assert ended.event_type == "Ended" and ended.seq_no == 1
    assert ended.transaction_info.transaction_id == started.transaction_info.transaction_id
    assert (ended.transaction_info.stopped_reason, ended.trigger_reason) == ("PowerLoss", "AbnormalCondition")
