"""Slow clients against a real ``chargebox simulate --control`` process whose descriptors are few, as on a small
controller: hundreds of half-sent HTTP requests (slowloris) take at most ``Limits.connections`` of them, so the
station's link to its central system still reconnects and answers (docs/reliability.md, "Control plane")."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
from pathlib import Path

from chargebox.csms.server import CentralSystem, CsmsPolicy, Session
from chargebox.protocol import messages as m
from chargebox.web import Limits
from tests.loopback import CLI, free_port, until
from tests.test_cli import next_event

FD_LIMIT = 128  # the station's descriptors: its own ~12, then the control API's share, with room to reconnect
HALF_OPEN = 300  # well over both the limit and the cap
WAIT = 10.0


def few_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), WAIT) == b""
    except ConnectionResetError:
        return True


async def test_slowloris_leaves_the_station_its_link_to_the_central_system(tmp_path: Path) -> None:
    system = CentralSystem(CsmsPolicy(heartbeat_interval=600))
    port = await system.start("127.0.0.1", 0)
    control = free_port()
    sessions: list[Session] = []
    system.session_listeners.append(sessions.append)
    proc = await asyncio.create_subprocess_exec(
        *CLI, "simulate", "--csms", f"ws://127.0.0.1:{port}", "--id", "SIM-1", "--data-dir", str(tmp_path),
        "--control", f"127.0.0.1:{control}",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, preexec_fn=few_descriptors,
    )  # fmt: skip
    held: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        await next_event(system, m.Action.BOOT_NOTIFICATION)
        for _ in range(HALF_OPEN):
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", control), WAIT)
            writer.write(b"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the end of the head
            held.append((reader, writer))
        refused = 0
        for reader, _writer in held[Limits().connections :]:
            refused += await closed_by_server(reader)
        assert refused == HALF_OPEN - Limits().connections  # every one over the cap, closed as it came
        assert descriptors(proc.pid) <= FD_LIMIT - 32  # room left for the central system's link and its store

        await system.disconnect("SIM-1")  # the link must be opened again: a new socket
        await until(lambda: len(sessions) >= 2, timeout=WAIT)
        await until(lambda: "SIM-1" in system.sessions, timeout=WAIT)
        answer = await system.call("SIM-1", m.GetConfigurationRequest(key=["HeartbeatInterval"]), timeout=WAIT)
        assert answer.response.configuration_key[0].value == "600"  # type: ignore[union-attr]
    finally:
        for _reader, writer in held:
            writer.close()
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        await proc.wait()
        await system.stop()
