"""A central system that sends CALLs of an unknown action in a loop (issue 16, item 14; checklist 1.4).

A real ``chargebox simulate`` process (the crash rig of ``tests/crash/conftest.py``, logging to a file as the CLI
does) gets 5,000 of them back to back on loopback. Each is answered NotImplemented; the log grows by a few lines,
not by one warning per frame (before the fix: 5,000 lines here, 158 MiB in 22 s in the report).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.crash.conftest import WAIT, crash_rig

FLOOD = 5_000
STATION = "CRASH-1"


async def test_unknown_actions_in_a_loop_are_each_answered_and_log_a_few_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, record_property: Callable[[str, object], None]
) -> None:
    monkeypatch.setattr(logging.getLogger("chargebox.csms"), "disabled", True)  # its own warning per answer
    async with crash_rig(tmp_path) as rig:
        await rig.spawn()
        session = rig.csms.sessions[STATION]
        answers: list[str] = []
        receive = session.rpc.receive

        async def counting(data: str | bytes) -> None:
            frame = json.loads(data)
            if frame[0] == 4 and frame[2] == "NotImplemented":
                answers.append(frame[1])
            await receive(data)

        session.rpc.receive = counting  # type: ignore[method-assign]
        before = rig.log_path.stat().st_size
        connection = rig.csms.connections[STATION]
        for n in range(FLOOD):
            await connection.send(f'[2,"f{n}","NoSuchAction",{{}}]')
        await rig.wait_until(lambda: len(answers) == FLOOD, f"{FLOOD} NotImplemented answers", timeout=4 * WAIT)
        grown = rig.log_path.stat().st_size - before
        record_property("log_bytes", grown)
        assert answers == [f"f{n}" for n in range(FLOOD)]
        assert grown < 4_096, rig.log_tail(20)  # ten warnings and the note that more are counted
        assert rig.proc is not None and rig.proc.returncode is None
