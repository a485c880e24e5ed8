"""``start_fleet``: a ``chargebox fleet`` of the agent's own, as a child process with its control API on loopback.

The child is the ordinary command (``python -m chargebox.cli fleet ... --control 127.0.0.1:0``), so it is the same
fleet an operator runs; the port it took is read from its start-up line. Its token, when the server has one, goes
through the environment (``CHARGEBOX_CONTROL_TOKEN``), never its command line (``ps`` shows that to every user).
A child that fails to start is a ``ToolFailure`` with its own one-line error; one that runs is stopped with
SIGTERM (it ends its stations' transactions cleanly), and killed if it has not ended ``STOP_SECONDS`` later.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Final

from chargebox.agent.control import ToolFailure
from chargebox.tasks import Tasks

log = logging.getLogger("chargebox.agent")

START_SECONDS: Final = 30.0
STOP_SECONDS: Final = 10.0
_LISTENING: Final = re.compile(r"fleet dashboard on (http://\S+/) ")
_ERROR_LINES: Final = 5  # of the child's log, said in a ToolFailure when it ends before it listens


@dataclass(frozen=True, slots=True)
class FleetOrder:
    """What ``start_fleet`` was asked for (validated by its input schema, and by the command itself)."""

    csms_url: str
    count: int
    auto: bool = False
    id_prefix: str = "CP"
    connectors: int | None = None

    def arguments(self) -> list[str]:
        args = ["fleet", "--csms", self.csms_url, "--count", str(self.count), "--id-prefix", self.id_prefix]
        if self.connectors is not None:
            args += ["--connectors", str(self.connectors)]
        if self.auto:
            args.append("--auto")
        return [*args, "--control", "127.0.0.1:0"]


@dataclass(slots=True)
class FleetChild:
    """A running ``chargebox fleet`` and its control API's URL."""

    process: asyncio.subprocess.Process
    url: str
    order: FleetOrder
    _tasks: Tasks = field(default_factory=lambda: Tasks(log, "fleet child"), repr=False)

    async def stop(self) -> int:
        """SIGTERM, then SIGKILL if it has not ended in time; its exit status."""
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), STOP_SECONDS)
            except TimeoutError:
                log.warning("! the fleet (pid %d) did not end in %g s: killed", self.process.pid, STOP_SECONDS)
                self.process.kill()
                await self.process.wait()
        self._tasks.cancel()
        return self.process.returncode if self.process.returncode is not None else -1


async def start_fleet(order: FleetOrder, token: str | None) -> FleetChild:
    """Start the child and wait until its control API listens. Raises ToolFailure with the child's own error."""
    env = dict(os.environ)
    env.pop("CHARGEBOX_CONTROL_TOKEN", None)
    if token is not None:
        env["CHARGEBOX_CONTROL_TOKEN"] = token
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chargebox.cli", *order.arguments(),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    assert process.stderr is not None
    lines: list[str] = []
    try:
        url = await asyncio.wait_for(_listening(process.stderr, lines), START_SECONDS)
    except (TimeoutError, ToolFailure) as exc:
        if process.returncode is None:
            process.kill()
        await process.wait()
        said = " / ".join(lines[-_ERROR_LINES:]) or "no output"
        why = "did not start in time" if isinstance(exc, TimeoutError) else f"ended with status {process.returncode}"
        raise ToolFailure(f"chargebox fleet {why}: {said}") from None
    log.info("= started a fleet of %d stations (pid %d), control API on %s", order.count, process.pid, url)
    child = FleetChild(process, url, order)
    child._tasks.spawn(_drain(process.stderr))
    return child


async def _listening(stream: asyncio.StreamReader, lines: list[str]) -> str:
    while line := (await stream.readline()).decode("utf-8", "replace"):
        lines.append(line.rstrip())
        if found := _LISTENING.search(line):
            return found[1]
    raise ToolFailure("ended")


async def _drain(stream: asyncio.StreamReader) -> None:
    """The child's log, from then on in ours (at DEBUG): a pipe nobody reads would stop the fleet once full."""
    while line := await stream.readline():
        log.debug("fleet: %s", line.decode("utf-8", "replace").rstrip())
